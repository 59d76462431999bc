import { z } from 'zod';
import { says, pageOf } from './common.ts';
import { boundedDateTime, cursorParam, singleLineText } from './input-rules.ts';

/**
 * What the audit trail records. The database column is free text so a new action needs no
 * migration; the server only writes these.
 */
export const AUDIT_ACTIONS = [
  'xray.create',
  'xray.read',
  'xray.list',
  /** GET /changes: a page of the change feed (details: after, the ids and numbers disclosed). */
  'xray.changes',
  'xray.download',
  /** GET /xrays/{id}/preview: a rendered image of the X-ray (details: type, size, bytes, cached). */
  'xray.preview',
  'xray.update',
  'xray.delete',
  'access.denied',
  'audit.list',
  'xray.rekey',
  'outbox.list',
  'outbox.retry',
  /** A resumable upload begun, or cancelled by its creator (its completion is `xray.create`). */
  'upload.create',
  'upload.terminate',
  /** Continuing an upload (HEAD, PATCH): recorded when refused or when it fails. */
  'upload.continue',
  /** GET /roster: the patient list a device keeps offline (details: how many patients, consultations). */
  'roster.read',
  /** An edge device enrolled (its DPoP key registered), listed, revoked, or reporting its wipe. */
  'device.enroll',
  'device.list',
  'device.revoke',
  'device.wipe',
  /** `xray-admin recover`: a row rebuilt from its object's recovery record after a restore. */
  'xray.recover',
  /** `xray-admin recover`: the trail restored from a backup; the checkpoints past it set aside. */
  'audit.restore',
] as const;
export const AuditActionSchema = z.enum(AUDIT_ACTIONS);
export type AuditAction = z.infer<typeof AuditActionSchema>;

export const AUDIT_OUTCOMES = ['success', 'denied', 'failed'] as const;
export const AuditOutcomeSchema = z.enum(AUDIT_OUTCOMES);
export type AuditOutcome = z.infer<typeof AuditOutcomeSchema>;

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
/** One event of the tamper-evident audit trail, as GET /audit returns it. */
export const AuditEventSchema = z.object({
  /** Decimal string: a bigint sequence, and the order of the hash chain. */
  id: z.string().regex(/^[0-9]+$/),
  /** When the event was appended (database clock, millisecond precision). */
  at: z.iso.datetime({ offset: true }),
  /** Who acted; sub is null when the request carried no valid identity. */
  actor: z.object({ sub: z.string().nullable(), roles: z.array(z.string()) }),
  /** One of AUDIT_ACTIONS; a newer server may record actions this version does not know. */
  action: z.string(),
  xrayId: z.uuid().nullable(),
  patientId: z.string().nullable(),
  outcome: AuditOutcomeSchema,
  clientIp: z.string().nullable(),
  userAgent: z.string().nullable(),
  requestId: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  /** Hash of the previous event (64 zeros for the first). */
  prevHash: sha256Hex,
  /** SHA-256 over this event's canonical form and prevHash; `xray-admin verify-audit` recomputes it. */
  hash: sha256Hex,
});
export type AuditEvent = z.infer<typeof AuditEventSchema>;

export const AuditEventListSchema = pageOf(AuditEventSchema);
export type AuditEventList = z.infer<typeof AuditEventListSchema>;

/** GET /audit query. `format=fhir` answers a FHIR R4 Bundle of AuditEvent resources instead. */
export const AuditQuerySchema = z.strictObject({
  xrayId: z.uuid(says('must be a UUID')).optional(),
  patientId: singleLineText().trim().min(1).max(64).optional(),
  /** The actor's `sub`. */
  actor: singleLineText().min(1).max(256).optional(),
  action: AuditActionSchema.optional(),
  outcome: AuditOutcomeSchema.optional(),
  from: boundedDateTime().optional(),
  to: boundedDateTime().optional(),
  /** `desc` (default): newest first, for people; `asc`: oldest first, for export that follows the trail. */
  order: z.enum(['asc', 'desc']).default('desc'),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: cursorParam(128).optional(),
  format: z.enum(['json', 'fhir']).default('json'),
});
export type AuditQuery = z.infer<typeof AuditQuerySchema>;

// FHIR R4 (https://hl7.org/fhir/R4/auditevent.html): the subset this service emits.
const CodingSchema = z.object({ system: z.string().optional(), code: z.string(), display: z.string().optional() });
const CodeableConceptSchema = z.object({ coding: z.array(CodingSchema).optional(), text: z.string().optional() });
const IdentifierSchema = z.object({ system: z.string().optional(), value: z.string() });
const ReferenceSchema = z.object({
  reference: z.string().optional(),
  identifier: IdentifierSchema.optional(),
  display: z.string().optional(),
});

export const FhirAuditEventSchema = z.object({
  resourceType: z.literal('AuditEvent'),
  id: z.string(),
  type: CodingSchema,
  subtype: z.array(CodingSchema).optional(),
  /** C create, R read, U update, D delete, E execute (search). */
  action: z.enum(['C', 'R', 'U', 'D', 'E']).optional(),
  recorded: z.string(),
  /** 0 success, 4 minor failure, 8 serious failure, 12 major failure. */
  outcome: z.enum(['0', '4', '8', '12']),
  outcomeDesc: z.string().optional(),
  agent: z.array(
    z.object({
      type: CodeableConceptSchema.optional(),
      role: z.array(CodeableConceptSchema).optional(),
      who: ReferenceSchema.optional(),
      requestor: z.boolean(),
      network: z.object({ address: z.string(), type: z.enum(['1', '2', '3', '4', '5']) }).optional(),
    }),
  ),
  source: z.object({
    site: z.string().optional(),
    observer: ReferenceSchema,
    type: z.array(CodingSchema).optional(),
  }),
  entity: z
    .array(
      z.object({
        what: ReferenceSchema.optional(),
        type: CodingSchema.optional(),
        role: CodingSchema.optional(),
        query: z.string().optional(),
        detail: z.array(z.object({ type: z.string(), valueString: z.string() })).optional(),
      }),
    )
    .optional(),
});
export type FhirAuditEvent = z.infer<typeof FhirAuditEventSchema>;

export const FhirAuditBundleSchema = z.object({
  resourceType: z.literal('Bundle'),
  type: z.literal('searchset'),
  link: z.array(z.object({ relation: z.string(), url: z.string() })),
  entry: z.array(z.object({ fullUrl: z.string().optional(), resource: FhirAuditEventSchema })),
});
export type FhirAuditBundle = z.infer<typeof FhirAuditBundleSchema>;
