import { useEffect, useRef, useState } from 'react';
import type { ConsultationSummary, PatientDirectory, PatientSummary } from '../../capture/patient-directory.ts';

interface FieldProps {
  value: string;
  onChange(value: string): void;
  error: string | undefined;
  online: boolean;
  directory: PatientDirectory | null;
}

/** Debounced async lookup that is dropped when its input changes or the component goes away. */
function useLookup<T>(key: string | null, load: (signal: AbortSignal) => Promise<T[]>, delayMs = 250) {
  const [state, setState] = useState<{ items: T[]; failed: boolean }>({ items: [], failed: false });
  // The latest `load`; `key` alone says when the lookup really changes.
  const loader = useRef(load);
  loader.current = load;
  useEffect(() => {
    if (key === null) {
      setState({ items: [], failed: false });
      return;
    }
    const controller = new AbortController();
    const timer = setTimeout(() => {
      loader
        .current(controller.signal)
        .then((items) => setState({ items, failed: false }))
        .catch(() => !controller.signal.aborted && setState({ items: [], failed: true }));
    }, delayMs);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [key, delayMs]);
  return state;
}

const describePatient = (p: PatientSummary): string =>
  [p.name, p.birthDate ? `born ${p.birthDate}` : undefined].filter(Boolean).join(', ');

/**
 * Patient ID: picked from the Patient Service's list while online, typed when offline (the
 * server checks the id when the X-ray arrives and flags an unknown one).
 */
export function PatientField({ value, onChange, error, online, directory }: FieldProps) {
  const { items, failed } = useLookup<PatientSummary>(online && directory ? value.trim() : null, (signal) =>
    directory ? directory.search(value, signal) : Promise.resolve([]),
  );
  const match = items.find((p) => p.id === value.trim());
  const picked = match !== undefined;
  const shown = picked ? [] : items.slice(0, 6);
  return (
    <div className="field">
      <label htmlFor="patientId">Patient ID</label>
      <input
        id="patientId"
        name="patientId"
        autoComplete="off"
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby="patientId-hint patientId-error"
      />
      <p id="patientId-hint" className="hint">
        {!online || !directory
          ? 'Type the patient ID (checked when sent).'
          : failed
            ? 'The patient list cannot be reached: type the patient ID.'
            : match
              ? `${describePatient(match) || 'Patient found'}.`
              : 'Search by name or ID, then pick the patient.'}
      </p>
      {shown.length > 0 && (
        <ul className="choices" aria-label="Matching patients">
          {shown.map((p) => (
            <li key={p.id}>
              <button type="button" className="choice" onClick={() => onChange(p.id)}>
                <strong>{p.id}</strong> <span>{describePatient(p)}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      <FieldError id="patientId-error" message={error} />
    </div>
  );
}

/** Optional consultation: the patient's open consultations to pick from while online. */
export function ConsultationField({
  value,
  onChange,
  error,
  online,
  directory,
  patientId,
}: FieldProps & { patientId: string }) {
  const key = online && directory && patientId.trim() ? patientId.trim() : null;
  const { items } = useLookup<ConsultationSummary>(key, (signal) =>
    directory ? directory.consultations(patientId.trim(), signal) : Promise.resolve([]),
  );
  const shown = items.filter((c) => c.status !== 'closed' && c.id !== value.trim()).slice(0, 4);
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
