import pMap from 'p-map';
import type { Pool, PoolClient } from '../db/pool.ts';
import type { AuditAnchorVerifier } from './audit-anchor.key.ts';
import { CheckpointInvalidError, openCheckpoint, type StoredCheckpoint } from './audit.checkpoint.ts';
import { auditHash, GENESIS_HASH } from './audit.hash.ts';
import { auditRepository } from './audit.repository.ts';
import type { AuditWitness } from './audit.witness.ts';

export type ChainVerdict =
  | {
      ok: true;
      count: number;
      headId: string | null;
      headHash: string;
      /** Checkpoints the chain was checked against (their heads all found, with their hashes). */
      checkpoints: number;
      /** Events after the newest checkpoint's head: not anchored yet. */
      unanchored: number;
    }
  | {
      ok: false;
      /** Events that verified before the break. */
      count: number;
      /** The event the break shows at, when it is one event. */
      brokenId?: string;
      /** The checkpoint the break is found against, when one is. */
      checkpoint?: string;
      /** Why, without the subject. */
      reason: string;
      /** The whole sentence, naming the break. */
      message: string;
    };

const idOrder = (a: string, b: string): number => {
  const [x, y] = [BigInt(a), BigInt(b)];
  return x < y ? -1 : x > y ? 1 : 0;
};

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

const describe = (cp: StoredCheckpoint): string =>
  `checkpoint ${cp.name} (written ${cp.time.toISOString()}: ${cp.count} events up to event ${cp.headId})`;

/**
 * Walks the trail in id order, a batch at a time (memory stays flat however long it is), and
 * recomputes every hash. The first event whose prev_hash is not the hash of the event before it,
 * or whose contents no longer hash to its hash, is the first broken link.
 *
 * With `checkpoints` (signed, from the witness; see readCheckpoints), the chain must also still
 * hold each checkpoint's head event with the same hash as its `count`-th event — which a chain cut
 * back, or edited and re-hashed, cannot fake without the anchor key — and no event after a
 * checkpoint's head may be dated before that checkpoint (appends after it are dated at or after
 * it): a forged event appended with a back-dated time is caught even with a recomputed hash.
 *
 * Appends never reuse a lower id (ids are taken under the chain lock), so batches read while the
 * server keeps appending still see one consistent chain that merely grows at the end.
 */
export async function verifyAuditChain(
  db: Pool | PoolClient,
  opts: { batchSize?: number; onProgress?: (checked: number) => void; checkpoints?: StoredCheckpoint[] } = {},
): Promise<ChainVerdict> {
  const batchSize = opts.batchSize ?? 1000;
  // In the order their heads come in the chain (the same as their counts: readCheckpoints checks).
  const pending = [...(opts.checkpoints ?? [])].sort((a, b) => a.count - b.count);
  let passed: StoredCheckpoint | undefined;
  let prevHash = GENESIS_HASH;
  let prevId: string | null = null;
  let count = 0;
  const brokenEvent = (id: string, reason: string): ChainVerdict => ({
    ok: false,
    count,
    brokenId: id,
    reason,
    message: `audit event ${id} does not verify: ${reason}`,
  });
  const brokenCheckpoint = (cp: StoredCheckpoint, reason: string, brokenId?: string): ChainVerdict => ({
    ok: false,
    count,
    checkpoint: cp.name,
    ...(brokenId ? { brokenId } : {}),
    reason,
    message: `${describe(cp)} ${reason}`,
  });
  const since = (cp: StoredCheckpoint | undefined): string =>
    cp ? `after event ${cp.headId} (${describe(cp)}, still intact)` : 'from the first event';

  for (;;) {
    const batch = await auditRepository.batchAfter(db, prevId, batchSize);
    if (batch.length === 0) break;
    for (const event of batch) {
      if (event.prevHash !== prevHash) {
        return brokenEvent(
          event.id,
          prevId
            ? `its prev_hash is not the hash of event ${prevId}: an event between them was removed or inserted, or event ${prevId} was rewritten with a new hash`
            : 'it is the first event but does not chain to the genesis hash: earlier events were removed',
        );
      }
      if (auditHash(event) !== event.hash) {
        return brokenEvent(event.id, 'its contents do not match its hash: the event was altered');
      }
      if (passed && event.at.getTime() < passed.time.getTime()) {
        return brokenEvent(
          event.id,
          `it is dated ${event.at.toISOString()}, before ${describe(passed)} that it comes after: it was appended later with a false date`,
        );
      }
      // A checkpoint whose head the walk went past without meeting it: that event is gone.
      const skipped = pending[0];
      if (skipped && idOrder(skipped.headId, event.id) < 0) {
        return brokenCheckpoint(
          skipped,
          `names event ${skipped.headId} as its head, and the chain no longer holds it (it goes from event ${prevId ?? 'none'} to event ${event.id}): events ${since(passed)} up to event ${skipped.headId} were deleted and the chain relinked`,
          skipped.headId,
        );
      }
      count++;
      if (skipped && skipped.headId === event.id) {
        if (event.hash !== skipped.headHash) {
          const what =
            count === skipped.count
              ? 'altered'
              : `${count < skipped.count ? 'removed' : 'inserted'} (${count} events now, not ${skipped.count})`;
          return brokenCheckpoint(
            skipped,
            `recorded hash ${skipped.headHash} for event ${event.id}; the chain now has ${event.hash}: events ${since(passed)} up to event ${event.id} were ${what} and the hashes recomputed`,
            event.id,
          );
        }
        if (count !== skipped.count)
          return brokenCheckpoint(
            skipped,
            `counted ${skipped.count} events up to event ${event.id}; the chain now has ${count}: events ${since(passed)} were ${count < skipped.count ? 'removed' : 'inserted'} and the chain relinked`,
            event.id,
          );
        passed = pending.shift();
      }
      prevHash = event.hash;
      prevId = event.id;
    }
    opts.onProgress?.(count);
  }
  // Checkpoints past the chain's end: their events were cut off.
  const newest = pending[pending.length - 1];
  if (newest) {
    return brokenCheckpoint(
      newest,
      prevId === null
        ? 'is past the end of the chain, which is empty: every event was deleted'
        : `is past the end of the chain, which ends at event ${prevId} after ${count} events: ${plural(newest.count - count, 'event')} or more were deleted from its end (after event ${prevId})`,
    );
  }
  return {
    ok: true,
    count,
    headId: prevId,
    headHash: prevHash,
    checkpoints: opts.checkpoints?.length ?? 0,
    unanchored: count - (passed?.count ?? 0),
  };
}

export interface CheckpointsRead {
  /** Every valid checkpoint, by the time it was written. */
  checkpoints: StoredCheckpoint[];
  /** Every break found among them: each invalid object, and each pair that shows the chain shrank. */
  broken: { name: string; message: string }[];
}

/**
 * Every checkpoint in the witness, each signature checked with the anchor key, and their order:
 * by the time they were written, the chain never shrank and its head only moved on. Any object
 * under the prefix that is not a valid checkpoint is a break (forged, altered, or another key's),
 * and each is reported; the valid ones are still returned, so the chain is checked against them
 * (one unremovable junk object under Object Lock must not mask every later cut of the chain).
 */
export async function readCheckpoints(
  witness: AuditWitness,
  key: AuditAnchorVerifier,
  opts: { concurrency?: number } = {},
): Promise<CheckpointsRead> {
  const names = await witness.list();
  // A year of checkpoints every 5 minutes is ~100 000 objects: fetched a few at a time, in order.
  const opened = await pMap(
    names,
    async (name): Promise<StoredCheckpoint | CheckpointInvalidError | null> => {
      const body = await witness.get(name);
      if (body === null) return null; // removed while listing
      try {
        return await openCheckpoint(name, body, key);
      } catch (err) {
        if (!(err instanceof CheckpointInvalidError)) throw err;
        return err;
      }
    },
    { concurrency: opts.concurrency ?? 16 },
  );
  const checkpoints: StoredCheckpoint[] = [];
  const broken: CheckpointsRead['broken'] = [];
  for (const [i, cp] of opened.entries()) {
    if (cp instanceof CheckpointInvalidError)
      broken.push({
        name: names[i] ?? '',
        message: `checkpoint ${names[i]} in ${witness.location} does not verify: ${cp.message}`,
      });
    else if (cp) checkpoints.push(cp);
  }
  const byTime = [...checkpoints].sort((a, b) => a.time.getTime() - b.time.getTime() || a.count - b.count);
  for (let i = 1; i < byTime.length; i++) {
    const [before, after] = [byTime[i - 1], byTime[i]];
    if (!before || !after) continue;
    if (after.count < before.count || idOrder(after.headId, before.headId) < 0)
      broken.push({
        name: after.name,
        message: `the chain shrank: ${describe(after)} holds fewer events than ${describe(before)}, written before it: events were deleted between them`,
      });
  }
  return { checkpoints: byTime, broken };
}
