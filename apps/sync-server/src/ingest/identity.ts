import {
  compareIdentity,
  samePatientId,
  type DicomTags,
  type Identity,
  type IdentityField,
  type IdentityOverride,
  type Link,
  type XrayMetadataInput,
} from '@xray/shared';

/**
 * The identity check of an X-ray, decided at every door (finalize), again when its pending link
 * settles (the Patient Service's record arrives) and when PATCH moves it to another patient. The
 * comparisons themselves (names, dates, sex codes) are @xray/shared's compareIdentity, the same
 * the edge app warns with before a capture is sent.
 */

/**
 * The override an upload carries: `identityOverride`, or `patientDecision: keep_chosen_patient`
 * read as one of the PatientID only, and only when the file's PatientID is another patient's:
 * that is all such a decision saw (the edge also sends it when the only hold was "not on the
 * roster"), so a name or date found to differ later was decided by nobody. So is an
 * IssuerOfPatientID other than ours behind an id that reads as ours: an edge app without the
 * server's issuer compares ids alone. An `identityOverride` naming `patientId` (what an edge app
 * that knows the issuer sends when the paramedic keeps the patient on its `file_issuer_differs`
 * hold), or a decision made for another id, covers the patientId mismatch whatever made it one
 * (another id, another issuer, or both); the link then agrees (link.verifier.ts fileMismatch).
 * `by` is who sent it (the signed-in uploader), never a name the device claims.
 */
export function overrideOf(
  metadata: Pick<
    XrayMetadataInput,
    'identityOverride' | 'patientDecision' | 'patientDecisionReason' | 'capturedAt' | 'patientId'
  >,
  by: { sub: string; name: string | null },
  dicom: Pick<DicomTags, 'patientId'> | null,
): IdentityOverride | undefined {
  const o = metadata.identityOverride;
  if (o) return { fields: o.fields, reason: o.reason, decidedAt: iso(o.decidedAt), by, from: 'identity_override' };
  const filePatientId = dicom?.patientId;
  if (
    metadata.patientDecision === 'keep_chosen_patient' &&
    metadata.patientDecisionReason &&
    filePatientId !== undefined &&
    !samePatientId(filePatientId, metadata.patientId)
  )
    return {
      fields: ['patientId'],
      reason: metadata.patientDecisionReason,
      decidedAt: iso(metadata.capturedAt),
      by,
      from: 'patient_decision',
    };
  return undefined;
}

const iso = (v: string): string => new Date(v).toISOString();

/** The Patient Service's record of `patientId` as the link holds it (its summary), if it is that patient's. */
function recordOf(link: Link, patientId: string): { name?: string; birthDate?: string; sex?: string } | undefined {
  const p = link.patient;
  if (!p || typeof p.id !== 'string' || !samePatientId(p.id, patientId)) return undefined;
  const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const record: { name?: string; birthDate?: string; sex?: string } = {};
  const [name, birthDate, sex] = [text(p.name), text(p.birthDate), text(p.sex)];
  if (name !== undefined) record.name = name;
  if (birthDate !== undefined) record.birthDate = birthDate;
  if (sex !== undefined) record.sex = sex;
  return record;
}

export interface IdentityInput {
  /** The file's tags (null: not a DICOM). */
  dicom: DicomTags | null;
  /** The patient the X-ray is stored under. */
  patientId: string;
  /** The assigning authority of the hospital's patient ids (LinkVerifier.patientIdIssuer); undefined: not configured. */
  issuer?: string | undefined;
  /** Its link: the Patient Service's record (`patient`), or why there is none (`pending`...). */
  link: Link;
  override?: IdentityOverride | undefined;
  now?: Date;
}

/**
 * - `unknown`: not a DICOM (`not_dicom`), none of the four tags (`no_patient_tags`), demographics
 *   in the file and the Patient Service not answering yet (`patient_service_unavailable`: decided
 *   again when the link settles), or nothing comparable (`no_patient_record`);
 * - `mismatch`: a field differs (the PatientID against the metadata even with no record at all,
 *   or issued by another assigning authority than `issuer`);
 * - `consistent`: every field compared agrees (`compared` says which).
 * An override keeps a mismatch a mismatch; `overridden` says it covered every field that differs.
 */
export function decideIdentity(input: IdentityInput): Identity {
  const checkedAt = (input.now ?? new Date()).toISOString();
  const base = {
    checkedAt,
    overridden: false,
    ...(input.override ? { override: input.override } : {}),
  };
  const unknown = (reason: NonNullable<Identity['reason']>, compared: IdentityField[] = []): Identity => ({
    status: 'unknown',
    fields: [],
    compared,
    reason,
    ...base,
  });
  if (!input.dicom) return unknown('not_dicom');
  const record = recordOf(input.link, input.patientId);
  const c = compareIdentity(input.dicom, { patientId: input.patientId, issuer: input.issuer, record });
  if (c.inFile.length === 0) return unknown('no_patient_tags');
  if (c.mismatches.length > 0) {
    const accepted = new Set(input.override?.fields ?? []);
    return {
      status: 'mismatch',
      fields: c.mismatches,
      compared: c.compared,
      ...base,
      overridden: input.override !== undefined && c.mismatches.every((m) => accepted.has(m.field)),
    };
  }
  const demographicsUnchecked = c.inFile.some((f) => f !== 'patientId' && !c.compared.includes(f));
  if (demographicsUnchecked && input.link.status === 'pending')
    return unknown('patient_service_unavailable', c.compared);
  if (c.compared.length === 0) return unknown('no_patient_record');
  return { status: 'consistent', fields: [], compared: c.compared, ...base };
}

/** Whether `after` is news for a consumer: a mismatch now, and not the same mismatch as before. */
export function newMismatch(before: Identity | undefined, after: Identity): boolean {
  if (after.status !== 'mismatch') return false;
  if (before?.status !== 'mismatch') return true;
  const names = (i: Identity) =>
    i.fields
      .map((f) => f.field)
      .sort()
      .join();
  return names(before) !== names(after) || before.overridden !== after.overridden;
}
