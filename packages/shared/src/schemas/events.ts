import { z } from 'zod';
import { pageOf } from './common.ts';
import { changeSeq, MAX_BIGINT } from './input-rules.ts';
import { DicomTagsSchema } from '../media/dicom-tags.ts';
import { IDENTITY_FIELDS, IdentityBriefSchema } from './identity.ts';
import { LINK_INVALID_REASONS, LinkSchema, XraySchema } from './xray.ts';

/**
 * Events the sync server emits (Doctor Service webhook, RabbitMQ). Each is written to the
 * transactional outbox with the change it reports and delivered at least once: a receiver
 * de-duplicates on `id`, which stays the same on every delivery of one event. docs/events.md
 * shows an example of each.
 */
export const EVENT_TYPES = [
  'xray.uploaded',
  'xray.updated',
  'xray.deleted',
  'xray.link_invalid',
  'xray.identity_mismatch',
] as const;
export const EventTypeSchema = z.enum(EVENT_TYPES);
export type EventType = z.infer<typeof EventTypeSchema>;

/**
 * The version of the event shapes below. Raised when a field is removed or changes meaning;
 * fields may be added within a version, so a consumer ignores fields it does not know.
 * 1: ids only (no links, notes, DICOM summary or sequence); 2: what a worklist needs.
 */
export const EVENT_SCHEMA_VERSION = 2 as const;

/**
 * Where a consumer reads the X-ray back: absolute URLs under the server's PUBLIC_URL, each
 * answered to a bearer token with a role that may read it.
 */
export const XrayEventLinksSchema = z.object({
  /** GET: the X-ray resource (metadata, link, notes). */
  self: z.url(),
  /** GET: the original image bytes (`Range` supported). */
  download: z.url(),
  /**
   * GET: a rendered preview, JPEG (or PNG by Accept), `?size=` 64..2048 (default 512): what a
   * worklist shows without a DICOM viewer. Optional: events written before it existed lack it.
   */
  preview: z.url().optional(),
});
export type XrayEventLinks = z.infer<typeof XrayEventLinksSchema>;

/**
 * What events say of a DICOM file: the study, series and instance it belongs to and how the
 * image is made, so a worklist can group and show it without downloading it. Technical facts
 * only, named one by one: the file's patient name and id (and anything added to the extracted
 * tags later) never travel in an event.
 */
export const DicomSummarySchema = DicomTagsSchema.pick({
  modality: true,
  bodyPartExamined: true,
  viewPosition: true,
  studyDate: true,
  studyInstanceUid: true,
  seriesInstanceUid: true,
  sopInstanceUid: true,
  rows: true,
  columns: true,
  bitsAllocated: true,
  transferSyntaxUid: true,
});
export type DicomSummary = z.infer<typeof DicomSummarySchema>;

/**
 * The X-ray as events describe it: the resource with its notes and a DICOM summary, and the
 * link's status without the Patient Service's summaries (names, birth dates): a consumer looks
 * the patient up by `patientId`. When the X-ray is deleted, its events still in the outbox are
 * scrubbed (`scrubbed: true`): notes and the DICOM summary become null, so none of it lingers.
 */
export const XrayEventLinkSchema = LinkSchema.pick({ status: true, reason: true, checkedAt: true });
export const XrayEventSubjectSchema = XraySchema.omit({ dicom: true, link: true, identity: true }).extend({
  link: XrayEventLinkSchema,
  dicom: DicomSummarySchema.nullable(),
  /**
   * The identity check's status and the names of the fields that differ, never their values
   * (absent from events written before identity was checked).
   */
  identity: IdentityBriefSchema.optional(),
  /** As on the resource, when the event was written (absent from events written before it was told). */
  dicomUidConflict: z.boolean().optional(),
});
export type XrayEventSubject = z.infer<typeof XrayEventSubjectSchema>;

/** Who caused a change; null for the server itself (the background link check). */
const ByActorSchema = z.object({ sub: z.string() }).nullable();

/** The change sequence (GET /changes, `Xray.changeSeq`): strictly increasing in commit order. */
export const ChangeSequenceSchema = changeSeq();

const envelope = <T extends EventType, D extends z.ZodType>(type: T, data: D) =>
  z.object({
    schemaVersion: z.literal(EVENT_SCHEMA_VERSION),
    /** Stable event id (UUID): the same on every delivery; de-duplicate on it. */
    id: z.uuid(),
    type: z.literal(type),
    /** When the change committed (the server's clock). */
    occurredAt: z.iso.datetime({ offset: true }),
    source: z.literal('xray-sync-server'),
    xrayId: z.uuid(),
    /**
     * The sequence of the change this event reports: an X-ray's events carry increasing
     * sequences (an `xray.link_invalid` shares the one of the upload or correction it comes
     * with). A consumer that has seen a higher one for this X-ray may ignore the event.
     */
    sequence: ChangeSequenceSchema,
    data,
    /** Present (true) when the X-ray was deleted before this event was delivered: notes and DICOM summary removed. */
    scrubbed: z.literal(true).optional(),
  });

const linked = <T extends EventType, D extends z.ZodType>(type: T, data: D) =>
  envelope(type, data).extend({ links: XrayEventLinksSchema });

export const XrayUploadedEventSchema = linked('xray.uploaded', z.object({ xray: XrayEventSubjectSchema }));

/**
 * One corrected field: its value before and after (`link` when the link status changed).
 * `withheld`: the values were removed (notes of a deleted X-ray, or an event of schema version 1).
 */
export const FieldChangeSchema = z.object({
  before: z.unknown(),
  after: z.unknown(),
  withheld: z.literal(true).optional(),
});

export const XrayUpdatedEventSchema = linked(
  'xray.updated',
  z.object({
    xray: XrayEventSubjectSchema,
    changes: z.record(z.string(), FieldChangeSchema),
    /**
     * `correction`: PATCH /xrays/{id}; `link_check`: a pending link settled in the background;
     * `identity_check`: an X-ray stored before identity was checked, checked by `xray-admin identity-check`;
     * `dicom_uid_holder`: `dicomUidConflict` changed without the X-ray being written (the file holding
     * its SOP Instance UID was deleted, or it was indexed late under a UID another file holds).
     */
    cause: z.enum(['correction', 'link_check', 'identity_check', 'dicom_uid_holder']),
    by: ByActorSchema,
  }),
);

/** The X-ray is gone: ids only, and no links (they would answer 404). */
export const XrayDeletedEventSchema = envelope(
  'xray.deleted',
  z.object({
    xray: z.object({
      id: z.uuid(),
      patientId: z.string(),
      consultationId: z.string().nullable(),
      sha256: z.string(),
    }),
    by: ByActorSchema,
  }),
);

export const XrayLinkInvalidEventSchema = linked(
  'xray.link_invalid',
  z.object({ xray: XrayEventSubjectSchema, reason: z.enum(LINK_INVALID_REASONS) }),
);

/**
 * The DICOM file names another patient than the one the X-ray is stored under (PatientID,
 * PatientName, PatientBirthDate or PatientSex differ). Which fields, not their values: a consumer
 * reads the X-ray (`links.self`) to see them. `override`: the paramedic knowingly kept the chosen
 * patient on the device (who and when; the reason is on the X-ray, not here).
 */
export const XrayIdentityMismatchEventSchema = linked(
  'xray.identity_mismatch',
  z.object({
    xray: XrayEventSubjectSchema,
    fields: z.array(z.enum(IDENTITY_FIELDS)).min(1),
    overridden: z.boolean(),
    override: z
      .object({
        by: z.object({ sub: z.string() }),
        decidedAt: z.iso.datetime({ offset: true }),
        fields: z.array(z.enum(IDENTITY_FIELDS)),
      })
      .optional(),
    /**
     * `upload`: found when stored; `link_check`: when a pending link settled; `correction`: after PATCH;
     * `identity_check`: an X-ray stored before identity was checked, checked by `xray-admin identity-check`.
     */
    cause: z.enum(['upload', 'link_check', 'correction', 'identity_check']),
  }),
);

/** Every event the server sends now (schema version 2), told apart by `type`. */
export const XrayEventSchema = z.discriminatedUnion('type', [
  XrayUploadedEventSchema,
  XrayUpdatedEventSchema,
  XrayDeletedEventSchema,
  XrayLinkInvalidEventSchema,
  XrayIdentityMismatchEventSchema,
]);
export type XrayEvent = z.infer<typeof XrayEventSchema>;
export type XrayUploadedEvent = z.infer<typeof XrayUploadedEventSchema>;
export type XrayUpdatedEvent = z.infer<typeof XrayUpdatedEventSchema>;
export type XrayDeletedEvent = z.infer<typeof XrayDeletedEventSchema>;
export type XrayLinkInvalidEvent = z.infer<typeof XrayLinkInvalidEventSchema>;
export type XrayIdentityMismatchEvent = z.infer<typeof XrayIdentityMismatchEventSchema>;

/**
 * Schema version 1, as a release before version 2 wrote it: ids only. Events of it still in the
 * outbox at an upgrade (or written by a replica not yet upgraded) are delivered as written,
 * marked `schemaVersion: 1`.
 */
const v1Subject = XrayEventSubjectSchema.omit({
  notes: true,
  dicom: true,
  changeSeq: true,
  identity: true,
  dicomUidConflict: true,
});
const v1 = <T extends EventType, D extends z.ZodType>(type: T, data: D) =>
  z.object({
    schemaVersion: z.literal(1).default(1),
    id: z.uuid(),
    type: z.literal(type),
    occurredAt: z.iso.datetime({ offset: true }),
    source: z.literal('xray-sync-server'),
    xrayId: z.uuid(),
    data,
  });
export const XrayEventV1Schema = z.discriminatedUnion('type', [
  v1('xray.uploaded', z.object({ xray: v1Subject })),
  v1(
    'xray.updated',
    z.object({
      xray: v1Subject,
      changes: z.record(z.string(), FieldChangeSchema),
      cause: z.enum(['correction', 'link_check']),
      by: ByActorSchema,
    }),
  ),
  XrayDeletedEventSchema.omit({ schemaVersion: true, sequence: true, scrubbed: true }).extend({
    schemaVersion: z.literal(1).default(1),
  }),
  v1('xray.link_invalid', z.object({ xray: v1Subject, reason: z.enum(LINK_INVALID_REASONS) })),
]);
export type XrayEventV1 = z.infer<typeof XrayEventV1Schema>;

/** An event as the outbox holds and delivers it: version 2, or a version 1 one written before. */
export const StoredXrayEventSchema = z.union([XrayEventSchema, XrayEventV1Schema]);
export type StoredXrayEvent = z.infer<typeof StoredXrayEventSchema>;

// The outbox as admins see it (GET /admin/outbox).

export const DELIVERY_STATES = ['pending', 'delivered', 'dead'] as const;
export const DeliveryStateSchema = z.enum(DELIVERY_STATES);
export type DeliveryState = z.infer<typeof DeliveryStateSchema>;

/** One event's delivery to one sink (`webhook`, `amqp`): each sink is tracked on its own. */
export const OutboxDeliverySchema = z.object({
  sink: z.string(),
  state: DeliveryStateSchema,
  /** Every try so far, the current one included. */
  attempts: z.number().int().nonnegative(),
  /** Tries the sink refused or left unanswered; at OUTBOX_MAX_ATTEMPTS the delivery is dead. An unreachable sink does not count. */
  failures: z.number().int().nonnegative(),
  /** Pending: not before this time (also the end of a running attempt's lease). */
  nextAttemptAt: z.iso.datetime({ offset: true }).nullable(),
  lastAttemptAt: z.iso.datetime({ offset: true }).nullable(),
  lastError: z.string().nullable(),
  deliveredAt: z.iso.datetime({ offset: true }).nullable(),
});
export type OutboxDelivery = z.infer<typeof OutboxDeliverySchema>;

export const OutboxEntrySchema = z.object({
  id: z.uuid(),
  type: EventTypeSchema,
  xrayId: z.uuid().nullable(),
  createdAt: z.iso.datetime({ offset: true }),
  deliveries: z.array(OutboxDeliverySchema),
  event: StoredXrayEventSchema,
});
export type OutboxEntry = z.infer<typeof OutboxEntrySchema>;

export const OutboxListSchema = pageOf(OutboxEntrySchema);
export type OutboxList = z.infer<typeof OutboxListSchema>;

/** GET /admin/outbox: events with at least one delivery in `state` (default: pending or dead). */
export const OutboxQuerySchema = z.strictObject({
  state: z.enum(['pending', 'dead']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z
    .string()
    .regex(/^[0-9]{1,19}$/, 'is not a cursor this server issued')
    // A sequence number: beyond a bigint it is no cursor, and PostgreSQL would refuse it.
    .refine((v) => !/^[0-9]+$/.test(v) || BigInt(v) <= MAX_BIGINT, 'is not a cursor this server issued')
    .optional(),
});
export type OutboxQuery = z.infer<typeof OutboxQuerySchema>;

export const OutboxRetryResultSchema = z.object({
  /** Deliveries put back to pending (dead ones with their failures reset, and waiting ones moved to now). */
  retried: z.number().int().nonnegative(),
  entry: OutboxEntrySchema,
});
export type OutboxRetryResult = z.infer<typeof OutboxRetryResultSchema>;
