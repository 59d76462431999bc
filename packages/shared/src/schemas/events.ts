import { z } from 'zod';
import { pageOf } from './common.ts';
import { MAX_BIGINT } from './input-rules.ts';
import { LINK_INVALID_REASONS, LinkSchema, XraySchema } from './xray.ts';

/**
 * Events the sync server emits (Doctor Service webhook, RabbitMQ). Each is written to the
 * transactional outbox with the change it reports and delivered at least once: a receiver
 * de-duplicates on `id`, which stays the same on every delivery of one event.
 */
export const EVENT_TYPES = ['xray.uploaded', 'xray.updated', 'xray.deleted', 'xray.link_invalid'] as const;
export const EventTypeSchema = z.enum(EVENT_TYPES);
export type EventType = z.infer<typeof EventTypeSchema>;

/**
 * The X-ray as events describe it: ids and facts about the image, never patient demographics.
 * The resource without DICOM tags, notes, and the link's patient and consultation summaries
 * (names, birth dates): a consumer looks those up by `patientId` / `consultationId` in the
 * Patient Service, so an outbox row kept for days (or dead) holds no demographics to erase.
 */
export const XrayEventLinkSchema = LinkSchema.pick({ status: true, reason: true, checkedAt: true });
export const XrayEventSubjectSchema = XraySchema.omit({ notes: true, dicom: true, link: true }).extend({
  link: XrayEventLinkSchema,
});
export type XrayEventSubject = z.infer<typeof XrayEventSubjectSchema>;

/** Who caused a change; null for the server itself (the background link check). */
const ByActorSchema = z.object({ sub: z.string() }).nullable();

const envelope = <T extends EventType, D extends z.ZodType>(type: T, data: D) =>
  z.object({
    /** Stable event id (UUID): the same on every delivery; de-duplicate on it. */
    id: z.uuid(),
    type: z.literal(type),
    /** When the change committed (the server's clock). */
    occurredAt: z.iso.datetime({ offset: true }),
    source: z.literal('xray-sync-server'),
    xrayId: z.uuid(),
    data,
  });

export const XrayUploadedEventSchema = envelope('xray.uploaded', z.object({ xray: XrayEventSubjectSchema }));

/**
 * One corrected field: its value before and after (`link` when the link status changed). Free
 * text (`notes`) is named but its values are withheld (null): a consumer reads the X-ray itself.
 */
export const FieldChangeSchema = z.object({
  before: z.unknown(),
  after: z.unknown(),
  withheld: z.literal(true).optional(),
});

/** Corrected fields whose values never travel in an event (free text may name anyone). */
export const WITHHELD_FIELDS: readonly string[] = ['notes'];

export const XrayUpdatedEventSchema = envelope(
  'xray.updated',
  z.object({
    xray: XrayEventSubjectSchema,
    changes: z.record(z.string(), FieldChangeSchema),
    /** `correction`: PATCH /xrays/{id}; `link_check`: a pending link settled in the background. */
    cause: z.enum(['correction', 'link_check']),
    by: ByActorSchema,
  }),
);

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

export const XrayLinkInvalidEventSchema = envelope(
  'xray.link_invalid',
  z.object({ xray: XrayEventSubjectSchema, reason: z.enum(LINK_INVALID_REASONS) }),
);

export const XrayEventSchema = z.discriminatedUnion('type', [
  XrayUploadedEventSchema,
  XrayUpdatedEventSchema,
  XrayDeletedEventSchema,
  XrayLinkInvalidEventSchema,
]);
export type XrayEvent = z.infer<typeof XrayEventSchema>;
export type XrayUploadedEvent = z.infer<typeof XrayUploadedEventSchema>;
export type XrayUpdatedEvent = z.infer<typeof XrayUpdatedEventSchema>;
export type XrayDeletedEvent = z.infer<typeof XrayDeletedEventSchema>;
export type XrayLinkInvalidEvent = z.infer<typeof XrayLinkInvalidEventSchema>;

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
  event: XrayEventSchema,
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
