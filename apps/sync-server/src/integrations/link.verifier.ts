import { samePatientId, type Link, type XrayMetadataInput } from '@xray/shared';
import type { Logger } from '../observability/logger.ts';
import { PatientDirectoryUnavailable, type PatientDirectory } from './patient-directory.ts';

export type LinkMode =
  /** An upload or a correction is waiting: one try within a short budget, then `pending`. */
  | 'inline'
  /** The background checker: the directory's own timeout and retries. */
  | 'background';

/** Decides an X-ray's link from the Patient Service's answers. */
export interface LinkVerifier {
  /** False when no Patient Service is configured: every link is `unchecked`. */
  readonly enabled: boolean;
  verify(patientId: string, consultationId: string | null, mode: LinkMode): Promise<Link>;
}

/**
 * An arriving X-ray's link. The file's own DICOM PatientID naming another patient, without the
 * paramedic's decision to keep the chosen one, is `invalid` (`file_patient_mismatch`) whatever
 * the Patient Service says: never `verified`. The Patient Service is asked all the same: its record
 * is what the file's name, birth date and sex are compared with (ingest/identity.ts). A decision
 * sent with the X-ray stays on its link.
 */
export async function arrivalLink(
  links: LinkVerifier,
  metadata: Pick<XrayMetadataInput, 'patientId' | 'consultationId' | 'patientDecision' | 'patientDecisionReason'>,
  filePatientId: string | undefined,
): Promise<Link> {
  const decision: Link['decision'] = metadata.patientDecision
    ? {
        choice: metadata.patientDecision,
        ...(metadata.patientDecisionReason ? { reason: metadata.patientDecisionReason } : {}),
      }
    : undefined;
  const withDecision = (link: Link): Link => (decision ? { ...link, decision } : link);
  const checked = await links.verify(metadata.patientId, metadata.consultationId ?? null, 'inline');
  return withDecision(fileMismatch(filePatientId, metadata.patientId, decision, checked) ?? checked);
}

/**
 * A stored X-ray's newly checked link (a PATCH of its patient, the background check) under the
 * same file rule as on arrival: the DICOM naming another patient than `patientId` makes it
 * `invalid` (`file_patient_mismatch`) unless the paramedic decided to keep this very patient.
 * The decision stays only while the patient it was made for stays.
 */
export function storedLink(
  checked: Link,
  x: { patientId: string; dicom: { patientId?: string | undefined } | null },
  before: { patientId: string; link: Link },
): Link {
  const decision = before.patientId === x.patientId ? before.link.decision : undefined;
  const withDecision = (link: Link): Link => {
    const { decision: _dropped, ...rest } = link;
    return decision ? { ...rest, decision } : rest;
  };
  return withDecision(fileMismatch(x.dicom?.patientId, x.patientId, decision, checked) ?? checked);
}

/**
 * The file rule: the DICOM's PatientID naming another patient (compared as the identity check
 * compares it, @xray/shared samePatientId), with no decision to keep this one, is `invalid`. The
 * Patient Service's summaries of what was checked stay on it (the identity check reads them).
 */
function fileMismatch(
  filePatientId: string | undefined,
  patientId: string,
  decision: Link['decision'],
  checked: Link,
): Link | undefined {
  const filePatient = filePatientId?.trim();
  if (filePatient && !samePatientId(filePatient, patientId) && decision?.choice !== 'keep_chosen_patient')
    return {
      status: 'invalid',
      reason: 'file_patient_mismatch',
      checkedAt: checked.checkedAt ?? new Date().toISOString(),
      ...(checked.patient ? { patient: checked.patient } : {}),
      ...(checked.consultation ? { consultation: checked.consultation } : {}),
    };
  return undefined;
}

/**
 * - `verified`: the patient exists, and the consultation (if given) belongs to that patient;
 * - `invalid`: unknown patient, unknown consultation, or a consultation of another patient;
 * - `pending`: the service did not answer; never an error, the X-ray is stored regardless.
 */
export function createLinkVerifier(
  directory: PatientDirectory | undefined,
  opts: { inlineTimeoutMs: number; log: Logger },
): LinkVerifier {
  if (!directory) return { enabled: false, verify: async () => ({ status: 'unchecked' }) };
  return {
    enabled: true,
    async verify(patientId, consultationId, mode) {
      const lookup = mode === 'inline' ? { timeoutMs: opts.inlineTimeoutMs, retries: 0 } : {};
      try {
        const [patient, consultation] = await Promise.all([
          directory.getPatient(patientId, lookup),
          consultationId ? directory.getConsultation(consultationId, lookup) : Promise.resolve(null),
        ]);
        const checkedAt = new Date().toISOString();
        if (!patient) return { status: 'invalid', reason: 'unknown_patient', checkedAt };
        const patientSummary = { ...patient };
        if (!consultationId) return { status: 'verified', checkedAt, patient: patientSummary };
        if (!consultation)
          return { status: 'invalid', reason: 'unknown_consultation', checkedAt, patient: patientSummary };
        const consultationSummary = { ...consultation };
        if (consultation.patientId !== patientId)
          return {
            status: 'invalid',
            reason: 'consultation_of_other_patient',
            checkedAt,
            patient: patientSummary,
            consultation: consultationSummary,
          };
        return { status: 'verified', checkedAt, patient: patientSummary, consultation: consultationSummary };
      } catch (err) {
        if (!(err instanceof PatientDirectoryUnavailable)) throw err;
        // No patientId (nor in err.message): a log line about an outage names no patient.
        opts.log.warn({ err: err.message, mode }, 'Patient Service unavailable: link pending');
        return { status: 'pending', reason: 'patient_service_unavailable' };
      }
    },
  };
}
