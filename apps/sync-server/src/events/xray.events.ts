import { randomUUID } from 'node:crypto';
import type {
  DicomSummary,
  DicomTags,
  Link,
  XrayDeletedEvent,
  XrayEvent,
  XrayEventLinks,
  XrayEventSubject,
  XrayIdentityMismatchEvent,
  XrayLinkInvalidEvent,
  XrayUpdatedEvent,
  XrayUploadedEvent,
} from '@xray/shared';
import {
  DicomSummarySchema,
  EVENT_SCHEMA_VERSION,
  identityBrief,
  LINK_INVALID_REASONS,
  XrayEventSchema,
} from '@xray/shared';
import type { Identity, Xray } from '@xray/shared';
import { newMismatch } from '../ingest/identity.ts';
import { publicHref } from '../http/public-url.ts';

/**
 * The events, built from the stored X-ray. Each gets its id here, once: the outbox stores it, and
 * every delivery of the event carries the same id. Builders give drafts without `links`: the
 * outbox writer addresses them (`addressed`), as only it knows the server's public URL.
 */
type Unaddressed<E> = E extends { links: XrayEventLinks } ? Omit<E, 'links'> : E;
export type XrayEventDraft = Unaddressed<XrayEvent>;

/** `sequence`: the change the event reports (xrays.change_seq, or the deletion's own). */
const base = (x: Pick<Xray, 'id' | 'changeSeq'>) => ({
  schemaVersion: EVENT_SCHEMA_VERSION,
  id: randomUUID(),
  occurredAt: new Date().toISOString(),
  source: 'xray-sync-server' as const,
  xrayId: x.id,
  sequence: x.changeSeq,
});

/** The technical DICOM facts events carry; the schema names them one by one (patient tags stripped). */
export const dicomSummaryOf = (tags: DicomTags | null): DicomSummary | null =>
  tags ? DicomSummarySchema.parse(tags) : null;

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
    notes: x.notes,
    contentType: x.contentType,
    sizeBytes: x.sizeBytes,
    sha256: x.sha256,
    dicom: dicomSummaryOf(x.dicom),
    // Status only: the summaries name the patient (name, birth date); consumers look them up by id.
    link: {
      status: x.link.status,
      ...(x.link.reason !== undefined ? { reason: x.link.reason } : {}),
      ...(x.link.checkedAt !== undefined ? { checkedAt: x.link.checkedAt } : {}),
    },
    // Status and the names of the fields that differ: their values name the patient.
    identity: identityBrief(x.identity),
    dicomUidConflict: x.dicomUidConflict,
    uploadedAt: x.uploadedAt,
    changeSeq: x.changeSeq,
  };
}

export const xrayUploaded = (x: Xray): Omit<XrayUploadedEvent, 'links'> => ({
  ...base(x),
  type: 'xray.uploaded',
  data: { xray: subjectOf(x) },
});

export const xrayUpdated = (
  x: Xray,
  changes: XrayUpdatedEvent['data']['changes'],
  cause: XrayUpdatedEvent['data']['cause'],
  by: { sub: string } | null,
): Omit<XrayUpdatedEvent, 'links'> => ({
  ...base(x),
  type: 'xray.updated',
  data: { xray: subjectOf(x), changes, cause, by },
});

/** `x.changeSeq` is the deletion's own sequence (set by the delete before this is built). */
export const xrayDeleted = (x: Xray, by: { sub: string } | null): XrayDeletedEvent => ({
  ...base(x),
  type: 'xray.deleted',
  data: {
    xray: { id: x.id, patientId: x.patientId, consultationId: x.consultationId, sha256: x.sha256 },
    by,
  },
});

type InvalidReason = XrayLinkInvalidEvent['data']['reason'];
const isInvalidReason = (r: string | undefined): r is InvalidReason => LINK_INVALID_REASONS.some((v) => v === r);

/** `xray.link_invalid` when the link is invalid, else nothing. */
export function linkInvalidIfSo(x: Xray): Omit<XrayLinkInvalidEvent, 'links'> | undefined {
  if (x.link.status !== 'invalid' || !isInvalidReason(x.link.reason)) return undefined;
  return { ...base(x), type: 'xray.link_invalid', data: { xray: subjectOf(x), reason: x.link.reason } };
}

/**
 * `xray.identity_mismatch` when the file's patient differs from the stored one and that is news
 * (`before`: the identity the X-ray had; undefined for a new X-ray), else nothing. Field names, and
 * who overrode when; no values and no reason text (they name the patient).
 */
export function identityMismatchIfNew(
  before: Identity | undefined,
  x: Xray,
  cause: XrayIdentityMismatchEvent['data']['cause'],
): Omit<XrayIdentityMismatchEvent, 'links'> | undefined {
  const identity = x.identity;
  if (!newMismatch(before, identity)) return undefined;
  const o = identity.override;
  return {
    ...base(x),
    type: 'xray.identity_mismatch',
    data: {
      xray: subjectOf(x),
      fields: identity.fields.map((f) => f.field),
      overridden: identity.overridden,
      ...(o ? { override: { by: { sub: o.by.sub }, decidedAt: o.decidedAt, fields: o.fields } } : {}),
      cause,
    },
  };
}

/** Link before/after as change records show it: status and reason, without the summaries. */
export const linkBrief = (l: Link): { status: Link['status']; reason?: string } =>
  l.reason ? { status: l.status, reason: l.reason } : { status: l.status };

/** A link's change as events and the audit trail report it: when its status or reason changed, else undefined. */
export const linkChangeOf = (before: Link, after: Link) =>
  before.status !== after.status || before.reason !== after.reason
    ? { before: linkBrief(before), after: linkBrief(after) }
    : undefined;

/**
 * Where an X-ray is read back, under `publicUrl` (its path prefix kept, as tus Location URLs keep it):
 * the resource, the original bytes, and a rendered preview (`GET /xrays/{id}/preview`).
 */
export function xrayLinks(publicUrl: string, xrayId: string): XrayEventLinks {
  const self = publicHref(publicUrl, `/xrays/${xrayId}`);
  return { self, download: `${self}/download`, preview: `${self}/preview` };
}

/**
 * The draft with its links, checked against the published schema: an event that does not match
 * it fails the transaction it was to be written in, rather than reaching a consumer.
 */
export function addressed(draft: XrayEventDraft, publicUrl: string): XrayEvent {
  return XrayEventSchema.parse(
    draft.type === 'xray.deleted' ? draft : { ...draft, links: xrayLinks(publicUrl, draft.xrayId) },
  );
}
