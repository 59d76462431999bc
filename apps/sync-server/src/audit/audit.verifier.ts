import type { Pool, PoolClient } from '../db/pool.ts';
import { auditHash, GENESIS_HASH } from './audit.hash.ts';
import { auditRepository } from './audit.repository.ts';

export type ChainVerdict =
  | { ok: true; count: number; headId: string | null; headHash: string }
  | { ok: false; count: number; brokenId: string; reason: string };

/**
 * Walks the trail in id order, a batch at a time (memory stays flat however long it is), and
 * recomputes every hash. The first event whose prev_hash is not the hash of the event before it,
 * or whose contents no longer hash to its hash, is the first broken link.
 *
 * Appends never reuse a lower id (ids are taken under the chain lock), so batches read while the
 * server keeps appending still see one consistent chain that merely grows at the end.
 */
export async function verifyAuditChain(
  db: Pool | PoolClient,
  opts: { batchSize?: number; onProgress?: (checked: number) => void } = {},
): Promise<ChainVerdict> {
  const batchSize = opts.batchSize ?? 1000;
  let prevHash = GENESIS_HASH;
  let prevId: string | null = null;
  let count = 0;
  for (;;) {
    const batch = await auditRepository.batchAfter(db, prevId, batchSize);
    if (batch.length === 0) break;
    for (const event of batch) {
      if (event.prevHash !== prevHash) {
        return {
          ok: false,
          count,
          brokenId: event.id,
          reason: prevId
            ? `its prev_hash is not the hash of event ${prevId}: an event between them was removed or inserted, or event ${prevId} was rewritten with a new hash`
            : 'it is the first event but does not chain to the genesis hash: earlier events were removed',
        };
      }
      if (auditHash(event) !== event.hash) {
        return {
          ok: false,
          count,
          brokenId: event.id,
          reason: 'its contents do not match its hash: the event was altered',
        };
      }
      prevHash = event.hash;
      prevId = event.id;
      count++;
    }
    opts.onProgress?.(count);
  }
  return { ok: true, count, headId: prevId, headHash: prevHash };
}
