import type { XrayMetadataInput } from '@xray/shared';
import type { Actor } from '../auth/actor.ts';
import { DomainError } from '../errors.ts';
import type { XrayRecord } from '../xrays/xray.repository.ts';

/**
 * The repeat rule, one for both doors (POST /xrays; tus creation and finish): a client-chosen id
 * that is already stored. Only an exact replay — the same user, the same declared details, the
 * same bytes — is answered with the stored X-ray (200: an edge whose response was lost learns the
 * outcome). Anything else is one 409 whose body is the same whatever differed, so a replay tells
 * nothing about the stored X-ray (not whose it is, not its hash, not its details); only the audit
 * trail says why (a denial for another user, the differing field names for the owner).
 *
 * The details are compared with the X-ray as it is now, not as first sent: an edge that resends
 * after correcting the patient (PATCH /xrays/{id}, the sent-link fix) sends what is stored.
 */

/** The declared fields a replay must repeat, and how each reads on the stored X-ray. */
const DECLARED: Record<string, (x: XrayRecord, m: XrayMetadataInput) => [unknown, unknown]> = {
  patientId: (x, m) => [x.patientId, m.patientId],
  consultationId: (x, m) => [x.consultationId, m.consultationId ?? null],
  // Instants, whatever the offset or precision they were written with.
  capturedAt: (x, m) => [Date.parse(x.capturedAt), Date.parse(m.capturedAt)],
  deviceId: (x, m) => [x.deviceId, m.deviceId ?? null],
  bodyPart: (x, m) => [x.bodyPart, m.bodyPart],
  view: (x, m) => [x.view, m.view],
  priority: (x, m) => [x.priority, m.priority],
  notes: (x, m) => [x.notes, m.notes ?? null],
  // Stored on the link, as arrivalLink records it (a reason only with a decision).
  patientDecision: (x, m) => [x.link.decision?.choice ?? null, m.patientDecision ?? null],
  patientDecisionReason: (x, m) => [
    x.link.decision?.reason ?? null,
    (m.patientDecision ? m.patientDecisionReason : undefined) ?? null,
  ],
  // Stored on the identity check, as ingest/identity.ts overrideOf records it (instants as ISO).
  identityOverride: (x, m) => [
    x.identity.override?.from === 'identity_override'
      ? JSON.stringify([x.identity.override.fields, x.identity.override.reason, x.identity.override.decidedAt])
      : null,
    m.identityOverride
      ? JSON.stringify([
          m.identityOverride.fields,
          m.identityOverride.reason,
          new Date(m.identityOverride.decidedAt).toISOString(),
        ])
      : null,
  ],
};

/** Names (never values) of the declared fields in which `metadata` differs from the stored X-ray. */
export function differingFields(existing: XrayRecord, metadata: XrayMetadataInput): string[] {
  return Object.entries(DECLARED)
    .filter(([, read]) => {
      const [stored, sent] = read(existing, metadata);
      return stored !== sent;
    })
    .map(([field]) => field);
}

/**
 * The one answer to a replay that is not exact (and to another user's late upload of a deleted
 * id): no id, hash, owner or field echoed.
 */
export const replayRefused = (options: { denial?: string; auditDetails?: Record<string, unknown> }): DomainError =>
  new DomainError(
    'conflict',
    'This X-ray id is already used by a stored X-ray that this request does not repeat exactly (same user, details and bytes); nothing was stored. Send a new capture under a new id; correct a stored X-ray with PATCH /xrays/{id}.',
    undefined,
    options,
  );

/**
 * The rule's first half, before any byte is read: the same user, with the same declared details.
 * Another user (an admin who may read it included) is refused as a denial.
 */
export function assertMayRepeat(actor: Actor, existing: XrayRecord, metadata: XrayMetadataInput): void {
  if (existing.capturedBy.sub !== actor.sub) throw replayRefused({ denial: 'not_owner' });
  const differs = differingFields(existing, metadata);
  if (differs.length) throw replayRefused({ auditDetails: { differs } });
}

/** The whole rule: the stored X-ray when this is an exact replay of it (bytes by their sha256), else the 409. */
export function repeatOf(
  actor: Actor,
  existing: XrayRecord,
  metadata: XrayMetadataInput,
  sha256: string | undefined,
): XrayRecord {
  assertMayRepeat(actor, existing, metadata);
  if (existing.sha256 !== sha256) throw replayRefused({ auditDetails: { differs: ['content'] } });
  return existing;
}
