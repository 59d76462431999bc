import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import type { Roster } from '@xray/shared';
import { CaptureError } from '../../capture/capture.errors.ts';
import { PREFILL_FIELDS, dicomPrefill } from '../../capture/dicom-prefill.ts';
import { applyDecision, checkPatient, decisionSettles, identityOverrideFor } from '../../capture/patient-check.ts';
import { sealAhead, type SealedAhead } from '../../capture/seal-ahead.ts';
import type { HoldDecision } from '../components/PatientHold.tsx';
import { FIELD_LABELS, fieldKey } from '../format.ts';
import { useServices } from '../services.ts';
import type { PendingFile } from './usePendingFiles.ts';

export interface FormState {
  patientId: string;
  consultationId: string;
  bodyPart: string;
  view: string;
  urgent: boolean;
  notes: string;
}

const EMPTY_FORM: FormState = { patientId: '', consultationId: '', bodyPart: '', view: '', urgent: false, notes: '' };

/**
 * The details of the current file and their Save: the fields (the file's DICOM tags fill what is
 * empty, dicom-prefill.ts), the wrong-patient check and the paramedic's decision
 * (patient-check.ts), and the outcome of saving. Saving encrypts and stores the X-ray on this
 * device (the capture service); `onSaved` gets the file once it is stored.
 */
export function useCaptureForm({
  current,
  sealAhead: sealNow,
  roster,
  onSaved,
}: {
  current: PendingFile | undefined;
  /** Start hashing and encrypting the current file now (the screen waits for its preview). */
  sealAhead: boolean;
  /** The roster to check against, undefined when there is none to use (none yet, or locked). */
  roster: Roster | undefined;
  onSaved(file: PendingFile): void;
}) {
  const { core, deviceId, serverConfig } = useServices();
  const [form, setForm] = useState<FormState>(EMPTY_FORM);
  const [fromDicom, setFromDicom] = useState<Set<keyof FormState>>(new Set());
  const [errors, setErrors] = useState<Partial<Record<string, string>>>({});
  const [decision, setDecision] = useState<HoldDecision>();
  /** The patient of the last save: one tap brings them back for the next image. */
  const [lastPatient, setLastPatient] = useState<{ patientId: string; consultationId: string }>();
  const [problem, setProblem] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const [saving, setSaving] = useState(false);
  const messages = useRef<HTMLDivElement>(null);

  // A new current file: its DICOM tags fill the fields that are still empty.
  useEffect(() => {
    const tags = current?.dicom;
    if (!tags) {
      setFromDicom(new Set());
      return;
    }
    setForm((f) => {
      const filled = dicomPrefill(f, tags);
      setFromDicom(new Set(PREFILL_FIELDS.filter((k) => filled[k] !== undefined)));
      return { ...f, ...filled };
    });
  }, [current?.key, current?.dicom]);

  // A decision is about one file and one chosen patient: either changing asks again.
  useEffect(() => setDecision(undefined), [current?.key]);

  // The current file is hashed and encrypted while its details are filled in (seal-ahead.ts):
  // Save then only stores it. One file at a time, dropped when another becomes current.
  const sealed = useRef<SealedAhead>(undefined);
  /** The file a Save is storing: a preview drawn meanwhile starts no second pass over it. */
  const savingKey = useRef<string>(undefined);
  const currentFile = current?.file;
  const currentKey = current?.key;
  useEffect(() => {
    if (!sealNow || !currentFile || currentKey === undefined || savingKey.current === currentKey) return;
    const ahead = sealAhead(currentFile);
    sealed.current = ahead;
    return () => {
      // Discarded, saved or left: unless a capture took it, its reading and sealing stop.
      ahead.drop();
      sealed.current = undefined;
    };
  }, [sealNow, currentKey, currentFile]);

  const set =
    <K extends keyof FormState>(key: K) =>
    (value: FormState[K]): void => {
      if (key === 'patientId') setDecision(undefined);
      setForm((f) => ({ ...f, [key]: value }));
      setErrors((e) => ({ ...e, [key]: undefined }));
      setFromDicom((s) => {
        if (!s.has(key)) return s;
        const next = new Set(s);
        next.delete(key);
        return next;
      });
    };

  const clearMessages = useCallback(() => {
    setNotice(undefined);
    setProblem(undefined);
  }, []);

  /** "Same patient": the last save's patient and consultation, back with one tap. */
  function takeLastPatient(): void {
    if (!lastPatient) return;
    setForm((f) => ({ ...f, ...lastPatient }));
    setDecision(undefined);
  }

  /** The hold's "Use the file's patient": its id replaces the chosen one (and its consultation). */
  function takeFilePatient(id: string): void {
    setForm((f) => ({ ...f, patientId: id, consultationId: '' }));
    setDecision({ choice: 'use_file_patient' });
  }

  // The hospital's assigning authority, as the server last said (/edge-config, kept for offline starts).
  const issuer = serverConfig.current().patientIdIssuer;
  const check = checkPatient({ chosenId: form.patientId, file: current?.dicom, roster, issuer });
  const settled = decisionSettles(check, decision);

  async function save(e: FormEvent): Promise<void> {
    e.preventDefault();
    // A second tap before React has disabled the button (both in one task) stores nothing twice.
    if (savingKey.current !== undefined) return;
    setErrors({});
    clearMessages();
    if (!current) {
      setProblem('Choose an X-ray file first.');
      return;
    }
    if (!settled) {
      setProblem('Not saved: decide about the patient first.');
      return;
    }
    setSaving(true);
    savingKey.current = current.key;
    try {
      // Keeping the chosen patient although the file's identity differs is recorded as an override.
      const who = {
        ...applyDecision(form.patientId, current.dicom?.patientId, decision),
        ...identityOverrideFor(check, decision, new Date().toISOString()),
      };
      const result = await core.capture(
        current.file,
        {
          ...who,
          consultationId: form.consultationId.trim() || undefined,
          bodyPart: form.bodyPart,
          view: form.view,
          priority: form.urgent ? 'urgent' : 'routine',
          notes: form.notes.trim() || undefined,
          deviceId,
        },
        // The head checkFile read when the file came in: not read a second time.
        // Its sealing ahead, if any (capture() uses it only for this very file).
        { head: current, sealed: sealed.current },
      );
      const { xray } = result.metadata;
      setNotice(
        [
          `Saved ${current.name} (${xray.bodyPart} ${xray.view}) for patient ${xray.patientId}${form.urgent ? ', urgent' : ''}: queued to send.`,
          ...result.warnings.map((w) => w.message),
        ].join(' '),
      );
      // Nothing carries over silently: the next file starts empty (its DICOM fills what it can);
      // "Same patient" brings the patient back with one tap.
      setLastPatient({ patientId: xray.patientId, consultationId: xray.consultationId ?? '' });
      setForm(EMPTY_FORM);
      setDecision(undefined);
      onSaved(current);
    } catch (err) {
      if (err instanceof CaptureError && err.code === 'invalid_metadata') {
        const byField: Record<string, string> = {};
        for (const fe of err.fields) {
          const key = fieldKey(fe.field);
          byField[key] ??= `${FIELD_LABELS[key] ?? key} ${fe.message}.`;
        }
        setErrors(byField);
        setProblem(`Not saved: ${Object.values(byField).join(' ')}`);
      } else {
        setProblem(`Not saved: ${err instanceof Error ? err.message : String(err)}`);
      }
    } finally {
      savingKey.current = undefined;
      setSaving(false);
      // The confirmation (or the problem) is shown where the paramedic is looking.
      requestAnimationFrame(() => messages.current?.scrollIntoView({ block: 'nearest' }));
    }
  }

  return {
    form,
    fromDicom,
    errors,
    decision,
    setDecision,
    lastPatient,
    check,
    settled,
    problem,
    notice,
    saving,
    messages,
    set,
    save,
    clearMessages,
    takeLastPatient,
    takeFilePatient,
  };
}

export type CaptureFormModel = ReturnType<typeof useCaptureForm>;
