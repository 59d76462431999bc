import { VIEWS, type Roster } from '@xray/shared';
import { findPatient, readableDicomName } from '../../capture/patient-check.ts';
import { BODY_PARTS, VIEW_LABELS } from '../format.ts';
import type { CaptureFormModel } from '../screens/useCaptureForm.ts';
import type { PendingFile } from '../screens/usePendingFiles.ts';
import { ConsultationField, FieldError, PatientField, describePatient } from './PatientField.tsx';
import { PatientHold } from './PatientHold.tsx';

/**
 * The X-ray details of the current file and its Save button: patient (with the file's patient
 * beside it and the wrong-patient hold), body part, view, urgency, notes, and what saving said.
 * State and rules live in useCaptureForm; this only shows them.
 */
export function CaptureForm({
  model,
  current,
  roster,
  rosterHint,
}: {
  model: CaptureFormModel;
  current: PendingFile | undefined;
  /** The roster to show and search, undefined when there is none to use. */
  roster: Roster | undefined;
  rosterHint: string;
}) {
  const { form, fromDicom, errors, check, settled, set, lastPatient } = model;
  const chosen = check.patient;
  const bodyParts: string[] = [...BODY_PARTS];
  if (form.bodyPart && !bodyParts.includes(form.bodyPart)) bodyParts.unshift(form.bodyPart);

  return (
    // autocomplete off: Chromium otherwise saves what is typed here (patient, notes) into the
    // profile's session-restore files, in clear.
    <form
      className="capture-form"
      onSubmit={(e) => void model.save(e)}
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
        <button type="button" className="button button-wide same-patient" onClick={model.takeLastPatient}>
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
          decision={model.decision}
          onUseFile={model.takeFilePatient}
          onDecision={model.setDecision}
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
        <input id="urgent" type="checkbox" checked={form.urgent} onChange={(e) => set('urgent')(e.target.checked)} />
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
          disabled={model.saving || (current !== undefined && !settled)}
          aria-describedby={current && !settled ? 'hold-title' : undefined}
        >
          {model.saving ? 'Saving…' : 'Save X-ray'}
        </button>
      </div>
      <div aria-live="polite" ref={model.messages} className="capture-messages">
        {model.problem && (
          <p className="message message-error" data-testid="capture-problem">
            {model.problem}
          </p>
        )}
        {model.notice && (
          <p className="message message-ok" data-testid="capture-notice">
            {model.notice}
          </p>
        )}
      </div>
    </form>
  );
}
