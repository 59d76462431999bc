import type { Config } from '../config/config.ts';
import { ConfigError } from '../config/config.ts';
import type { Pool } from '../db/pool.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { anchorSignerFromPem, AuditAnchorKeyError, loadOrCreateDevAnchorKey } from './audit-anchor.key.ts';
import type { AuditCheckpoint } from './audit.checkpoint.ts';
import { AuditCheckpointer } from './audit.checkpointer.ts';
import type { AuditWitness } from './audit.witness.ts';
import { createAuditWitness } from './audit.witnesses.ts';

export interface AuditAnchoring {
  witness: AuditWitness;
  /** Writes a checkpoint now if any event is not covered by one (tests, operators). */
  checkpointNow(): Promise<AuditCheckpoint | null>;
  /** Stops the turns and anchors what was appended since the last checkpoint. */
  stop(): Promise<void>;
}

/**
 * The anchor key (AUDIT_ANCHOR_KEY, or outside production a development key in DATA_DIR/keys),
 * the witness beside the X-ray objects, and this instance's checkpointer, started.
 */
export async function startAuditAnchoring(deps: {
  config: Config;
  pool: Pool;
  log: Logger;
  metrics?: Metrics;
}): Promise<AuditAnchoring> {
  const { config, pool, log, metrics } = deps;
  const pem = config.audit.anchorKeyPem ?? (await loadOrCreateDevAnchorKey(config.dataDir));
  if (!config.audit.anchorKeyPem)
    log.warn({ dir: config.dataDir }, 'development audit anchor key in DATA_DIR/keys (set AUDIT_ANCHOR_KEY)');
  const signer = await anchorSignerFromPem(pem).catch((err: unknown) => {
    if (err instanceof AuditAnchorKeyError)
      throw new ConfigError(`Invalid configuration:\n  AUDIT_ANCHOR_KEY: ${err.message}`, { cause: err });
    throw err;
  });
  const witness = await createAuditWitness(config.storage, config.audit, { create: true });
  const checkpointer = new AuditCheckpointer({
    pool,
    witness,
    signer,
    every: config.audit.checkpoints.every,
    intervalMs: config.audit.checkpoints.intervalMs,
    log,
    onCheckpoint: (cp) => {
      metrics?.auditCheckpoints.inc({ outcome: 'written' });
      metrics?.auditCheckpointTime.set(cp.time.getTime() / 1000);
    },
    onFailure: () => metrics?.auditCheckpoints.inc({ outcome: 'failed' }),
  });
  checkpointer.start();
  log.info({ witness: witness.location, kid: signer.kid }, 'audit checkpoints signed and kept outside the database');
  return { witness, checkpointNow: () => checkpointer.turn(true), stop: () => checkpointer.stop() };
}
