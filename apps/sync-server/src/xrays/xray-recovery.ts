import { randomInt } from 'node:crypto';
import { XrayIdSchema } from '@xray/shared';
import { appendAudit, systemContext } from '../audit/audit.service.ts';
import { inTransaction, type Pool } from '../db/pool.ts';
import { holderHandover, recordConflictFlips } from '../dicomweb/uid-conflict.changes.ts';
import { outboxRepository, type OutboxWriter } from '../events/outbox.repository.ts';
import { openStoredXre1 } from '../xre1/index.ts';
import type { KeyService } from '../keys/key.service.ts';
import { isSafeKey, type ObjectStore } from '../storage/index.ts';
import { xrayLinkRepository } from './xray-link.repository.ts';
import {
  classifyKey,
  readRecord,
  readTombstone,
  recordKekOf,
  recordDiffers,
  recordKeyOf,
  tombstoneKeyOf,
  writeRecord,
  XRAYS_PREFIX,
  type RecoveredXray,
  type Tombstone,
} from './xray-record.ts';
import { xrayChangeRepository } from './xray-changes.repository.ts';
import { xrayRepository, type XrayRecord } from './xray.repository.ts';
import { listRenders, removeRenders, rendersPrefixOf } from '../rendering/render.cache.ts';

/**
 * `xray-admin check` and `xray-admin recover`: the X-ray rows set against what the object store
 * holds under xrays/ (objects, recovery records, tombstones; see xray-record.ts) and under renders/
 * (cached rendered images, which must not outlive their X-ray; see render.cache.ts).
 */

/** What the store and the database hold, by object key. */
export interface Inventory {
  objects: Set<string>;
  records: Set<string>;
  tombstones: Set<string>;
  /** object key → row (id, KEK). */
  rows: Map<string, { id: string; kekId: string }>;
  /** X-ray id → object key of its row. */
  rowIds: Map<string, string>;
  /**
   * Object keys of tus uploads not yet finished (their object may be there with no row yet). One
   * with a recovery record beside it did finish (records are written at finalize only): after a
   * restore from a backup taken while it was being uploaded, it is recovered like any other.
   */
  unfinished: Set<string>;
  /** X-ray id → the object keys of its cached renders (renders/<xray id>/…). */
  renders: Map<string, string[]>;
}

export async function takeInventory(pool: Pool, store: ObjectStore): Promise<Inventory> {
  // Renders listed before the rows are read: one of an X-ray stored meanwhile has its row by then
  // (an X-ray is rendered only once its row is committed), so it is not taken for an orphan.
  const renders = await listRenders(store);
  const inv: Inventory = {
    objects: new Set(),
    records: new Set(),
    tombstones: new Set(),
    rows: new Map(),
    rowIds: new Map(),
    unfinished: new Set(),
    renders,
  };
  for (const key of await store.list(XRAYS_PREFIX)) {
    const { kind, objectKey } = classifyKey(key);
    if (kind === 'object') inv.objects.add(objectKey);
    else if (kind === 'record') inv.records.add(objectKey);
    else inv.tombstones.add(objectKey);
  }
  const { rows } = await pool.query<{ id: string; object_key: string; kek_id: string }>(
    'SELECT id, object_key, kek_id FROM xrays',
  );
  for (const r of rows) {
    inv.rows.set(r.object_key, { id: r.id, kekId: r.kek_id });
    inv.rowIds.set(r.id, r.object_key);
  }
  const { rows: open } = await pool.query<{ object_key: string }>(
    'SELECT object_key FROM tus_uploads WHERE finalized_at IS NULL',
  );
  for (const r of open) inv.unfinished.add(r.object_key);
  return inv;
}

export type ProblemKind =
  | 'row_without_object'
  | 'object_without_row'
  | 'deleted_xray_present'
  | 'erased_object_present'
  | 'row_without_record'
  | 'record_stale'
  | 'record_invalid'
  | 'content_mismatch'
  | 'render_without_xray'
  | 'audit';

export interface Problem {
  kind: ProblemKind;
  /** The X-ray or object it is about, when one. */
  subject?: string;
  message: string;
}

/** An object that may lack its row for now: an upload still running (no record written yet). */
const stillUploading = (inv: Inventory, objectKey: string): boolean =>
  inv.unfinished.has(objectKey) && !inv.records.has(objectKey);

/** The store and the rows compared both ways, by listing alone (no object is read). */
export function compareInventory(inv: Inventory): Problem[] {
  const problems: Problem[] = [];
  for (const [objectKey, row] of inv.rows) {
    if (inv.tombstones.has(objectKey)) {
      problems.push({
        kind: 'deleted_xray_present',
        subject: row.id,
        message: `X-ray ${row.id} was deleted (tombstone ${tombstoneKeyOf(objectKey)}) but its row is back (a restore from before the delete, or a delete cut off before its COMMIT): run xray-admin recover`,
      });
      continue;
    }
    if (!inv.objects.has(objectKey))
      problems.push({
        kind: 'row_without_object',
        subject: row.id,
        message: `X-ray ${row.id} has a row but no object at ${objectKey}: its image is lost unless a bucket backup holds it`,
      });
    if (!inv.records.has(objectKey))
      problems.push({
        kind: 'row_without_record',
        subject: row.id,
        message: `X-ray ${row.id} has no recovery record (${recordKeyOf(objectKey)}): it could not be recovered without its row; run xray-admin recover to write it`,
      });
  }
  for (const objectKey of inv.objects) {
    if (inv.rows.has(objectKey) || stillUploading(inv, objectKey)) continue;
    if (inv.tombstones.has(objectKey)) {
      problems.push({
        kind: 'erased_object_present',
        subject: objectKey,
        message: `object ${objectKey} belongs to a deleted X-ray (tombstone present) and is still stored: run xray-admin recover to erase it`,
      });
      continue;
    }
    problems.push({
      kind: 'object_without_row',
      subject: objectKey,
      message: inv.records.has(objectKey)
        ? `object ${objectKey} has no row (stored after the database backup?): run xray-admin recover to rebuild its row from its recovery record`
        : `object ${objectKey} has no row and no recovery record: it cannot be recovered`,
    });
  }
  // Rendered images of an X-ray with no row: left by a delete cut off between its COMMIT and their
  // removal, or brought back by a restore. Derived images of patient data that was to be erased.
  for (const [xrayId, keys] of inv.renders) {
    if (inv.rowIds.has(xrayId)) continue;
    problems.push({
      kind: 'render_without_xray',
      subject: xrayId,
      message: `X-ray ${xrayId} has no row but ${keys.length} cached rendered image${keys.length === 1 ? '' : 's'} under ${rendersPrefixOf(xrayId)}: run xray-admin recover to remove them (kept only if it rebuilds the X-ray's row)`,
    });
  }
  return problems;
}

/** Appends `value` to the list `map` holds under `key`. */
function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/**
 * The KEKs `recover` will need and does not have: those the recovery records of objects with no row
 * are sealed under (read from each record's envelope, in clear). One problem per missing KEK.
 */
export async function recordKeksMissing(store: ObjectStore, keys: KeyService, inv: Inventory): Promise<Problem[]> {
  const missing = new Map<string, string[]>();
  for (const objectKey of inv.objects) {
    if (inv.rows.has(objectKey) || !inv.records.has(objectKey)) continue;
    let kekId: string | null;
    try {
      kekId = await recordKekOf(store, objectKey);
    } catch {
      continue; // not a record: recover names it
    }
    if (kekId !== null && !keys.hasKek(kekId)) pushTo(missing, kekId, objectKey);
  }
  return [...missing].map(([kekId, objects]) => ({
    kind: 'record_invalid' as const,
    message: `${objects.length} recovery records of objects with no row (${objects[0]}${objects.length > 1 ? ', …' : ''}) are sealed under KEK ${kekId}, which is not configured: add it to KEK before running recover`,
  }));
}

/** Reads the object through, decrypting with `dek` and hashing: rejects unless it is the recorded bytes. */
async function readsBack(store: ObjectStore, keys: KeyService, x: RecoveredXray): Promise<void> {
  const dek = await keys.unwrapDek(x.dekWrapped, x.kekId, { xrayId: x.id, objectKey: x.objectKey });
  const content = await openStoredXre1(store, x.objectKey, dek, x.cipherSize, undefined, {
    sha256: x.sha256,
    checkStoredLength: true,
  });
  let size = 0;
  for await (const chunk of content) size += (chunk as Uint8Array).length;
  if (size !== x.sizeBytes) throw new Error(`it decrypts to ${size} bytes, not the recorded ${x.sizeBytes}`);
}

const reason = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Picks up to `n` of `items` at random (all when `n` is Infinity). */
function sample<T>(items: T[], n: number): T[] {
  if (items.length <= n) return items;
  const copy = [...items];
  for (let i = 0; i < n; i++) {
    const j = i + randomInt(copy.length - i);
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy.slice(0, n);
}

/**
 * Opens `perKek` X-rays per KEK (all with Infinity): the data key unwrapped for its X-ray, the
 * object decrypted and hashed against the row, and the recovery record opened and compared with
 * the row. Returns the problems and how many were opened per KEK.
 */
export async function openSample(
  pool: Pool,
  store: ObjectStore,
  keys: KeyService,
  inv: Inventory,
  perKek: number,
): Promise<{ problems: Problem[]; opened: Map<string, number> }> {
  const byKek = new Map<string, string[]>();
  for (const [objectKey, row] of inv.rows) {
    if (inv.tombstones.has(objectKey) || !inv.objects.has(objectKey)) continue; // reported already
    pushTo(byKek, row.kekId, row.id);
  }
  const problems: Problem[] = [];
  const opened = new Map<string, number>();
  for (const [kekId, ids] of [...byKek].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (!keys.hasKek(kekId)) {
      problems.push({
        kind: 'content_mismatch',
        message: `${ids.length} X-rays are wrapped under KEK ${kekId}, which is not configured: they cannot be read`,
      });
      continue;
    }
    for (const id of sample(ids, perKek)) {
      const row = await xrayRepository.findById(pool, id);
      if (!row) continue; // deleted meanwhile
      opened.set(kekId, (opened.get(kekId) ?? 0) + 1);
      try {
        await readsBack(store, keys, row);
      } catch (err) {
        problems.push({
          kind: 'content_mismatch',
          subject: id,
          message: `X-ray ${id} (KEK ${kekId}) does not read back as recorded: ${reason(err)}`,
        });
      }
      if (!inv.records.has(row.objectKey)) continue; // reported as row_without_record
      try {
        const record = await readRecord(store, keys, row.objectKey);
        const differs = record ? recordDiffers(record, row) : [];
        if (differs.length)
          problems.push({
            kind: 'record_stale',
            subject: id,
            message: `the recovery record of X-ray ${id} differs from its row in ${differs.join(', ')}: run xray-admin recover to rewrite it`,
          });
      } catch (err) {
        problems.push({
          kind: 'record_invalid',
          subject: id,
          message: `the recovery record of X-ray ${id} does not open: ${reason(err)}`,
        });
      }
    }
  }
  return { problems, opened };
}

const RECOVER_ACTOR = { sub: 'xray-admin recover', roles: ['admin'] };

export interface RecoverReport {
  /** Rows rebuilt from recovery records. */
  recovered: string[];
  /** Deletions re-applied from tombstones (rows removed, objects erased). */
  erased: string[];
  /** Tombstones of deletes that never committed (the X-ray kept), removed. */
  staleTombstones: string[];
  /** Recovery records written or rewritten for rows that had none or a stale one. */
  recordsWritten: number;
  /** X-rays with no row whose cached renders were removed, and how many objects each. */
  rendersRemoved: { xrayId: string; count: number }[];
  problems: Problem[];
}

/** Inserts a recovered row as the record holds it (its upload time included). */
async function insertRecovered(pool: Pool, x: RecoveredXray): Promise<XrayRecord | null> {
  return inTransaction(pool, async (tx) => {
    const row = await xrayRepository.insert(tx, x);
    if (!row) return null;
    // Back in the change feed, under a new number (the feed goes on above what it handed out before
    // the restore); refused if the database already holds its tombstone.
    row.changeSeq = await xrayChangeRepository.record(tx, {
      xrayId: row.id,
      kind: 'created',
      actorSub: RECOVER_ACTOR.sub,
      ownerSub: row.capturedBy.sub,
    });
    // A tus upload the restored database still has as running (backed up mid-upload) is finished:
    // the expiry sweep does not take it, and a client resuming it is told it is done.
    await tx.query('UPDATE tus_uploads SET finalized_at = $2 WHERE object_key = $1 AND finalized_at IS NULL', [
      row.objectKey,
      row.uploadedAt,
    ]);
    if (row.link.status === 'pending') await xrayLinkRepository.schedulePending(tx, row.id);
    await appendAudit(tx, {
      context: systemContext(RECOVER_ACTOR),
      action: 'xray.recover',
      outcome: 'success',
      xrayId: row.id,
      patientId: row.patientId,
      details: {
        from: 'recovery record',
        objectKey: row.objectKey,
        sha256: row.sha256,
        sizeBytes: row.sizeBytes,
        uploadedAt: row.uploadedAt,
        kekId: row.kekId,
      },
    });
    return row;
  });
}

/**
 * Re-applies the deletion a tombstone records: the row (when the restore brought it back) removed
 * with an `xray.delete` audit event, then the object and its record erased.
 */
async function applyTombstone(
  pool: Pool,
  store: ObjectStore,
  outbox: OutboxWriter,
  tomb: Tombstone,
  inv: Inventory,
): Promise<string> {
  const objectKey = tomb.objectKey;
  const row = inv.rows.get(objectKey);
  await inTransaction(pool, async (tx) => {
    // The SOP Instance UID it held passes to the next file: the X-rays whose flag that turns say so.
    const handover = row ? await holderHandover(tx, row.id) : undefined;
    const removed = row ? await xrayRepository.delete(tx, row.id) : null;
    const flips = removed && handover ? await handover.flips() : [];
    // The restored outbox may still hold its events: they keep no notes once it is gone.
    await outboxRepository.scrubXray(tx, tomb.xrayId);
    // The tombstone the restored database lost: a late upload of this id stays refused.
    await xrayChangeRepository.record(tx, {
      xrayId: tomb.xrayId,
      kind: 'deleted',
      actorSub: tomb.deletedBy,
      ownerSub: removed?.capturedBy.sub ?? '',
    });
    await recordConflictFlips(tx, outbox, flips, systemContext(RECOVER_ACTOR), null);
    await appendAudit(tx, {
      context: systemContext(RECOVER_ACTOR),
      action: 'xray.delete',
      outcome: 'success',
      xrayId: tomb.xrayId,
      patientId: removed?.patientId ?? null,
      details: {
        recovered: true,
        reason: 'deleted after the database backup (tombstone in the object store)',
        deletedAt: tomb.deletedAt,
        deletedBy: tomb.deletedBy,
        sha256: tomb.sha256,
        objectKey,
        rowRemoved: removed !== null,
      },
    });
  });
  await store.delete(objectKey);
  await store.delete(recordKeyOf(objectKey));
  await removeRenders(store, tomb.xrayId);
  return tomb.xrayId;
}

/**
 * Whether the delete a tombstone records committed. `committed` tombstones say so. A `pending` one
 * was written before the delete's transaction and its process stopped before marking it: the
 * delete committed when the object is gone (it is erased only after the COMMIT) or, with no row,
 * when this database's audit trail holds the delete; it did not when the row and object are both
 * still here (a crash before COMMIT; erasing would lose a live X-ray). No row, the object here and
 * no audited delete: the restored database predates both the X-ray and the delete, and nothing
 * tells whether the delete committed — left to the operator.
 */
async function deletionState(
  pool: Pool,
  tomb: Tombstone,
  inv: Inventory,
): Promise<'committed' | 'not_committed' | 'unknown'> {
  if (tomb.state === 'committed') return 'committed';
  if (!inv.objects.has(tomb.objectKey)) return 'committed';
  if (inv.rows.has(tomb.objectKey)) return 'not_committed';
  const { rowCount } = await pool.query(
    `SELECT 1 FROM audit_events WHERE action = 'xray.delete' AND outcome = 'success' AND xray_id = $1
       AND details->>'sha256' = $2 LIMIT 1`,
    [tomb.xrayId, tomb.sha256],
  );
  return rowCount ? 'committed' : 'unknown';
}

/**
 * After a restore: every deletion the store's tombstones record is re-applied (the erased X-ray
 * stays erased), every object with no row gets its row back from its recovery record (after its
 * bytes are read back and match it), and every row gets a current recovery record. Idempotent:
 * run it again after an interruption.
 */
export async function recoverXrays(
  pool: Pool,
  store: ObjectStore,
  keys: KeyService,
  /** The server's outbox writer: an X-ray whose dicomUidConflict a re-applied deletion turns says so. */
  outbox: OutboxWriter,
): Promise<RecoverReport> {
  const inv = await takeInventory(pool, store);
  const report: RecoverReport = {
    recovered: [],
    erased: [],
    staleTombstones: [],
    recordsWritten: 0,
    rendersRemoved: [],
    problems: [],
  };

  // 1. Deletions first: nothing erased is rebuilt.
  for (const objectKey of inv.tombstones) {
    if (!inv.rows.has(objectKey) && !inv.objects.has(objectKey) && !inv.records.has(objectKey)) continue;
    try {
      const tomb = await readTombstone(store, keys, objectKey);
      if (!tomb) continue;
      const state = await deletionState(pool, tomb, inv);
      if (state === 'not_committed') {
        // A delete cut off before its COMMIT: the X-ray lives on; its stale tombstone goes. Under the
        // row's lock, so that a delete running now (recover with replicas up) commits, and marks its
        // tombstone committed, only after this removal, never before it.
        const removed = await inTransaction(pool, async (tx) => {
          const { rowCount } = await tx.query('SELECT 1 FROM xrays WHERE id = $1 AND object_key = $2 FOR UPDATE', [
            tomb.xrayId,
            objectKey,
          ]);
          if (!rowCount) return false; // deleted meanwhile: its own tombstone stands
          await store.delete(tombstoneKeyOf(objectKey));
          return true;
        });
        if (removed) report.staleTombstones.push(tomb.xrayId);
        inv.tombstones.delete(objectKey);
        continue;
      }
      if (state === 'unknown') {
        report.problems.push({
          kind: 'deleted_xray_present',
          subject: objectKey,
          message:
            `a delete of X-ray ${tomb.xrayId} was begun (${tomb.deletedAt}, by ${tomb.deletedBy ?? 'the system'}) ` +
            `and never marked committed, and the restored database holds neither its row nor its delete: ` +
            `left as it is. Remove ${tombstoneKeyOf(objectKey)} and run recover again (the row comes back ` +
            `from its record), then DELETE /xrays/${tomb.xrayId} if it is to go`,
        });
        continue;
      }
      report.erased.push(await applyTombstone(pool, store, outbox, tomb, inv));
      inv.rows.delete(objectKey);
      inv.objects.delete(objectKey);
      inv.records.delete(objectKey);
    } catch (err) {
      report.problems.push({
        kind: 'deleted_xray_present',
        subject: objectKey,
        message: `the deletion recorded for ${objectKey} could not be re-applied: ${reason(err)}`,
      });
    }
  }

  // 2. Objects with no row: rebuilt from their records.
  for (const objectKey of inv.objects) {
    if (inv.rows.has(objectKey) || stillUploading(inv, objectKey)) continue;
    if (inv.tombstones.has(objectKey)) continue; // a deletion left undecided above: not rebuilt
    try {
      const record = await readRecord(store, keys, objectKey);
      if (!record) {
        report.problems.push({
          kind: 'object_without_row',
          subject: objectKey,
          message: `object ${objectKey} has no row and no recovery record: it cannot be recovered`,
        });
        continue;
      }
      const other = inv.rowIds.get(record.id);
      if (other !== undefined) {
        report.problems.push({
          kind: 'object_without_row',
          subject: objectKey,
          message: `object ${objectKey} has no row, and X-ray ${record.id} is stored under another object (${other}): left as it is`,
        });
        continue;
      }
      await readsBack(store, keys, record);
      const row = await insertRecovered(pool, record);
      if (row) {
        report.recovered.push(row.id);
        inv.rows.set(objectKey, { id: row.id, kekId: row.kekId });
        inv.rowIds.set(row.id, objectKey);
      }
    } catch (err) {
      report.problems.push({
        kind: 'record_invalid',
        subject: objectKey,
        message: `object ${objectKey} has no row and could not be recovered: ${reason(err)}`,
      });
    }
  }

  // 3. Every row's record current (rows from before records existed, a PATCH whose COMMIT failed).
  for (const [objectKey, { id }] of inv.rows) {
    try {
      const row = await xrayRepository.findById(pool, id);
      if (!row) continue;
      const record = inv.records.has(objectKey) ? await readRecord(store, keys, objectKey).catch(() => null) : null;
      if (record && recordDiffers(record, row).length === 0) continue;
      await writeRecord(store, keys, row);
      report.recordsWritten++;
    } catch (err) {
      report.problems.push({
        kind: 'row_without_record',
        subject: id,
        message: `the recovery record of X-ray ${id} could not be written: ${reason(err)}`,
      });
    }
  }

  // 4. Last, so that a row rebuilt above counts: the cached renders of every X-ray that still has
  // no row are removed (a delete cut off before removing them, a restore from before it). Derived
  // data, rendered again on demand: always safe to remove.
  await removeOrphanRenders(pool, store, report);
  return report;
}

/**
 * Removes the cached renders of X-rays with no row. Listed afresh, before the rows are read (a
 * render is made only for a committed row, so one of an X-ray stored meanwhile is kept); the keys
 * listed are the ones removed, whatever their shape under renders/.
 */
async function removeOrphanRenders(pool: Pool, store: ObjectStore, report: RecoverReport): Promise<void> {
  const renders = await listRenders(store);
  if (!renders.size) return;
  const ids = [...renders.keys()].filter((id) => XrayIdSchema.safeParse(id).success);
  const { rows } = await pool.query<{ id: string }>('SELECT id FROM xrays WHERE id = ANY($1::uuid[])', [ids]);
  const live = new Set(rows.map((r) => r.id));
  for (const [xrayId, keys] of renders) {
    if (live.has(xrayId)) continue;
    // A file someone put there by hand under a name this server never writes (a space, say): the
    // store refuses such keys, so it is named for the operator to remove instead.
    const foreign = keys.filter((key) => !isSafeKey(key));
    for (const key of foreign)
      report.problems.push({
        kind: 'render_without_xray',
        subject: xrayId,
        message: `${key} is not a name this server writes, so it is not removed through the store: remove that file by hand`,
      });
    try {
      const ours = keys.filter(isSafeKey);
      for (const key of ours) await store.delete(key);
      if (ours.length) report.rendersRemoved.push({ xrayId, count: ours.length });
    } catch (err) {
      report.problems.push({
        kind: 'render_without_xray',
        subject: xrayId,
        message: `the cached renders of X-ray ${xrayId} (no row) could not be removed: ${reason(err)}`,
      });
    }
  }
}
