import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { VIEWS, type ContentType } from '@xray/shared';
import { CaptureError } from '../../capture/capture.errors.ts';
import { checkFile, fileName, type FileHead } from '../../capture/file-check.ts';
import { FileDrop } from '../components/FileDrop.tsx';
import { ConsultationField, FieldError, PatientField, describePatient } from '../components/PatientField.tsx';
import { PatientHold, type HoldDecision } from '../components/PatientHold.tsx';
import {
  applyDecision,
  checkPatient,
  decisionSettles,
  findPatient,
  readableDicomName,
} from '../../capture/patient-check.ts';
import { Preview } from '../components/Preview.tsx';
import { BODY_PARTS, FIELD_LABELS, VIEW_LABELS, fieldKey, formatBytes } from '../format.ts';
import { useDetailsLock, useRoster, useServices } from '../services.ts';

/** A file picked, dropped or found in the detector folder, checked (its head read) and waiting for its details. */
interface PendingFile extends FileHead {
  key: string;
  file: File;
  name: string;
  dicomWarning?: string;
}

interface FormState {
  patientId: string;
  consultationId: string;
  bodyPart: string;
  view: string;
  urgent: boolean;
  notes: string;
}

const EMPTY_FORM: FormState = { patientId: '', consultationId: '', bodyPart: '', view: '', urgent: false, notes: '' };
const TYPE_LABELS: Record<ContentType, string> = {
  'application/dicom': 'DICOM',
  'image/png': 'PNG',
  'image/jpeg': 'JPEG',
};

/**
 * The capture screen: files in, details from the paramedic (DICOM tags fill what they can),
 * one Save per X-ray. Saving encrypts and stores the X-ray on this device; it never needs the
 * network or a sign-in. Messages come from the shared X-ray schema (via the capture service).
 */
export function CaptureScreen({ onSaved }: { onSaved?(): void }) {
  const { core, serverConfig, shell, deviceId, roster: rosterStore, gate } = useServices();
  const rosterState = useRoster(rosterStore);
  const detailsLock = useDetailsLock(gate);
  // Names and birth dates are patient details: shown only while the gate allows.
  const roster = detailsLock ? undefined : rosterState.roster;
  const [decision, setDecision] = useState<HoldDecision>();
  /** The patient of the last save: one tap brings them back for the next image. */
  const [lastPatient, setLastPatient] = useState<{ patientId: string; consultationId: string }>();
  const messages = useRef<HTMLDivElement>(null);
  const [pending, setPending] = useState<PendingFile[]>([]);
  const [rejected, setRejected] = useState<string[]>([]);
  const [form, setForm] = useState<FormState>(EMPTY_FORM);
  const [fromDicom, setFromDicom] = useState<Set<keyof FormState>>(new Set());
  const [errors, setErrors] = useState<Partial<Record<string, string>>>({});
  const [problem, setProblem] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const [saving, setSaving] = useState(false);
  const counter = useRef(0);
  const current = pending[0];

  const addFiles = useCallback(
    async (files: File[]) => {
      const limit = serverConfig.current().maxUploadBytes;
      const accepted: PendingFile[] = [];
      const refused: string[] = [];
      for (const file of files) {
        const check = await checkFile(file, limit, fileName(file));
        if (!check.ok) refused.push(check.problem.message);
        else {
          const { ok: _ok, ...head } = check;
          accepted.push({ key: `f${++counter.current}`, file, name: fileName(file), ...head });
        }
      }
      setRejected(refused);
      setNotice(undefined);
      setProblem(undefined);
      if (accepted.length) setPending((list) => [...list, ...accepted]);
    },
    [serverConfig],
  );
  const onFiles = useCallback((files: File[]) => void addFiles(files), [addFiles]);

  // A new current file: DICOM tags fill the fields that are still empty.
  useEffect(() => {
    const tags = current?.dicom;
    if (!tags) {
      setFromDicom(new Set());
      return;
    }
    setForm((f) => {
      const filled = new Set<keyof FormState>();
      const next = { ...f };
      if (!f.patientId.trim() && tags.patientId) {
        next.patientId = tags.patientId;
        filled.add('patientId');
      }
      if (!f.bodyPart && tags.bodyPartExamined) {
        next.bodyPart = tags.bodyPartExamined.toUpperCase();
        filled.add('bodyPart');
      }
      const view = tags.viewPosition?.toUpperCase();
      if (!f.view && view && VIEWS.some((v) => v === view)) {
        next.view = view;
        filled.add('view');
      }
      setFromDicom(filled);
      return next;
    });
  }, [current?.key, current?.dicom]);

  // A decision is about one file and one chosen patient: either changing asks again.
  useEffect(() => setDecision(undefined), [current?.key]);

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

  async function save(e: FormEvent): Promise<void> {
    e.preventDefault();
    setErrors({});
    setProblem(undefined);
    setNotice(undefined);
    if (!current) {
      setProblem('Choose an X-ray file first.');
      return;
    }
    if (!settled) {
      setProblem('Not saved: decide about the patient first.');
      return;
    }
    setSaving(true);
    try {
      const who = applyDecision(form.patientId, current.dicom?.patientId, decision);
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
        { head: current },
      );
      const { xray } = result.metadata;
      setNotice(
        [
          `Saved ${current.name} (${xray.bodyPart} ${xray.view}) for patient ${xray.patientId}${form.urgent ? ', urgent' : ''}: queued to send.`,
          ...result.warnings.map((w) => w.message),
        ].join(' '),
      );
      setPending((list) => list.filter((p) => p.key !== current.key));
      // Nothing carries over silently: the next file starts empty (its DICOM fills what it can);
      // "Same patient" brings the patient back with one tap.
      setLastPatient({ patientId: xray.patientId, consultationId: xray.consultationId ?? '' });
      setForm(EMPTY_FORM);
      setDecision(undefined);
      onSaved?.();
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
      setSaving(false);
      // The confirmation (or the problem) is shown where the paramedic is looking.
      requestAnimationFrame(() => messages.current?.scrollIntoView({ block: 'nearest' }));
    }
  }

  const check = checkPatient({ chosenId: form.patientId, file: current?.dicom, roster });
  const settled = decisionSettles(check, decision);
  const chosen = check.patient;
  const rosterHint = detailsLock
    ? 'Patient list hidden (device locked or offline too long): type the patient ID.'
    : rosterState.roster
      ? 'Type part of the name or ID, then tap the patient.'
      : 'No patient list on this device yet (it is fetched once signed in online): type the patient ID.';
  const bodyParts: string[] = [...BODY_PARTS];
  if (form.bodyPart && !bodyParts.includes(form.bodyPart)) bodyParts.unshift(form.bodyPart);

  return (
    <section aria-labelledby="capture-title" className="screen capture">
      <h1 id="capture-title">Capture X-ray</h1>
      <div className="capture-grid">
        <div className="capture-files">
          <FileDrop onFiles={onFiles} folder={shell?.watchedFolder} />
          {rejected.length > 0 && (
            <div className="message message-error" role="alert" data-testid="file-problems">
              {rejected.map((m) => (
                <p key={m}>{m}</p>
              ))}
            </div>
          )}
          {current ? (
            <div className="current-file" data-testid="current-file">
              <h2>
                {current.name}{' '}
                <span className="tag">
                  {TYPE_LABELS[current.contentType]} · {formatBytes(current.file.size)}
                </span>
              </h2>
              <div className="current-file-body">
                <Preview key={current.key} file={current.file} contentType={current.contentType} name={current.name} />
                {current.dicom && (
                  <dl className="dicom-tags" aria-label="DICOM header">
                    {current.dicom.patientId && (
                      <>
                        <dt>Patient ID</dt>
                        <dd>{current.dicom.patientId}</dd>
                      </>
                    )}
                    {current.dicom.patientName && (
                      <>
                        <dt>Patient name</dt>
                        <dd>{readableDicomName(current.dicom.patientName)}</dd>
                      </>
                    )}
                    {current.dicom.modality && (
                      <>
                        <dt>Modality</dt>
                        <dd>{current.dicom.modality}</dd>
                      </>
                    )}
                    {current.dicom.studyDate && (
                      <>
                        <dt>Study date</dt>
                        <dd>{current.dicom.studyDate}</dd>
                      </>
                    )}
                    {current.dicom.rows && current.dicom.columns && (
                      <>
                        <dt>Size</dt>
                        <dd>
                          {current.dicom.columns} × {current.dicom.rows}
                        </dd>
                      </>
                    )}
                  </dl>
                )}
              </div>
              {current.dicomWarning && <p className="message message-warning">{current.dicomWarning}</p>}
              {pending.length > 1 && (
                <p className="hint">
                  {pending.length - 1} more file{pending.length > 2 ? 's' : ''} after this one:{' '}
                  {pending
                    .slice(1)
                    .map((p) => p.name)
                    .join(', ')}
                </p>
              )}
              <button
                type="button"
                className="button"
                onClick={() => setPending((list) => list.filter((p) => p.key !== current.key))}
              >
                Discard this file
              </button>
            </div>
          ) : (
            <p className="hint empty">No file chosen yet.</p>
          )}
        </div>

        {/* autocomplete off: Chromium otherwise saves what is typed here (patient, notes) into the
            profile's session-restore files, in clear. */}
        <form
          className="capture-form"
          onSubmit={(e) => void save(e)}
          noValidate
          autoComplete="off"
          aria-label="X-ray details"
        >
          <div className="field-row">
            <PatientField
              value={form.patientId}
              onChange={set('patientId')}
              error={errors.patientId}
              roster={roster}
              rosterHint={rosterHint}
            />
            <ConsultationField
              value={form.consultationId}
              onChange={set('consultationId')}
              error={errors.consultationId}
              roster={roster}
              patientId={chosen ? chosen.id : ''}
            />
          </div>
          {!form.patientId.trim() && lastPatient && (
            <button
              type="button"
              className="button button-wide same-patient"
              onClick={() => {
                setForm((f) => ({ ...f, ...lastPatient }));
                setDecision(undefined);
              }}
            >
              Same patient: {findPatient(roster, lastPatient.patientId)?.name ?? lastPatient.patientId}
            </button>
          )}
          {(chosen || current?.dicom?.patientId || current?.dicom?.patientName) && form.patientId.trim() && (
            <div className="compare" data-testid="patient-compare" aria-label="Chosen patient and the file's patient">
              <div>
                <p className="compare-title">Chosen patient</p>
                <p>
                  <strong>{form.patientId.trim()}</strong>
                  {chosen ? ` · ${describePatient(chosen)}` : ' · not on the patient list'}
                </p>
              </div>
              {current?.dicom && (
                <div>
                  <p className="compare-title">In the file</p>
                  <p>
                    <strong>{current.dicom.patientId ?? 'no ID'}</strong>
                    {current.dicom.patientName ? ` · ${readableDicomName(current.dicom.patientName)}` : ''}
                  </p>
                </div>
              )}
            </div>
          )}
          {fromDicom.has('patientId') && <p className="tag tag-dicom">Patient ID from the DICOM file</p>}
          {check.holds.length > 0 && current && (
            <PatientHold
              check={check}
              chosenId={form.patientId.trim()}
              filePatientId={current.dicom?.patientId}
              decision={decision}
              onUseFile={(id) => {
                setForm((f) => ({ ...f, patientId: id, consultationId: '' }));
                setDecision({ choice: 'use_file_patient' });
              }}
              onDecision={setDecision}
            />
          )}
          <div className="field-row">
            <div className="field">
              <label htmlFor="bodyPart">
                Body part {fromDicom.has('bodyPart') && <span className="tag tag-dicom">from DICOM</span>}
              </label>
              <select
                id="bodyPart"
                value={form.bodyPart}
                onChange={(e) => set('bodyPart')(e.target.value)}
                aria-invalid={errors.bodyPart ? true : undefined}
                aria-describedby="bodyPart-error"
              >
                <option value="">Choose…</option>
                {bodyParts.map((b) => (
                  <option key={b} value={b}>
                    {b}
                  </option>
                ))}
              </select>
              <FieldError id="bodyPart-error" message={errors.bodyPart} />
            </div>
            <div className="field">
              <label htmlFor="view">
                View {fromDicom.has('view') && <span className="tag tag-dicom">from DICOM</span>}
              </label>
              <select
                id="view"
                value={form.view}
                onChange={(e) => set('view')(e.target.value)}
                aria-invalid={errors.view ? true : undefined}
                aria-describedby="view-error"
              >
                <option value="">Choose…</option>
                {VIEWS.map((v) => (
                  <option key={v} value={v}>
                    {VIEW_LABELS[v] ?? v}
                  </option>
                ))}
              </select>
              <FieldError id="view-error" message={errors.view} />
            </div>
          </div>
          <div className="field field-toggle">
            <input
              id="urgent"
              type="checkbox"
              checked={form.urgent}
              onChange={(e) => set('urgent')(e.target.checked)}
            />
            <label htmlFor="urgent">Urgent: send before the others</label>
          </div>
          <div className="field">
            <label htmlFor="notes">
              Notes <span className="optional">(optional)</span>
            </label>
            <textarea
              id="notes"
              autoComplete="off"
              rows={2}
              value={form.notes}
              onChange={(e) => set('notes')(e.target.value)}
              aria-invalid={errors.notes ? true : undefined}
              aria-describedby="notes-error"
            />
            <FieldError id="notes-error" message={errors.notes} />
          </div>
          <div className="save-bar">
            <button
              type="submit"
              className="button button-primary button-wide"
              disabled={saving || (current !== undefined && !settled)}
              aria-describedby={current && !settled ? 'hold-title' : undefined}
            >
              {saving ? 'Saving…' : 'Save X-ray'}
            </button>
          </div>
          <div aria-live="polite" ref={messages} className="capture-messages">
            {problem && (
              <p className="message message-error" data-testid="capture-problem">
                {problem}
              </p>
            )}
            {notice && (
              <p className="message message-ok" data-testid="capture-notice">
                {notice}
              </p>
            )}
          </div>
        </form>
      </div>
    </section>
  );
}
