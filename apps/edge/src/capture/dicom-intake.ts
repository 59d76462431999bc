import type { Roster } from '@xray/shared';
import type { CaptureResult, CaptureService } from './capture.service.ts';
import { readHead } from './file-check.ts';
import { checkPatient, holdMessage } from './patient-check.ts';

/** An instance a detector pushed by C-STORE, as the shell hands it to the app (memory only). */
export interface ReceivedDicom {
  /** The DICOM Part 10 file: the shell's file meta group, then the data set as the detector sent it. */
  bytes: ArrayBuffer | Uint8Array;
  sopInstanceUid: string;
  /** The detector's AE title. */
  callingAeTitle: string;
}

export interface DicomIntakeOptions {
  deviceId?: string;
  /** The roster the device keeps (undefined: none yet): the wrong-patient rules check against it. */
  roster: () => Roster | undefined;
  /** The hospital's assigning authority (/edge-config `patientIdIssuer`), undefined when none is known. */
  patientIdIssuer?: () => string | undefined;
}

/**
 * Puts a received instance straight into the encrypted capture queue, the patient, body part
 * and view prefilled from the data set. The wrong-patient rules (patient-check.ts) apply to the
 * data set's patient as the chosen one: a patient not on the roster, a name that is not the
 * roster's, an id issued by another assigning authority than the hospital's, or no patient at
 * all, and the capture is stored but held (`needs-attention`, nothing sent) until the paramedic
 * decides in the queue. An image whose tags leave the form incomplete is kept too
 * (`validate: false`): a detector's image is never lost to a form. Resolves once the capture is
 * on disk, encrypted; the shell answers the detector's C-STORE only then.
 */
export async function captureReceivedDicom(
  capture: CaptureService['capture'],
  instance: ReceivedDicom,
  opts: DicomIntakeOptions,
): Promise<CaptureResult> {
  const part = instance.bytes instanceof ArrayBuffer ? instance.bytes : new Uint8Array(instance.bytes);
  const file = new File([part], `${instance.callingAeTitle} ${instance.sopInstanceUid}.dcm`, {
    type: 'application/dicom',
  });
  const head = await readHead(file);
  const patientId = head?.dicom?.patientId?.trim() ?? '';
  const check = checkPatient({
    chosenId: patientId,
    file: head?.dicom,
    roster: opts.roster(),
    issuer: opts.patientIdIssuer?.(),
  });
  const hold = !patientId
    ? 'The image names no patient: choose the patient before it is sent.'
    : check.holds.length > 0
      ? `${check.holds.map(holdMessage).join(' ')} Check the patient before it is sent.`
      : undefined;
  return capture(
    file,
    { ...(opts.deviceId ? { deviceId: opts.deviceId } : {}) },
    {
      validate: false,
      ...(head ? { head } : {}),
      ...(hold
        ? { hold: { code: 'patient_check', message: `From detector ${instance.callingAeTitle}: ${hold}` } }
        : {}),
    },
  );
}
