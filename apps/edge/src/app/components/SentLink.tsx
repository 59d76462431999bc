import { useEffect, useState, type FormEvent } from 'react';
import type { CaptureSummary } from '../../edge.core.ts';
import { useOnline, useServices, useShownRoster } from '../services.ts';
import { PatientField } from './PatientField.tsx';

/** How long a pending link waits before the device asks the server again. */
const PENDING_RECHECK_MS = 15_000;

/**
 * After sync, what the server made of the patient: confirmed, still being checked, or not found.
 * An X-ray whose patient the server could not find (or whose file names another patient) reads
 * "Sent — patient not found: fix"; the fix is a PATCH from this device, audited on the server.
 */
export function SentLink({ capture: c, onFixed }: { capture: CaptureSummary; onFixed(): void }) {
  const { sentLinks } = useServices();
  const online = useOnline();
  const roster = useShownRoster();
  const [fixing, setFixing] = useState(false);
  const [patientId, setPatientId] = useState('');
  const [problem, setProblem] = useState<string>();
  const [busy, setBusy] = useState(false);
  const link = c.serverLink;

  useEffect(() => {
    if (c.status !== 'synced' || !online) return;
    const due = !link
      ? 0
      : link.status === 'pending'
        ? Math.max(0, link.checkedAt + PENDING_RECHECK_MS - Date.now())
        : undefined;
    if (due === undefined) return;
    const timer = setTimeout(() => void sentLinks.check(c.id).catch(() => undefined), due);
    return () => clearTimeout(timer);
  }, [c.id, c.status, online, link, sentLinks]);

  if (!link || link.status === 'unchecked') return null;
  if (link.status === 'verified')
    return (
      <p className="sent-link sent-link-ok" data-testid="sent-link">
        Sent — patient confirmed
      </p>
    );
  if (link.status === 'pending')
    return (
      <p className="sent-link" data-testid="sent-link">
        Sent — patient check pending
      </p>
    );

  const what =
    link.reason === 'unknown_patient'
      ? 'patient not found'
      : link.reason === 'file_patient_mismatch'
        ? 'the file names another patient'
        : 'consultation does not match';
  async function submit(e: FormEvent): Promise<void> {
    e.preventDefault();
    setProblem(undefined);
    if (!patientId.trim()) {
      setProblem('Patient ID is required.');
      return;
    }
    setBusy(true);
    try {
      await sentLinks.fixPatient(c.id, patientId);
      setFixing(false);
      onFixed();
    } catch (err) {
      setProblem(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <div className="message message-error sent-link" data-testid="sent-link">
      <p>
        <strong>Sent — {what}: fix</strong>
      </p>
      {fixing ? (
        <form
          className="fix-form"
          onSubmit={(e) => void submit(e)}
          noValidate
          autoComplete="off"
          aria-label="Fix the patient"
        >
          <PatientField
            id={`sent-fix-${c.id}`}
            value={patientId}
            onChange={setPatientId}
            error={problem}
            roster={roster}
            rosterHint="Type part of the name or ID, then tap the patient."
          />
          <div className="button-row">
            <button type="submit" className="button button-primary" disabled={busy || !online}>
              Save the patient
            </button>
            <button type="button" className="button" onClick={() => setFixing(false)}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <button type="button" className="button" onClick={() => setFixing(true)}>
          Fix the patient
        </button>
      )}
    </div>
  );
}
