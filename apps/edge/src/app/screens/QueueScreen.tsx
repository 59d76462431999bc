import { useEffect, useState, type FormEvent } from 'react';
import { VIEWS } from '@xray/shared';
import { CaptureError } from '../../capture/capture.errors.ts';
import type { CaptureMetadata } from '../../db/edge.records.ts';
import type { CaptureSummary } from '../../edge.core.ts';
import { FieldError } from '../components/PatientField.tsx';
import {
  BODY_PARTS,
  FIELD_LABELS,
  STATUS_LABELS,
  VIEW_LABELS,
  fieldKey,
  formatBytes,
  formatIn,
  formatTime,
} from '../format.ts';
import { useNow, useServices } from '../services.ts';

/** Decrypted details per capture id, read once each; `forget` re-reads one after a correction. */
function useMetadata(captures: CaptureSummary[]): [Map<string, CaptureMetadata>, (id: string) => void] {
  const { core } = useServices();
  const [meta, setMeta] = useState(new Map<string, CaptureMetadata>());
  const wanted = captures
    .map((c) => c.id)
    .filter((id) => !meta.has(id))
    .join(',');
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

/** The queue: every capture on this device, newest first, with its state and progress. */
export function QueueScreen({ captures }: { captures: CaptureSummary[] }) {
  const now = useNow(1000);
  const [editing, setEditing] = useState<string>();
  const [meta, forget] = useMetadata(captures);
  const list = [...captures].sort((a, b) => b.createdAt - a.createdAt);
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
      <ul className="queue-list" aria-label="Captured X-rays">
        {list.map((c) => {
          const m = meta.get(c.id);
          return (
            <li key={c.id} className={`queue-item status-${c.status}`} data-testid="queue-item" data-status={c.status}>
              <div className="queue-head">
                <h2 className="queue-title">
                  {m ? `${m.xray.patientId || 'No patient'} · ${m.xray.bodyPart || '?'} ${m.xray.view || ''}` : '…'}
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
              {c.status === 'retrying' && c.nextAttemptAt && (
                <p className="queue-retry">
                  Next try {formatIn(c.nextAttemptAt, now)} ({formatTime(c.nextAttemptAt)})
                  {c.lastError ? `: ${c.lastError.message}` : ''}
                </p>
              )}
              {c.status === 'queued' && c.lastError && <p className="queue-retry">Waiting: {c.lastError.message}</p>}
              {c.status === 'needs-attention' && (
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
      : c.status === 'uploading' && c.progress
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
  const { core } = useServices();
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
    onChange: (e: { target: { value: string } }) => setForm((f) => ({ ...f, [key]: e.target.value })),
  });
  async function submit(e: FormEvent): Promise<void> {
    e.preventDefault();
    setErrors({});
    setProblem(undefined);
    try {
      await core.updateMetadata(id, { ...form, consultationId: form.consultationId.trim() || undefined });
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
    <form className="fix-form" onSubmit={(e) => void submit(e)} noValidate aria-label="Correct and resend">
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
        <input {...field('notes')} />
        <FieldError id={`fix-notes-${id}-error`} message={errors.notes} />
      </div>
      {problem && <p role="alert">{problem}</p>}
      <div className="button-row">
        <button type="submit" className="button button-primary">
          Resend
        </button>
        <button type="button" className="button" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}
