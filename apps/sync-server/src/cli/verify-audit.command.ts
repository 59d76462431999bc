import { parseArgs } from 'node:util';
import { verifyAuditChain } from '../audit/audit.verifier.ts';
import { createPool } from '../db/pool.ts';
import { EXIT, type Command } from './command.ts';

/** `xray-admin verify-audit`: recomputes the audit hash chain and names the first broken link. */
export const verifyAuditCommand: Command = {
  name: 'verify-audit',
  summary: 'Recompute the audit trail hash chain; exit 1 naming the first broken event',
  usage: `xray-admin verify-audit [--batch-size N]

Reads DATABASE_URL. Walks audit_events in id order, recomputing each event's SHA-256 over its
canonical form and the previous event's hash (see apps/sync-server/src/audit/audit.hash.ts).
Prints "OK" with the number of events and the head hash, or "BROKEN" with the id of the first
event that does not verify. Exit 0 intact, 1 broken, 2 could not check.`,

  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: { 'batch-size': { type: 'string', default: '1000' }, help: { type: 'boolean', short: 'h' } },
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
    const url = io.env.DATABASE_URL;
    if (!url) {
      io.err('DATABASE_URL is not set: point it at the sync server database (postgres://user:pass@host:5432/db).');
      return EXIT.failed;
    }
    const pool = createPool(url, 1);
    try {
      const verdict = await verifyAuditChain(pool, { batchSize });
      if (verdict.ok) {
        io.out(
          verdict.count === 0
            ? 'OK: the audit trail is empty'
            : `OK: ${verdict.count} audit events verified; chain intact up to event ${verdict.headId} (hash ${verdict.headHash})`,
        );
        return EXIT.ok;
      }
      io.out(`BROKEN: audit event ${verdict.brokenId} does not verify: ${verdict.reason}`);
      io.out(`(${verdict.count} events before it verified)`);
      return EXIT.problem;
    } finally {
      await pool.end();
    }
  },
};
