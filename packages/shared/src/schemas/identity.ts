import { z } from 'zod';
import { captureTime, reasonText } from './input-rules.ts';

/**
 * Patient identity at ingest: does the DICOM file's own patient (PatientID, PatientName,
 * PatientBirthDate, PatientSex) agree with the patient the X-ray is stored under (the metadata's
 * patientId, and the Patient Service's record of that patient)?
 *
 * - `consistent`: every field both sides carry was compared and agrees (`compared` says which);
 * - `mismatch`: at least one differs (`fields` says which, and what each side said);
 * - `unknown`: nothing to compare (`reason`): not a DICOM, a DICOM without patient tags, or the
 *   Patient Service not answering yet (decided when the link settles).
 */
export const IDENTITY_STATUSES = ['consistent', 'mismatch', 'unknown'] as const;
export type IdentityStatus = (typeof IDENTITY_STATUSES)[number];

export const IDENTITY_FIELDS = ['patientId', 'patientName', 'patientBirthDate', 'patientSex'] as const;
export type IdentityField = (typeof IDENTITY_FIELDS)[number];

export const IDENTITY_UNKNOWN_REASONS = [
  /** PNG or JPEG: the file names no patient. */
  'not_dicom',
  /** A DICOM without any of the four patient tags. */
  'no_patient_tags',
  /** The file has demographics, the Patient Service did not answer yet: decided when the link settles. */
  'patient_service_unavailable',
  /** The file names no PatientID, and there is no Patient Service record to compare its demographics with. */
  'no_patient_record',
  /** Stored before identity was checked at ingest. */
  'not_checked',
] as const;

/** Where the value the file is compared with comes from. */
export const IDENTITY_SOURCES = ['metadata', 'patient_service'] as const;

/** One field that differs: what the file says, and what the patient it is stored under says. */
export const IdentityFieldMismatchSchema = z.object({
  field: z.enum(IDENTITY_FIELDS),
  /**
   * As the DICOM file has it (PatientName in DICOM PN form, `FAMILY^GIVEN`; dates YYYYMMDD; sex
   * M/F/O). A PatientID issued by another assigning authority (hint `other_issuer`) names it:
   * `P-1001 (issuer CLINIC-B)`.
   */
  file: z.string(),
  /**
   * As the metadata (patientId) or the Patient Service record (name, birth date, sex) has it; with
   * hint `other_issuer`, the hospital's own authority: `P-1001 (issuer HOSPITAL-A)`.
   */
  expected: z.string(),
  source: z.enum(IDENTITY_SOURCES),
  /**
   * `name_order`: the same name parts in another order (given and family name swapped?).
   * `other_issuer`: the file's PatientID was issued by another assigning authority
   * (IssuerOfPatientID) than the hospital's (PATIENT_ID_ISSUER): another hospital's patient,
   * even when the id reads the same.
   */
  hint: z.enum(['name_order', 'other_issuer']).optional(),
});
export type IdentityFieldMismatch = z.infer<typeof IdentityFieldMismatchSchema>;

/**
 * The paramedic's decision on the device to send the capture under the chosen patient although
 * the file's identity differs (metadata `identityOverride`). The server adds who sent it.
 */
export const IdentityOverrideInputSchema = z.strictObject({
  /** The fields the paramedic saw differ and accepted. */
  fields: z
    .array(z.enum(IDENTITY_FIELDS))
    .min(1, 'must name at least one field')
    .max(IDENTITY_FIELDS.length)
    .refine((f) => new Set(f).size === f.length, 'must not name a field twice'),
  /** Why (recorded, shown to doctors; never sent in events). */
  reason: reasonText(),
  /** When it was decided on the device (possibly offline, long before the upload). */
  decidedAt: captureTime(),
});
export type IdentityOverrideInput = z.infer<typeof IdentityOverrideInputSchema>;

export const IdentityOverrideSchema = z.object({
  fields: z.array(z.enum(IDENTITY_FIELDS)),
  reason: z.string(),
  decidedAt: z.iso.datetime({ offset: true }),
  /** Who sent it: the signed-in user whose upload carried it. */
  by: z.object({ sub: z.string(), name: z.string().nullable() }),
  /** `patient_decision`: read from `patientDecision: keep_chosen_patient` (an edge app without identityOverride). */
  from: z.enum(['identity_override', 'patient_decision']),
});
export type IdentityOverride = z.infer<typeof IdentityOverrideSchema>;

export const IdentitySchema = z
  .object({
    status: z.enum(IDENTITY_STATUSES),
    /** The fields that differ (empty unless `mismatch`). */
    fields: z.array(IdentityFieldMismatchSchema),
    /** The fields compared (both sides had a value). */
    compared: z.array(z.enum(IDENTITY_FIELDS)),
    /** For `unknown`: why there was nothing to compare (IDENTITY_UNKNOWN_REASONS). */
    reason: z.enum(IDENTITY_UNKNOWN_REASONS).optional(),
    /** A decision on the device to keep the chosen patient, as sent with the capture. */
    override: IdentityOverrideSchema.optional(),
    /** True when `override` accepted every field that differs: the mismatch stands, knowingly. */
    overridden: z.boolean(),
    checkedAt: z.iso.datetime({ offset: true }).optional(),
  })
  .meta({
    description:
      "Whether the DICOM file's own patient (PatientID, PatientName, PatientBirthDate, PatientSex) agrees with the metadata's patientId and the Patient Service record.",
  });
export type Identity = z.infer<typeof IdentitySchema>;

/** What events and change records say of identity: no values, no reason text (they name the patient). */
export const IdentityBriefSchema = z.object({
  status: z.enum(IDENTITY_STATUSES),
  fields: z.array(z.enum(IDENTITY_FIELDS)),
  overridden: z.boolean(),
});
export type IdentityBrief = z.infer<typeof IdentityBriefSchema>;

export const identityBrief = (i: Identity): IdentityBrief => ({
  status: i.status,
  fields: i.fields.map((f) => f.field),
  overridden: i.overridden,
});
