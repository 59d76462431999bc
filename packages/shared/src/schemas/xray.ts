import { z } from 'zod';
import { says, pageOf } from './common.ts';
import {
  boundedDateTime,
  captureTime,
  changeSeq,
  changeSeqParam,
  cleanString,
  cursorParam,
  multiLineText,
  reasonText,
  singleLineText,
} from './input-rules.ts';
import { DicomTagsSchema } from '../media/dicom-tags.ts';
import { IDENTITY_STATUSES, IdentityOverrideInputSchema, IdentitySchema } from './identity.ts';

// "is required" reads better to a person than zod's "expected string, received undefined".
z.config({
  customError: (issue) => (issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : undefined),
});

/** What the client chooses; the server fills in the rest. */
export const PRIORITIES = ['routine', 'urgent'] as const;
export const CONTENT_TYPES = ['application/dicom', 'image/png', 'image/jpeg'] as const;
/** DICOM (0018,5101) View Position defined terms, plus OTHER. */
export const VIEWS = ['AP', 'PA', 'LL', 'RL', 'LAT', 'OBL', 'LLD', 'RLD', 'OTHER'] as const;

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex SHA-256 (64 characters)');

/** Identifiers issued by the Patient Service: opaque, printable, no spaces. */
const externalId = cleanString()
  .trim()
  .min(1, { message: 'is required', abort: true })
  .max(64, 'must be at most 64 characters')
  .regex(/^[A-Za-z0-9._:-]+$/, 'may contain only letters, digits and . _ : -');

export const XrayIdSchema = z.uuid(says('must be a UUID'));

/** DICOM (0018,0015) Body Part Examined: upper-case code string, at most 16 characters. */
const bodyPart = cleanString()
  .trim()
  .toUpperCase()
  .regex(/^[A-Z0-9_ ]{1,16}$/, 'must be a DICOM body part code, e.g. CHEST (1–16 letters)');

/** Free text for the doctor: may span lines. */
const notes = multiLineText().max(2000, 'must be at most 2000 characters');

/**
 * The paramedic's answer when the file names another patient than the one chosen, or the chosen
 * id is not on the device's roster: `use_file_patient` (patientId is the file's), or
 * `keep_chosen_patient` with a reason. Without one, an X-ray whose DICOM PatientID differs from
 * patientId is never recorded as verified.
 */
export const PATIENT_DECISIONS = ['use_file_patient', 'keep_chosen_patient'] as const;
export type PatientDecision = (typeof PATIENT_DECISIONS)[number];

/** The metadata a client sends with an image (POST /xrays `metadata` part, tus Upload-Metadata). */
export const XrayMetadataInputSchema = z
  .strictObject({
    id: XrayIdSchema.optional(),
    patientId: externalId,
    consultationId: externalId.optional(),
    capturedAt: captureTime(),
    deviceId: singleLineText().trim().min(1).max(128).optional(),
    bodyPart,
    view: z.enum(VIEWS),
    priority: z.enum(PRIORITIES).default('routine'),
    notes: notes.optional(),
    /** Plaintext SHA-256 the client computed; the server verifies it when given. */
    sha256: sha256Hex.optional(),
    patientDecision: z.enum(PATIENT_DECISIONS).optional(),
    /** Why the chosen patient was kept (required with `keep_chosen_patient`). */
    patientDecisionReason: reasonText().optional(),
    /**
     * The paramedic sends the capture under the chosen patient although the file's patient
     * (PatientID, PatientName, PatientBirthDate, PatientSex) differs: recorded and audited with the
     * X-ray's identity check, which stays `mismatch` and says `overridden`.
     */
    identityOverride: IdentityOverrideInputSchema.optional(),
  })
  .superRefine((v, ctx) => {
    if (v.patientDecision === 'keep_chosen_patient' && !v.patientDecisionReason)
      ctx.addIssue({
        code: 'custom',
        path: ['patientDecisionReason'],
        message: 'is required to keep the chosen patient',
      });
  });
export type XrayMetadataInput = z.infer<typeof XrayMetadataInputSchema>;

/**
 * PATCH /xrays/{id}: the fields a capture may be corrected in (a wrong patient picked in a hurry).
 * `null` clears consultationId or notes; absent fields stay as they are.
 */
export const XrayUpdateSchema = z
  .strictObject({
    patientId: externalId.optional(),
    consultationId: externalId.nullable().optional(),
    bodyPart: bodyPart.optional(),
    view: z.enum(VIEWS).optional(),
    notes: notes.nullable().optional(),
  })
  .refine((v) => Object.values(v).some((f) => f !== undefined), {
    message: 'name at least one of patientId, consultationId, bodyPart, view, notes',
  });
export type XrayUpdate = z.infer<typeof XrayUpdateSchema>;

/**
 * How an X-ray is tied to the Patient Service: `verified` (the patient exists and the consultation, if any,
 * is theirs), `invalid` (unknown patient or consultation, or a consultation of another patient; `reason`
 * says which), `pending` (the service could not be asked; re-checked in the background until settled),
 * `unchecked` (no Patient Service configured).
 */
export const LINK_STATUSES = ['verified', 'pending', 'invalid', 'unchecked'] as const;
export const LINK_INVALID_REASONS = [
  'unknown_patient',
  'unknown_consultation',
  'consultation_of_other_patient',
  /** The file's DICOM PatientID names another patient and nobody decided (PATIENT_DECISIONS). */
  'file_patient_mismatch',
] as const;
export const LinkSchema = z.object({
  status: z.enum(LINK_STATUSES),
  /** For `invalid`: one of LINK_INVALID_REASONS; for `pending`: why it could not be checked. */
  reason: z.string().optional(),
  /** When the Patient Service last answered for this link. */
  checkedAt: z.iso.datetime({ offset: true }).optional(),
  patient: z.record(z.string(), z.unknown()).optional(),
  consultation: z.record(z.string(), z.unknown()).optional(),
  /** The paramedic's decision sent with the X-ray, when there was one. */
  decision: z.object({ choice: z.enum(PATIENT_DECISIONS), reason: z.string().optional() }).optional(),
});
export type Link = z.infer<typeof LinkSchema>;

export const ActorRefSchema = z.object({ sub: z.string(), name: z.string().nullable() });

/** The X-ray resource the API returns. */
export const XraySchema = z.object({
  id: z.uuid(),
  patientId: z.string(),
  consultationId: z.string().nullable(),
  capturedAt: z.iso.datetime({ offset: true }),
  capturedBy: ActorRefSchema,
  deviceId: z.string().nullable(),
  bodyPart: z.string(),
  view: z.string(),
  priority: z.enum(PRIORITIES),
  notes: z.string().nullable(),
  contentType: z.enum(CONTENT_TYPES),
  sizeBytes: z.number().int().nonnegative(),
  sha256: sha256Hex,
  dicom: DicomTagsSchema.nullable(),
  link: LinkSchema,
  identity: IdentitySchema,
  // Defaults to false: an edge newer than its server (which does not send it yet) still reads the X-ray.
  dicomUidConflict: z.boolean().default(false).meta({
    description:
      "True when another file (other bytes), indexed before this one, holds this X-ray's DICOM SOP Instance UID: DICOMweb (QIDO-RS, WADO-RS, frames, rendered) serves that file under the UID, and this X-ray's image only through REST (`GET /xrays/{id}/download`, `/preview`). Judged when read: if the earlier X-ray is deleted, this one takes the UID and the flag is false. Always false for a PNG or JPEG.",
  }),
  uploadedAt: z.iso.datetime({ offset: true }),
  changeSeq: changeSeq().meta({
    description:
      'The number of the latest change of this X-ray (created, corrected, link settled) in the change feed (`GET /changes`); larger means later.',
  }),
});
export type Xray = z.infer<typeof XraySchema>;

export const XrayListSchema = pageOf(XraySchema);
export type XrayList = z.infer<typeof XrayListSchema>;

/** At most this many `patientId`s in one list request. */
export const MAX_LIST_PATIENTS = 50;
export const LIST_ORDERS = ['desc', 'asc'] as const;

/**
 * GET /xrays. Without `changedSince`: ordered by capture time (newest first unless `order=asc`).
 * With it: X-rays whose latest change is numbered above it, ordered by that number (`order`
 * defaults to `asc`, the order in which a list never misses a change made while it is paged).
 */
export const XrayListQuerySchema = z.strictObject({
  // `patientId=A&patientId=B`: any of them. One value arrives as a string, several as an array.
  patientId: z
    .preprocess(
      (v) => (typeof v === 'string' ? [v] : v),
      z.array(externalId).min(1).max(MAX_LIST_PATIENTS, `must name at most ${MAX_LIST_PATIENTS} patients`),
    )
    .optional(),
  consultationId: externalId.optional(),
  /** Capture time from (inclusive) and to (exclusive). */
  from: boundedDateTime().optional(),
  to: boundedDateTime().optional(),
  /** Upload time (when the server stored it) from (inclusive) and to (exclusive). */
  uploadedFrom: boundedDateTime().optional(),
  uploadedTo: boundedDateTime().optional(),
  changedSince: changeSeqParam().optional(),
  /** Only X-rays whose identity check has this status (`mismatch`: the file names someone else). */
  identity: z.enum(IDENTITY_STATUSES).optional(),
  order: z.enum(LIST_ORDERS).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: cursorParam(512).optional(),
});
export type XrayListQuery = z.infer<typeof XrayListQuerySchema>;

export type ContentType = (typeof CONTENT_TYPES)[number];
export type Priority = (typeof PRIORITIES)[number];
