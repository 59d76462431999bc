import { useEffect, useState, type FormEvent } from 'react';
import { VIEWS } from '@xray/shared';
import type { DetailsLock } from '../../auth/offline.grace.ts';
import { CaptureError } from '../../capture/capture.errors.ts';
import type { CaptureMetadata } from '../../db/edge.records.ts';
import type { CaptureSummary } from '../../edge.core.ts';
import { displayOrder, holdsUplink } from '../../sync/capture.transitions.ts';
import { XRAY_DELETED } from '../../sync/retry.policy.ts';
import {
  applyDecision,
  checkPatient,
  decisionSettles,
  identityOverrideFor,
  keptDecisionCovers,
  overrideDecidedAt,
} from '../../capture/patient-check.ts';
import { FieldError } from '../components/PatientField.tsx';
import { PatientHold, type HoldDecision } from '../components/PatientHold.tsx';
import { SentLink } from '../components/SentLink.tsx';
import {
  BODY_PARTS,
  FIELD_LABELS,
  STATUS_LABELS,
  VIEW_LABELS,
  fieldKey,
  formatBytes,
  formatRetry,
  formatSent,
  formatTime,
} from '../format.ts';
import { useNow, useServices, useShownRoster } from '../services.ts';

/** Decrypted details per capture id, read once each; `forget` re-reads one after a correction. */
function useMetadata(
  captures: CaptureSummary[],
  allowed: boolean,
): [Map<string, CaptureMetadata>, (id: string) => void] {
  const { core } = useServices();
  const [meta, setMeta] = useState(new Map<string, CaptureMetadata>());
  // Locked (device or offline grace): what was decrypted is dropped, nothing more is read.
  useEffect(() => {
    if (!allowed) setMeta((old) => (old.size ? new Map() : old));
  }, [allowed]);
  const wanted = allowed
    ? captures
        .map((c) => c.id)
        .filter((id) => !meta.has(id))
        .join(',')
    : '';
  useEffect(() => {
    if (!wanted) return;
    let cancelled = false;
    void (async () => {
      const found = new Map<string, CaptureMetadata>();
      for (const id of wanted.split(',')) {
        const m = await core.readMetadata(id).catch(() => undefined);
        if (m) found.set(id, m);
      }
      if (!cancelled && found.size) setMeta((old) => new Map([...old, ...found]));
    })();
    return () => {
      cancelled = true;
    };
  }, [wanted, core]);
  const forget = (id: string): void =>
    setMeta((old) => {
      const next = new Map(old);
      next.delete(id);
      return next;
    });
  return [meta, forget];
}

/**
 * The queue: every capture on this device in the order the engine sends them (urgent first, then
 * oldest first; then what needs a person; then synced, newest first), with its state and progress.
 */
export function QueueScreen({
  captures,
  detailsLock,
  onUnlock,
}: {
  captures: CaptureSummary[];
  /** Why patient details are hidden now (device locked, or offline past the grace period). */
  detailsLock?: DetailsLock | undefined;
  onUnlock?: () => void;
}) {
  const now = useNow(1000);
  const [editing, setEditing] = useState<string>();
  const [meta, forget] = useMetadata(captures, detailsLock === undefined);
  const list = [...captures].sort(displayOrder);
  // The engine's own rule (an urgent capture backing off after a server error does not hold the queue).
  const urgentWaiting = captures.some((c) => holdsUplink(c, now));
  const count = (pred: (c: CaptureSummary) => boolean): number => captures.filter(pred).length;
  const waiting = count((c) => c.status !== 'synced');
  return (
    <section aria-labelledby="queue-title" className="screen queue">
      <h1 id="queue-title">Queue</h1>
      <p className="queue-summary" data-testid="queue-summary">
        {captures.length === 0
          ? 'Nothing captured on this device yet.'
          : `${waiting} waiting · ${count((c) => c.status === 'synced')} synced · ${count((c) => c.status === 'needs-attention')} need attention`}
      </p>
      {detailsLock && (
        <div className="message message-warning" role="status" data-testid="details-locked">
          <p>
            {detailsLock === 'device-locked'
              ? 'Patient details are locked: unlock with the shift PIN to see them.'
              : 'Patient details are locked: this device has not reached the server for too long. Sign in to see them.'}{' '}
            Captures keep waiting and are sent after that.
          </p>
          {onUnlock && (
            <button type="button" className="button" onClick={onUnlock}>
              {detailsLock === 'device-locked' ? 'Unlock' : 'Sign in'}
            </button>
          )}
        </div>
      )}
      <ul className="queue-list" aria-label="Captured X-rays">
        {list.map((c) => {
          const m = meta.get(c.id);
          return (
            <li
              key={c.id}
              className={`queue-item status-${c.status}`}
              data-testid="queue-item"
              data-status={c.status}
              data-capture-id={c.id}
            >
              <div className="queue-head">
                <h2 className="queue-title">
                  {m
                    ? `${m.xray.patientId || 'No patient'} · ${m.xray.bodyPart || '?'} ${m.xray.view || ''}`
                    : detailsLock
                      ? 'Patient details locked'
                      : '…'}
                  {c.priority === 'urgent' && <span className="tag tag-urgent">Urgent</span>}
                </h2>
                <p className={`status status-${c.status}`} data-testid="capture-status">
                  {STATUS_LABELS[c.status]}
                  {c.status === 'uploading' && c.progress
                    ? ` ${Math.floor((100 * c.progress.sent) / Math.max(1, c.progress.total))}%`
                    : ''}
                </p>
              </div>
              <p className="queue-meta">
                {m?.fileName ?? 'X-ray'} · {formatBytes(c.plaintextSize)} · captured {formatTime(c.createdAt)}
                {c.syncedAt ? ` · synced ${formatTime(c.syncedAt)}` : ''}
              </p>
              <Progress capture={c} label={m?.fileName ?? 'X-ray'} />
              {c.status === 'synced' && <SentLink capture={c} onFixed={() => forget(c.id)} />}
              {c.progress && c.status !== 'verifying' && c.status !== 'synced' && (
                <p className="queue-sent" data-testid="capture-sent">
                  {formatSent(c.progress)}
                </p>
              )}
              {c.status === 'retrying' && c.nextAttemptAt && (
                <p className="queue-retry" data-testid="capture-retry">
                  {formatRetry({ nextAttemptAt: c.nextAttemptAt, lastError: c.lastError }, now)}
                </p>
              )}
              {c.status === 'queued' && c.lastError && <p className="queue-retry">Waiting: {c.lastError.message}</p>}
              {c.status === 'queued' && !c.lastError && c.priority !== 'urgent' && urgentWaiting && (
                <p className="queue-retry">Waits for the urgent X-ray to be sent first.</p>
              )}
              {c.status === 'needs-attention' && c.lastError?.code === XRAY_DELETED && (
                // Final: the server will never store this id again, so there is nothing to fix or resend.
                <div className="message message-error" data-testid="deleted-on-server">
                  <p>
                    <strong>Deleted on the server:</strong> an administrator deleted this X-ray after it was sent. It
                    will not be sent again.
                  </p>
                </div>
              )}
              {c.status === 'needs-attention' && c.lastError?.code !== XRAY_DELETED && (
                <div className="message message-error" data-testid="needs-attention">
                  <p>
                    <strong>The server did not accept this X-ray:</strong> {c.lastError?.message ?? 'no reason given'}
                  </p>
                  {editing === c.id && m ? (
                    <FixForm
                      id={c.id}
                      metadata={m}
                      onDone={() => {
                        setEditing(undefined);
                        forget(c.id);
                      }}
                    />
                  ) : (
                    <button type="button" className="button" onClick={() => setEditing(c.id)}>
                      Fix and resend
                    </button>
                  )}
                </div>
              )}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function Progress({ capture: c, label }: { capture: CaptureSummary; label: string }) {
  const value =
    c.status === 'synced' || c.status === 'verifying'
      ? 100
      : c.progress
        ? Math.floor((100 * c.progress.sent) / Math.max(1, c.progress.total))
        : 0;
  return (
    <div
      className="progress"
      role="progressbar"
      aria-label={`Upload of ${label}`}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={value}
    >
      <div className={`progress-bar progress-${c.status}`} style={{ width: `${value}%` }} />
    </div>
  );
}

/** Correct what the server refused and queue the capture again (same image, same id). */
function FixForm({ id, metadata, onDone }: { id: string; metadata: CaptureMetadata; onDone(): void }) {
  const { core, serverConfig } = useServices();
  const roster = useShownRoster();
  // The decision the capture carries counts for its own patient; another patient asks again.
  const kept = metadata.xray.patientDecision;
  const [decision, setDecision] = useState<HoldDecision | undefined>(
    kept
      ? {
          choice: kept,
          ...(metadata.xray.patientDecisionReason ? { reason: metadata.xray.patientDecisionReason } : {}),
        }
      : undefined,
  );
  // Whether `decision` is still the one the capture carried (not one made in this form).
  const [inherited, setInherited] = useState(Boolean(kept));
  const decide = (d: HoldDecision | undefined) => {
    setInherited(false);
    setDecision(d);
  };
  const [form, setForm] = useState({
    patientId: metadata.xray.patientId,
    consultationId: metadata.xray.consultationId ?? '',
    bodyPart: metadata.xray.bodyPart,
    view: metadata.xray.view,
    notes: metadata.xray.notes ?? '',
  });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<string>();
  const field = (key: keyof typeof form) => ({
    id: `fix-${key}-${id}`,
    value: form[key],
    'aria-describedby': `fix-${key}-${id}-error`,
    'aria-invalid': errors[key] ? true : undefined,
    onChange: (e: { target: { value: string } }) => {
      if (key === 'patientId') decide(undefined);
      setForm((f) => ({ ...f, [key]: e.target.value }));
    },
  });
  // The same wrong-patient rules as the capture form (a detector's image arrives held by them).
  const check = checkPatient({
    chosenId: form.patientId,
    file: metadata.dicom,
    roster,
    issuer: serverConfig.current().patientIdIssuer,
  });
  // The carried decision counts only for the holds it was taken for; a new one is asked again.
  const current = inherited && !keptDecisionCovers(check, metadata.xray) ? undefined : decision;
  const settled = decisionSettles(check, current);
  async function submit(e: FormEvent): Promise<void> {
    e.preventDefault();
    setErrors({});
    setProblem(undefined);
    if (!settled) {
      setProblem('Not sent: decide about the patient first.');
      return;
    }
    try {
      await core.updateMetadata(id, {
        ...form,
        ...applyDecision(form.patientId, metadata.dicom?.patientId, current),
        ...identityOverrideFor(
          check,
          current,
          overrideDecidedAt(check, metadata.xray, inherited, new Date().toISOString()),
        ),
        consultationId: form.consultationId.trim() || undefined,
      });
      onDone();
    } catch (err) {
      if (err instanceof CaptureError && err.fields.length) {
        const byField: Record<string, string> = {};
        for (const fe of err.fields)
          byField[fieldKey(fe.field)] ??= `${FIELD_LABELS[fieldKey(fe.field)] ?? fe.field} ${fe.message}.`;
        setErrors(byField);
      } else setProblem(err instanceof Error ? err.message : String(err));
    }
  }
  const bodyParts: string[] = [...BODY_PARTS];
  if (form.bodyPart && !bodyParts.includes(form.bodyPart)) bodyParts.unshift(form.bodyPart);
  return (
    <form
      className="fix-form"
      onSubmit={(e) => void submit(e)}
      noValidate
      autoComplete="off"
      aria-label="Correct and resend"
    >
      <div className="field-row">
        <div className="field">
          <label htmlFor={`fix-patientId-${id}`}>Patient ID</label>
          <input {...field('patientId')} autoComplete="off" />
          <FieldError id={`fix-patientId-${id}-error`} message={errors.patientId} />
        </div>
        <div className="field">
          <label htmlFor={`fix-consultationId-${id}`}>Consultation</label>
          <input {...field('consultationId')} autoComplete="off" />
          <FieldError id={`fix-consultationId-${id}-error`} message={errors.consultationId} />
        </div>
      </div>
      {check.holds.length > 0 && (
        <PatientHold
          id={`fix-hold-${id}`}
          check={check}
          chosenId={form.patientId.trim()}
          filePatientId={metadata.dicom?.patientId}
          decision={current}
          onUseFile={(patientId) => {
            setForm((f) => ({ ...f, patientId, consultationId: '' }));
            decide({ choice: 'use_file_patient' });
          }}
          onDecision={decide}
        />
      )}
      <div className="field-row">
        <div className="field">
          <label htmlFor={`fix-bodyPart-${id}`}>Body part</label>
          <select {...field('bodyPart')}>
            {bodyParts.map((b) => (
              <option key={b} value={b}>
                {b}
              </option>
            ))}
          </select>
          <FieldError id={`fix-bodyPart-${id}-error`} message={errors.bodyPart} />
        </div>
        <div className="field">
          <label htmlFor={`fix-view-${id}`}>View</label>
          <select {...field('view')}>
            {VIEWS.map((v) => (
              <option key={v} value={v}>
                {VIEW_LABELS[v] ?? v}
              </option>
            ))}
          </select>
          <FieldError id={`fix-view-${id}-error`} message={errors.view} />
        </div>
      </div>
      <div className="field">
        <label htmlFor={`fix-notes-${id}`}>Notes</label>
        <input {...field('notes')} autoComplete="off" />
        <FieldError id={`fix-notes-${id}-error`} message={errors.notes} />
      </div>
      {problem && <p role="alert">{problem}</p>}
      <div className="button-row">
        <button type="submit" className="button button-primary" disabled={!settled}>
          Resend
        </button>
        <button type="button" className="button" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}
