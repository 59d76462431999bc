import type { PatientCheck, PatientDecisionInput } from '../../capture/patient-check.ts';
import { differingIdentityFields, holdMessage } from '../../capture/patient-check.ts';
import { describePatient } from './PatientField.tsx';

export type HoldDecision = PatientDecisionInput;

const FIELD_NAMES = {
  patientId: 'patient ID',
  patientName: 'name',
  patientBirthDate: 'birth date',
  patientSex: 'sex',
} as const;

/**
 * The wrong-patient hold: what does not match, one line each, and the two ways on. Nothing is
 * saved (so nothing is sent) until the paramedic takes the file's patient, or keeps the chosen one
 * and says why: an explicit override of the fields that differ, sent with the X-ray, recorded and
 * audited on the server (which still shows doctors the identity as a mismatch, overridden).
 */
export function PatientHold({
  check,
  chosenId,
  filePatientId,
  decision,
  onUseFile,
  onDecision,
  id = 'hold',
}: {
  check: PatientCheck;
  chosenId: string;
  filePatientId: string | undefined;
  decision: HoldDecision | undefined;
  onUseFile(id: string): void;
  onDecision(d: HoldDecision | undefined): void;
  /** Prefix of the element ids (`<id>-title`, `<id>-reason`): unique per form. */
  id?: string;
}) {
  const differs = check.holds.some((h) => h.code === 'file_patient_differs');
  const keeping = decision?.choice === 'keep_chosen_patient';
  const overridden = differingIdentityFields(check).map((f) => FIELD_NAMES[f]);
  return (
    <div
      className="hold message message-warning"
      role="group"
      aria-labelledby={`${id}-title`}
      data-testid="patient-hold"
    >
      <p id={`${id}-title`}>
        <strong>Check the patient before saving.</strong>
      </p>
      <ul className="hold-reasons" data-testid="hold-reasons">
        {check.holds.map((h) => (
          <li key={h.code}>{holdMessage(h)}</li>
        ))}
      </ul>
      <div className="button-row">
        {differs && filePatientId && (
          <button type="button" className="button" onClick={() => onUseFile(filePatientId)}>
            Use the file’s patient {filePatientId}
            {check.filePatient ? ` (${describePatient(check.filePatient)})` : ''}
          </button>
        )}
        <button
          type="button"
          className="button"
          aria-pressed={keeping}
          onClick={() => onDecision(keeping ? undefined : { choice: 'keep_chosen_patient', reason: '' })}
        >
          {overridden.length ? `Keep ${chosenId} anyway (override)` : `Keep ${chosenId}`}
        </button>
      </div>
      {keeping && (
        <div className="field">
          <label htmlFor={`${id}-reason`}>Why keep {chosenId}?</label>
          <input
            id={`${id}-reason`}
            autoComplete="off"
            autoFocus
            value={decision.reason ?? ''}
            onChange={(e) => onDecision({ choice: 'keep_chosen_patient', reason: e.target.value })}
            aria-describedby={`${id}-reason-hint`}
          />
          <p id={`${id}-reason-hint`} className="hint">
            {overridden.length ? `Overrides the file's ${overridden.join(', ')}. ` : ''}
            Sent with the X-ray and recorded, e.g. “detector still had the previous patient”.
          </p>
        </div>
      )}
    </div>
  );
}
