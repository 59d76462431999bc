import type { PatientCheck, PatientDecisionInput } from '../../capture/patient-check.ts';
import { holdMessage } from '../../capture/patient-check.ts';
import { describePatient } from './PatientField.tsx';

export type HoldDecision = PatientDecisionInput;

/**
 * The wrong-patient hold: what does not match, and the two ways on. Nothing is saved (so nothing
 * is sent) until the paramedic takes the file's patient, or keeps the chosen one and says why.
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
  return (
    <div
      className="hold message message-warning"
      role="group"
      aria-labelledby={`${id}-title`}
      data-testid="patient-hold"
    >
      <p id={`${id}-title`}>
        <strong>Check the patient before saving.</strong> {check.holds.map(holdMessage).join(' ')}
      </p>
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
          Keep {chosenId}
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
            Sent with the X-ray and recorded, e.g. “detector still had the previous patient”.
          </p>
        </div>
      )}
    </div>
  );
}
