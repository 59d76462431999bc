import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  anchorVerifierFromPem,
  AuditAnchorKeyError,
  configuredAnchorPem,
  type AuditAnchorVerifier,
} from '../audit/audit-anchor.key.ts';
import { MAX_POLL_MS } from '../audit/audit.checkpointer.ts';
import { auditRepository } from '../audit/audit.repository.ts';
import { readCheckpoints, verifyAuditChain, type CheckpointsRead } from '../audit/audit.verifier.ts';
import type { AuditConfig } from '../config/config.ts';
import type { Pool } from '../db/pool.ts';
import { createAuditWitness } from '../audit/audit.witnesses.ts';
import { loadConfig } from '../config/config.ts';
import { createPool } from '../db/pool.ts';
import { EXIT, type Command } from './command.ts';

/**
 * `xray-admin verify-audit`: recomputes the audit hash chain and checks it against the signed
 * checkpoints outside the database; names the first break.
 */
export const verifyAuditCommand: Command = {
  name: 'verify-audit',
  summary: 'Check the audit trail: its hash chain and the signed checkpoints outside the database',
  usage: `xray-admin verify-audit [--batch-size N] [--public-key FILE]

Reads the server's configuration: DATABASE_URL, where the checkpoints are (S3_BUCKET or
AUDIT_CHECKPOINT_BUCKET, else DATA_DIR/objects/audit-checkpoints), and the anchor key
(AUDIT_ANCHOR_KEY, or the development key in DATA_DIR/keys; --public-key FILE: its public half
as PEM, all an auditor needs).

1. Every checkpoint's signature is checked with the anchor key, and by the time they were
   written the chain they record never shrank.
2. audit_events is walked in id order, recomputing each event's SHA-256 over its canonical form
   and the previous event's hash (apps/sync-server/src/audit/audit.hash.ts); the chain must hold
   each checkpoint's head event with the same hash as its count-th event, no event after a
   checkpoint may be dated before it, and the chain must reach the newest checkpoint's head.

Every object among the checkpoints that does not verify is reported BROKEN, and the chain is still
checked against the valid ones. With no checkpoint at all, a trail that should have one by now
(more than AUDIT_CHECKPOINT_EVERY events, or its oldest event older than
AUDIT_CHECKPOINT_INTERVAL_MS, plus some slack) is BROKEN; a younger one only gets a WARNING.

Prints "OK" lines (events, checkpoints, events not yet anchored), or "BROKEN" naming the event or
checkpoint where the trail no longer verifies. Exit 0 intact, 1 broken, 2 could not check.`,

  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: {
        'batch-size': { type: 'string', default: '1000' },
        'public-key': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
    if (values.help) {
      io.out(this.usage);
      return EXIT.ok;
    }
    const batchSize = Number(values['batch-size']);
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) {
      io.err('--batch-size must be an integer from 1 to 100000');
      return EXIT.failed;
    }
    if (!io.env.DATABASE_URL) {
      io.err('DATABASE_URL is not set: point it at the sync server database (postgres://user:pass@host:5432/db).');
      return EXIT.failed;
    }
    const config = loadConfig(io.env);
    const url = config.db.url ?? io.env.DATABASE_URL;

    let key: AuditAnchorVerifier | undefined;
    const keyFile = values['public-key'];
    const pem = keyFile ? await readFile(keyFile, 'utf8') : await configuredAnchorPem(config);
    try {
      key = pem === undefined ? undefined : await anchorVerifierFromPem(pem);
    } catch (err) {
      if (!(err instanceof AuditAnchorKeyError)) throw err;
      io.err(`${keyFile ?? 'AUDIT_ANCHOR_KEY'} ${err.message}.`);
      return EXIT.failed;
    }

    const witness = await createAuditWitness(config.storage, config.audit);
    let checkpoints: CheckpointsRead = { checkpoints: [], broken: [] };
    if (key) checkpoints = await readCheckpoints(witness, key);
    else if ((await witness.list()).length > 0) {
      io.err(
        `${witness.location} holds audit checkpoints, and there is no anchor key to check them with: set AUDIT_ANCHOR_KEY or pass --public-key FILE.`,
      );
      return EXIT.failed;
    }
    // Each one reported; the chain is still checked against the valid ones below.
    for (const b of checkpoints.broken) io.out(`BROKEN: ${b.message}`);
    const intact = checkpoints.broken.length === 0 ? EXIT.ok : EXIT.problem;

    const pool = createPool(url, 1);
    try {
      const verdict = await verifyAuditChain(pool, { batchSize, checkpoints: checkpoints.checkpoints });
      if (!verdict.ok) {
        io.out(`BROKEN: ${verdict.message}`);
        io.out(`(${verdict.count} events before it verified)`);
        return EXIT.problem;
      }
      io.out(
        verdict.count === 0
          ? 'OK: the audit trail is empty'
          : `OK: ${verdict.count} audit events verified; chain intact up to event ${verdict.headId} (hash ${verdict.headHash})`,
      );
      const newest = checkpoints.checkpoints.reduce<(typeof checkpoints.checkpoints)[number] | undefined>(
        (a, b) => (a === undefined || b.count > a.count ? b : a),
        undefined,
      );
      if (newest && key) {
        io.out(
          `OK: ${verdict.checkpoints} checkpoint${verdict.checkpoints === 1 ? '' : 's'} in ${witness.location} verified (key ${key.kid}); the newest, written ${newest.time.toISOString()}, holds ${newest.count} events up to event ${newest.headId}` +
            (verdict.unanchored > 0
              ? `; ${verdict.unanchored} event${verdict.unanchored === 1 ? '' : 's'} after it ${verdict.unanchored === 1 ? 'is' : 'are'} not anchored yet`
              : ''),
        );
      } else if (verdict.count > 0) {
        io.out(
          `WARNING: no checkpoints in ${witness.location}${key ? '' : ' and no anchor key'}: nothing outside the database vouches for this chain yet, so events deleted from its end, or the whole chain rebuilt, would not show.`,
        );
        const overdue = await pastDueForCheckpoint(pool, config.audit.checkpoints);
        if (overdue) {
          io.out(`BROKEN: ${overdue}`);
          return EXIT.problem;
        }
      }
      return intact;
    } finally {
      await pool.end();
    }
  },
};

/**
 * Why a trail with no checkpoint at all should have had one by now, or undefined while it is young
 * enough not to. The servers write one once AUDIT_CHECKPOINT_EVERY events are not covered, or the
 * oldest uncovered event is AUDIT_CHECKPOINT_INTERVAL_MS old, looking at least every second; the
 * slack on top (the look, and up to a minute of a slow or retried write) keeps a trail a server is
 * anchoring right now from being reported. Times are the database's clock.
 */
async function pastDueForCheckpoint(pool: Pool, cfg: AuditConfig['checkpoints']): Promise<string | undefined> {
  const { count, oldest, now } = await auditRepository.unanchored(pool, null);
  if (count === 0 || oldest === null) return undefined;
  const n = Number(count);
  const ageMs = now.getTime() - oldest.getTime();
  const slackMs = Math.min(MAX_POLL_MS, cfg.intervalMs) + Math.min(cfg.intervalMs, 60_000);
  const dueAfterMs = n > cfg.every ? 0 : cfg.intervalMs;
  if (ageMs <= dueAfterMs + slackMs) return undefined;
  const why =
    n > cfg.every
      ? `${n} events, more than AUDIT_CHECKPOINT_EVERY (${cfg.every})`
      : `its oldest event, written ${oldest.toISOString()}, is ${Math.round(ageMs / 1000)} s old, past AUDIT_CHECKPOINT_INTERVAL_MS (${cfg.intervalMs} ms)`;
  return (
    `the audit trail has no checkpoint, though it is past due for one (${why}): the checkpoints were removed, ` +
    "or none could be written (see the servers' logs); events deleted from its end, or the whole chain rebuilt, would not show"
  );
}
