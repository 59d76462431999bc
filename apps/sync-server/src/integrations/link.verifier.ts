import {
  sameFilePatient,
  samePatientId,
  type DicomTags,
  type IdentityOverride,
  type Link,
  type XrayMetadataInput,
} from '@xray/shared';
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
  /**
   * The assigning authority that issues the hospital's patient ids (PATIENT_ID_ISSUER): a file
   * whose IssuerOfPatientID names another names another hospital's patient, whatever its id.
   * Undefined: not configured; a file's PatientID is compared alone.
   */
  readonly patientIdIssuer?: string | undefined;
  verify(patientId: string, consultationId: string | null, mode: LinkMode): Promise<Link>;
}

/** The file's own patient: its PatientID and who issued it (IssuerOfPatientID). */
type FilePatient = Pick<DicomTags, 'patientId' | 'issuerOfPatientId'>;

/**
 * An arriving X-ray's link. The file's own DICOM PatientID naming another patient (another id, or
 * one issued by another assigning authority than `links.patientIdIssuer`), without the
 * paramedic's decision to keep the chosen one, is `invalid` (`file_patient_mismatch`) whatever
 * the Patient Service says: never `verified`. The Patient Service is asked all the same: its record
 * is what the file's name, birth date and sex are compared with (ingest/identity.ts). A decision
 * sent with the X-ray stays on its link; with an `identityOverride` naming `patientId` it was
 * made with the file's PatientID in view as another patient's, whatever made it one (fileMismatch).
 */
export async function arrivalLink(
  links: LinkVerifier,
  metadata: Pick<
    XrayMetadataInput,
    'patientId' | 'consultationId' | 'patientDecision' | 'patientDecisionReason' | 'identityOverride'
  >,
  file: FilePatient | null | undefined,
): Promise<Link> {
  const decision: Link['decision'] = metadata.patientDecision
    ? {
        choice: metadata.patientDecision,
        ...(metadata.patientDecisionReason ? { reason: metadata.patientDecisionReason } : {}),
      }
    : undefined;
  const withDecision = (link: Link): Link => (decision ? { ...link, decision } : link);
  const checked = await links.verify(metadata.patientId, metadata.consultationId ?? null, 'inline');
  const mismatch = fileMismatch(
    file,
    { patientId: metadata.patientId, issuer: links.patientIdIssuer },
    decision,
    checked,
    metadata.identityOverride?.fields.includes('patientId') ?? false,
  );
  return withDecision(mismatch ?? checked);
}

/**
 * A stored X-ray's newly checked link (a PATCH of its patient, the background check) under the
 * same file rule as on arrival: the DICOM naming another patient than `patientId` makes it
 * `invalid` (`file_patient_mismatch`) unless the paramedic decided to keep this very patient.
 * The decision stays only while the patient it was made for stays, and with it the identity
 * override stored beside it (whether the decision saw the file's PatientID differ).
 */
export function storedLink(
  checked: Link,
  x: { patientId: string; dicom: FilePatient | null },
  before: { patientId: string; link: Link; identity: { override?: IdentityOverride | undefined } },
  /** The hospital's assigning authority (LinkVerifier.patientIdIssuer). */
  issuer: string | undefined,
): Link {
  const same = before.patientId === x.patientId;
  const decision = same ? before.link.decision : undefined;
  const withDecision = (link: Link): Link => {
    const { decision: _dropped, ...rest } = link;
    return decision ? { ...rest, decision } : rest;
  };
  const overridesId = same && (before.identity.override?.fields.includes('patientId') ?? false);
  const mismatch = fileMismatch(x.dicom, { patientId: x.patientId, issuer }, decision, checked, overridesId);
  return withDecision(mismatch ?? checked);
}

/**
 * The file rule: the DICOM's PatientID naming another patient (compared as the identity check
 * compares it, @xray/shared sameFilePatient: another id, or one issued by another assigning
 * authority than ours), with no decision to keep this one, is `invalid`. The Patient Service's
 * summaries of what was checked stay on it (the identity check reads them).
 */
function fileMismatch(
  file: FilePatient | null | undefined,
  ours: { patientId: string; issuer: string | undefined },
  decision: Link['decision'],
  checked: Link,
  /** The decision came with an identity override naming `patientId` (identityOverride). */
  overridesId: boolean,
): Link | undefined {
  const filePatientId = file?.patientId?.trim();
  if (!filePatientId || sameFilePatient({ patientId: filePatientId, issuerOfPatientId: file?.issuerOfPatientId }, ours))
    return undefined;
  // A decision counts for what the device compared. A bare one, for the id alone: an edge app that
  // knows no issuer sends it for a file whose id reads as ours when its patient was not on the
  // roster, and so decided nothing about another authority's id. With an identity override naming
  // `patientId` the device saw the file's PatientID differ, another id or another issuer (an edge
  // app that knows the issuer holds the capture on it, `file_issuer_differs`), and kept this one.
  if (decision?.choice === 'keep_chosen_patient' && (overridesId || !samePatientId(filePatientId, ours.patientId)))
    return undefined;
  return {
    status: 'invalid',
    reason: 'file_patient_mismatch',
    checkedAt: checked.checkedAt ?? new Date().toISOString(),
    ...(checked.patient ? { patient: checked.patient } : {}),
    ...(checked.consultation ? { consultation: checked.consultation } : {}),
  };
}

/**
 * - `verified`: the patient exists, and the consultation (if given) belongs to that patient;
 * - `invalid`: unknown patient, unknown consultation, or a consultation of another patient;
 * - `pending`: the service did not answer; never an error, the X-ray is stored regardless.
 */
export function createLinkVerifier(
  directory: PatientDirectory | undefined,
  opts: { inlineTimeoutMs: number; log: Logger; patientIdIssuer?: string | undefined },
): LinkVerifier {
  const { patientIdIssuer } = opts;
  if (!directory) return { enabled: false, patientIdIssuer, verify: async () => ({ status: 'unchecked' }) };
  return {
    enabled: true,
    patientIdIssuer,
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
