import type { Config } from '../config/config.ts';
import { inTransaction, type Pool } from '../db/pool.ts';
import type { ObjectStore } from '../storage/index.ts';
import { anchorVerifierFromPem, configuredAnchorPem, type AuditAnchorVerifier } from './audit-anchor.key.ts';
import type { StoredCheckpoint } from './audit.checkpoint.ts';
import { appendAudit, systemContext } from './audit.service.ts';
import { readCheckpoints, verifyAuditChain } from './audit.verifier.ts';
import { WITNESS_PREFIX } from './audit.witness.ts';
import { createAuditWitness } from './audit.witnesses.ts';

/**
 * The audit trail after a restore. The restored trail is the database backup's: every event
 * appended after the backup is gone (the trail cannot be rebuilt: its hashes chain the lost
 * events), while the signed checkpoints written meanwhile are still in the witness. A restore is
 * told from a cut by this: the restored chain verifies against every checkpoint it reaches, and
 * every checkpoint past its end names a head after the restored head (the chain only grew).
 * `xray-admin recover` then moves those checkpoints aside, under
 * `audit-checkpoints-superseded/<time>/` (kept, for an auditor: they prove how many events were
 * lost), and appends an `audit.restore` event naming each one; the chain then grows on from the
 * restored head and is anchored again. Anything else is a broken trail and is refused.
 */
export const SUPERSEDED_PREFIX = 'audit-checkpoints-superseded/';

/** The key that checks checkpoints: AUDIT_ANCHOR_KEY, else (outside production) the development key. */
export async function anchorVerifierOf(config: Config): Promise<AuditAnchorVerifier | undefined> {
  const pem = await configuredAnchorPem(config);
  return pem === undefined ? undefined : anchorVerifierFromPem(pem);
}

export type AuditState =
  | { kind: 'intact'; count: number; checkpoints: number; message: string }
  | {
      kind: 'restored';
      count: number;
      headId: string | null;
      headHash: string;
      lost: StoredCheckpoint[];
      message: string;
    }
  | { kind: 'broken'; message: string };

/** The trail against the witness: intact, restored from a backup (checkpoints past its end), or broken. */
export async function auditState(config: Config, pool: Pool): Promise<AuditState> {
  const key = await anchorVerifierOf(config);
  const witness = await createAuditWitness(config.storage, config.audit);
  if (!key) {
    if ((await witness.list()).length > 0)
      return {
        kind: 'broken',
        message: `${witness.location} holds checkpoints and there is no anchor key to check them`,
      };
    const v = await verifyAuditChain(pool);
    return v.ok
      ? { kind: 'intact', count: v.count, checkpoints: 0, message: `${v.count} events verified (no checkpoints)` }
      : { kind: 'broken', message: v.message };
  }
  const read = await readCheckpoints(witness, key);
  if (read.broken.length) return { kind: 'broken', message: read.broken.map((b) => b.message).join('; ') };
  const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_events');
  const count = rows[0]?.n ?? 0;
  const reached = read.checkpoints.filter((c) => c.count <= count);
  const lost = read.checkpoints.filter((c) => c.count > count);
  const v = await verifyAuditChain(pool, { checkpoints: reached });
  if (!v.ok) return { kind: 'broken', message: v.message };
  if (lost.length === 0)
    return {
      kind: 'intact',
      count: v.count,
      checkpoints: reached.length,
      message: `${v.count} events verified against ${reached.length} checkpoints; the chain reaches the newest`,
    };
  const behind = lost.find((c) => v.headId !== null && BigInt(c.headId) <= BigInt(v.headId));
  if (behind)
    return {
      kind: 'broken',
      message: `checkpoint ${behind.name} records ${behind.count} events up to event ${behind.headId}, and the chain holds only ${v.count} up to event ${v.headId}: events were deleted from it`,
    };
  const newest = lost[lost.length - 1] as StoredCheckpoint;
  return {
    kind: 'restored',
    count: v.count,
    headId: v.headId,
    headHash: v.headHash,
    lost,
    message:
      `the audit trail ends at event ${v.headId ?? 'none'} after ${v.count} events, and ${lost.length} checkpoints ` +
      `go past it (the newest, ${newest.name}, written ${newest.time.toISOString()}, records ${newest.count} events): ` +
      `the database was restored from a backup, and at least ${newest.count - v.count} audit events after it are lost`,
  };
}

/**
 * Sets aside the checkpoints a restored trail does not reach (moved under SUPERSEDED_PREFIX, in
 * the X-ray store where the witness lives) and appends the `audit.restore` event naming them.
 * Refused when the witness is a bucket of its own (move them by hand, or point
 * AUDIT_CHECKPOINT_BUCKET at a new bucket) or Object Lock keeps them.
 */
export async function supersedeLostCheckpoints(
  config: Config,
  pool: Pool,
  store: ObjectStore,
  state: Extract<AuditState, { kind: 'restored' }>,
): Promise<string> {
  const ownBucket =
    config.storage.kind === 's3' &&
    config.audit.checkpoints.bucket !== undefined &&
    config.audit.checkpoints.bucket !== config.storage.bucket;
  if (ownBucket)
    throw new Error(
      `the checkpoints are in a bucket of their own (AUDIT_CHECKPOINT_BUCKET): move ${state.lost.map((c) => c.name).join(', ')} ` +
        `out of ${WITNESS_PREFIX} by hand, or point AUDIT_CHECKPOINT_BUCKET at a new bucket, then run recover again`,
    );
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const archive = `${SUPERSEDED_PREFIX}${stamp}/`;
  for (const cp of state.lost) {
    await store.copy(`${WITNESS_PREFIX}${cp.name}`, `${archive}${cp.name}`);
    await store.delete(`${WITNESS_PREFIX}${cp.name}`);
  }
  await inTransaction(pool, (tx) =>
    appendAudit(tx, {
      context: systemContext({ sub: 'xray-admin recover', roles: ['admin'] }),
      action: 'audit.restore',
      outcome: 'success',
      details: {
        restoredChain: { count: state.count, headId: state.headId, headHash: state.headHash },
        superseded: state.lost.map((c) => ({
          name: c.name,
          count: c.count,
          headId: c.headId,
          headHash: c.headHash,
          time: c.time.toISOString(),
        })),
        movedTo: archive,
      },
    }),
  );
  return archive;
}
