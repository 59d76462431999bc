import { appendAuditBatch, type AuditContext, type AuditEventInput } from '../audit/audit.service.ts';
import type { PoolClient } from '../db/pool.ts';
import type { OutboxWriter } from '../events/outbox.repository.ts';
import { xrayUpdated } from '../events/xray.events.ts';
import { xrayChangeRepository } from '../xrays/xray-changes.repository.ts';
import { xrayRepository } from '../xrays/xray.repository.ts';
import { firstFileUnder, firstXrayUnder, LOCK_SOP_UID } from './sop-uid-holder.ts';

/**
 * `Xray.dicomUidConflict` is judged when read (sop-uid-holder.ts), so it can change without the
 * X-ray being written: when the file holding its SOP Instance UID is deleted (the next one takes
 * the UID), or when `xray-admin dicom-index` indexes an old X-ray under a UID another file holds.
 * A client that syncs by the change feed or the events would keep the old value; these changes
 * give each such X-ray a change of its own, an `xray.updated` event (cause `dicom_uid_holder`)
 * and an `xray.update` audit event, in the transaction that caused it.
 */
export interface ConflictFlip {
  xrayId: string;
  before: boolean;
  after: boolean;
}

/**
 * Before deleting X-ray `xrayId`: the SOP Instance UID it holds, if it holds one (only then can
 * its deletion change another X-ray's flag), under the UID's lock (held to COMMIT, as finalize
 * takes it; taken before the X-ray's row is locked, in finalize's order). Under the lock, no other
 * writer changes which file holds the UID until this transaction ends.
 */
async function lockHeldUid(tx: PoolClient, xrayId: string): Promise<string | undefined> {
  // Its index row's UID, or, not indexed (yet), its file's (the DICOM summary): `xray-admin
  // dicom-index` may be indexing it now, under the lock; then this waits for that to commit, and
  // sees whether it holds the UID, rather than deleting it unseen while an upload joins the UID.
  const { rows } = await tx.query<{ sop_uid: string | null }>(
    `SELECT coalesce(d.sop_uid, x.dicom->>'sopInstanceUid') AS sop_uid
       FROM xrays x LEFT JOIN dicom_instances d ON d.xray_id = x.id WHERE x.id = $1`,
    [xrayId],
  );
  const uid = rows[0]?.sop_uid ?? undefined;
  if (uid === undefined) return undefined;
  await tx.query(LOCK_SOP_UID, [uid]);
  const held = await tx.query<{ holds: boolean }>(`SELECT ${firstXrayUnder('$1::text')} = $2::uuid AS holds`, [
    uid,
    xrayId,
  ]);
  return held.rows[0]?.holds ? uid : undefined;
}

/** Every X-ray marked as sharing `sopUid` (xrays.dicom_uid_shared), with its dicomUidConflict now. */
async function conflictsUnder(tx: PoolClient, sopUid: string): Promise<Map<string, boolean>> {
  const { rows } = await tx.query<{ id: string; conflict: boolean }>(
    `SELECT x.id, coalesce(${firstFileUnder('$1::text')} <> x.sha256, false) AS conflict
       FROM dicom_instances d JOIN xrays x ON x.id = d.xray_id
      WHERE d.sop_uid = $1 AND x.dicom_uid_shared`,
    [sopUid],
  );
  return new Map(rows.map((r) => [r.id, r.conflict]));
}

/** The X-rays present both times whose flag differs. */
function flipsBetween(before: Map<string, boolean>, after: Map<string, boolean>): ConflictFlip[] {
  const flips: ConflictFlip[] = [];
  for (const [xrayId, was] of before) {
    const now = after.get(xrayId);
    if (now !== undefined && now !== was) flips.push({ xrayId, before: was, after: now });
  }
  return flips.sort((a, b) => a.xrayId.localeCompare(b.xrayId));
}

/**
 * Locks the rows of the X-rays whose flag turns (in id order) and keeps the flips of those still
 * there. Call it before the transaction takes the change counter: recording a flip stamps the
 * X-ray's row (record_xray_change), and every other writer of an X-ray (PATCH, a delete, the link
 * checker) locks its row before the counter; the other order deadlocks with them.
 */
export async function lockFlipped(tx: PoolClient, flips: readonly ConflictFlip[]): Promise<ConflictFlip[]> {
  if (flips.length === 0) return [];
  const { rows } = await tx.query<{ id: string }>(
    'SELECT id FROM xrays WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE',
    [flips.map((f) => f.xrayId)],
  );
  const present = new Set(rows.map((r) => r.id));
  return flips.filter((f) => present.has(f.xrayId));
}

/**
 * Around the deletion of X-ray `xrayId` in `tx` (DELETE /xrays/{id}, `xray-admin recover`
 * re-applying one): call it before the row is deleted (the UID's lock, then the flags as they
 * were); `flips()` after it, before the change counter is taken (the flips' rows locked).
 */
export async function holderHandover(
  tx: PoolClient,
  xrayId: string,
): Promise<{ flips: () => Promise<ConflictFlip[]> }> {
  const uid = await lockHeldUid(tx, xrayId);
  const before = uid === undefined ? undefined : await conflictsUnder(tx, uid);
  return {
    flips: async () =>
      uid === undefined || before === undefined
        ? []
        : lockFlipped(tx, flipsBetween(before, await conflictsUnder(tx, uid))),
  };
}

/**
 * Records each flip in `tx` (their rows locked first, by lockFlipped): a numbered change
 * (`updated`), the `xray.updated` event (cause `dicom_uid_holder`, by whoever caused it) and the
 * audit event. Names no other X-ray: the owner of one X-ray learns nothing of who else stored
 * under the UID.
 */
export async function recordConflictFlips(
  tx: PoolClient,
  outbox: OutboxWriter,
  flips: readonly ConflictFlip[],
  context: AuditContext,
  /** Who the events name: the deleting user; null for the server itself (`xray-admin dicom-index`). */
  by: { sub: string } | null,
): Promise<void> {
  if (flips.length === 0) return;
  const audits: AuditEventInput[] = [];
  for (const f of flips) {
    const x = await xrayRepository.findById(tx, f.xrayId);
    if (!x) continue;
    x.changeSeq = await xrayChangeRepository.record(tx, {
      xrayId: x.id,
      kind: 'updated',
      actorSub: context.actor?.sub ?? null,
      ownerSub: x.capturedBy.sub,
    });
    const change = { dicomUidConflict: { before: f.before, after: f.after } };
    await outbox.append(tx, xrayUpdated(x, change, 'dicom_uid_holder', by));
    audits.push({
      context,
      action: 'xray.update',
      outcome: 'success',
      xrayId: x.id,
      patientId: x.patientId,
      details: {
        cause: 'dicom_uid_holder',
        before: { dicomUidConflict: f.before },
        after: { dicomUidConflict: f.after },
      },
    });
  }
  await appendAuditBatch(tx, audits);
}
