import type { Roster, RosterPatient } from '@xray/shared';
import { findPatient, openConsultations, searchRoster } from '../../capture/patient-check.ts';

interface RosterProps {
  /** The roster, or undefined when there is none to show (never fetched, device locked, grace over). */
  roster: Roster | undefined;
}

export const describePatient = (p: RosterPatient): string =>
  [p.name, p.birthDate ? `born ${p.birthDate}` : undefined].filter(Boolean).join(', ');

/**
 * Patient: type a few letters of the id or the name, tap the patient. The list is the roster kept
 * on this device, so it works offline; every choice is a big target. A typed id that is not on
 * the roster is allowed, but holds the capture until the paramedic says why (patient-check.ts).
 */
export function PatientField({
  value,
  onChange,
  error,
  roster,
  rosterHint,
  id = 'patientId',
}: RosterProps & {
  value: string;
  onChange(value: string): void;
  error: string | undefined;
  rosterHint: string;
  /** The input's id (and its hint's and error's prefix): unique per form. */
  id?: string;
}) {
  const chosen = value.trim() ? findPatient(roster, value) : undefined;
  const matches = chosen ? [] : searchRoster(roster, value, 5);
  return (
    <div className="field">
      <label htmlFor={id}>Patient ID</label>
      <input
        id={id}
        name="patientId"
        autoComplete="off"
        inputMode="search"
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={`${id}-hint ${id}-error`}
      />
      <p id={`${id}-hint`} className="hint">
        {chosen ? `${describePatient(chosen) || 'On the patient list'}.` : rosterHint}
      </p>
      {matches.length > 0 && (
        <ul className="choices" aria-label="Matching patients">
          {matches.map((p) => (
            <li key={p.id}>
              <button type="button" className="choice" onClick={() => onChange(p.id)}>
                <strong>{p.name ?? p.id}</strong> <span>{[p.id, p.birthDate].filter(Boolean).join(' · ')}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      <FieldError id={`${id}-error`} message={error} />
    </div>
  );
}

/** Optional consultation: the chosen patient's open consultations (only for a patient on the roster). */
export function ConsultationField({
  value,
  onChange,
  error,
  roster,
  patientId,
}: RosterProps & { value: string; onChange(value: string): void; error: string | undefined; patientId: string }) {
  const shown = openConsultations(roster, patientId)
    .filter((c) => c.id !== value.trim())
    .slice(0, 3);
  return (
    <div className="field">
      <label htmlFor="consultationId">
        Consultation <span className="optional">(optional)</span>
      </label>
      <input
        id="consultationId"
        name="consultationId"
        autoComplete="off"
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby="consultationId-error"
      />
      {shown.length > 0 && (
        <ul className="choices" aria-label="Open consultations">
          {shown.map((c) => (
            <li key={c.id}>
              <button type="button" className="choice" onClick={() => onChange(c.id)}>
                <strong>{c.id}</strong> <span>{c.reason ?? ''}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      <FieldError id="consultationId-error" message={error} />
    </div>
  );
}

export function FieldError({ id, message }: { id: string; message: string | undefined }) {
  return (
    <p id={id} className="field-error" role={message ? 'alert' : undefined}>
      {message}
    </p>
  );
}
