import { randomUUID } from 'node:crypto';
import type {
  Link,
  XrayDeletedEvent,
  XrayEventSubject,
  XrayLinkInvalidEvent,
  XrayUpdatedEvent,
  XrayUploadedEvent,
} from '@xray/shared';
import { LINK_INVALID_REASONS, WITHHELD_FIELDS } from '@xray/shared';
import type { Xray } from '@xray/shared';

/**
 * The events, built from the stored X-ray. Each gets its id here, once: the outbox stores it, and
 * every delivery of the event carries the same id.
 */
const base = (xrayId: string) => ({
  id: randomUUID(),
  occurredAt: new Date().toISOString(),
  source: 'xray-sync-server' as const,
  xrayId,
});

export function subjectOf(x: Xray): XrayEventSubject {
  return {
    id: x.id,
    patientId: x.patientId,
    consultationId: x.consultationId,
    capturedAt: x.capturedAt,
    capturedBy: x.capturedBy,
    deviceId: x.deviceId,
    bodyPart: x.bodyPart,
    view: x.view,
    priority: x.priority,
    contentType: x.contentType,
    sizeBytes: x.sizeBytes,
    sha256: x.sha256,
    // Status only: the summaries name the patient (name, birth date); consumers look them up by id.
    link: {
      status: x.link.status,
      ...(x.link.reason !== undefined ? { reason: x.link.reason } : {}),
      ...(x.link.checkedAt !== undefined ? { checkedAt: x.link.checkedAt } : {}),
    },
    uploadedAt: x.uploadedAt,
  };
}

export const xrayUploaded = (x: Xray): XrayUploadedEvent => ({
  ...base(x.id),
  type: 'xray.uploaded',
  data: { xray: subjectOf(x) },
});

export const xrayUpdated = (
  x: Xray,
  changes: XrayUpdatedEvent['data']['changes'],
  cause: XrayUpdatedEvent['data']['cause'],
  by: { sub: string } | null,
): XrayUpdatedEvent => ({
  ...base(x.id),
  type: 'xray.updated',
  data: { xray: subjectOf(x), changes: withheld(changes), cause, by },
});

/** Free-text fields are named as changed, their values left out of the event (and the outbox). */
const withheld = (changes: XrayUpdatedEvent['data']['changes']): XrayUpdatedEvent['data']['changes'] =>
  Object.fromEntries(
    Object.entries(changes).map(([field, change]) => [
      field,
      WITHHELD_FIELDS.includes(field) ? { before: null, after: null, withheld: true as const } : change,
    ]),
  );

export const xrayDeleted = (x: Xray, by: { sub: string } | null): XrayDeletedEvent => ({
  ...base(x.id),
  type: 'xray.deleted',
  data: {
    xray: { id: x.id, patientId: x.patientId, consultationId: x.consultationId, sha256: x.sha256 },
    by,
  },
});

type InvalidReason = XrayLinkInvalidEvent['data']['reason'];
const isInvalidReason = (r: string | undefined): r is InvalidReason => LINK_INVALID_REASONS.some((v) => v === r);

/** `xray.link_invalid` when the link is invalid, else nothing. */
export function linkInvalidIfSo(x: Xray): XrayLinkInvalidEvent | undefined {
  if (x.link.status !== 'invalid' || !isInvalidReason(x.link.reason)) return undefined;
  return { ...base(x.id), type: 'xray.link_invalid', data: { xray: subjectOf(x), reason: x.link.reason } };
}

/** Link before/after as change records show it: status and reason, without the summaries. */
export const linkBrief = (l: Link): { status: Link['status']; reason?: string } =>
  l.reason ? { status: l.status, reason: l.reason } : { status: l.status };
