import { parseArgs } from 'node:util';
import { appendAudit, systemContext } from '../audit/audit.service.ts';
import { loadConfig } from '../config/config.ts';
import { createPool, inTransaction } from '../db/pool.ts';
import { loadOrCreateDevKeys } from '../keys/dev-keys.ts';
import { createConfigKeyService } from '../keys/key.service.ts';
import { EXIT, type Command } from './command.ts';

interface Row {
  id: string;
  patient_id: string;
  dek_wrapped: Buffer;
  kek_id: string;
}

/**
 * `xray-admin rotate-kek --to <kid>`: re-wraps every X-ray's data key under another KEK.
 * Objects are never rewritten (the data keys do not change). Works in small transactions,
 * so an interrupted run is simply run again: it continues with what is still on other keys.
 */
export const rotateKekCommand: Command = {
  name: 'rotate-kek',
  summary: 'Re-wrap every X-ray data key under the KEK <kid> (resumable; objects untouched)',
  usage: `xray-admin rotate-kek --to <kid> [--batch-size N]

Reads the server's configuration (DATABASE_URL, KEK, UPLOAD_PRIVATE_KEY; or the development
keys in DATA_DIR). Both the old and the new KEK must be listed in KEK while it runs. When it
reports 0 remaining, the old KEK can be removed from KEK. Each re-wrap is audited (xray.rekey).`,

  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: {
        to: { type: 'string' },
        'batch-size': { type: 'string', default: '200' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
    if (values.help) {
      io.out(this.usage);
      return EXIT.ok;
    }
    const to = values.to;
    if (!to) {
      io.err('--to <kid> is required: the KEK id to re-wrap under.');
      return EXIT.failed;
    }
    const batchSize = Number(values['batch-size']);
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
      io.err('--batch-size must be an integer from 1 to 10000');
      return EXIT.failed;
    }
    const config = loadConfig(io.env);
    if (!config.db.url) {
      io.err('DATABASE_URL is not set: point it at the sync server database.');
      return EXIT.failed;
    }
    const keys = await createConfigKeyService(config.keys ?? (await loadOrCreateDevKeys(config.dataDir)));
    if (!keys.hasKek(to)) {
      io.err(`KEK "${to}" is not configured: add it to KEK (id:base64) before rotating to it.`);
      return EXIT.failed;
    }
    const pool = createPool(config.db.url, 2);
    let moved = 0;
    try {
      for (;;) {
        // SKIP LOCKED: two operators (or a crash and a rerun) never fight over a row.
        const n = await inTransaction(pool, async (tx) => {
          const { rows } = await tx.query<Row>(
            `SELECT id, patient_id, dek_wrapped, kek_id FROM xrays WHERE kek_id <> $1
              ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`,
            [to, batchSize],
          );
          for (const r of rows) {
            const dek = await keys.unwrapDek(new Uint8Array(r.dek_wrapped), r.kek_id);
            const { wrapped } = await keys.wrapDek(dek, to);
            await tx.query('UPDATE xrays SET dek_wrapped = $2, kek_id = $3 WHERE id = $1', [
              r.id,
              Buffer.from(wrapped),
              to,
            ]);
            await appendAudit(tx, {
              context: systemContext({ sub: 'xray-admin rotate-kek', roles: ['admin'] }),
              action: 'xray.rekey',
              outcome: 'success',
              xrayId: r.id,
              patientId: r.patient_id,
              details: { fromKek: r.kek_id, toKek: to },
            });
          }
          return rows.length;
        });
        moved += n;
        if (n > 0) io.out(`re-wrapped ${moved} so far`);
        if (n < batchSize) break;
      }
      const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM xrays WHERE kek_id <> $1', [to]);
      io.out(`OK: ${moved} X-rays re-wrapped under ${to}; ${rows[0]?.n ?? 0} remaining on other KEKs.`);
      return EXIT.ok;
    } finally {
      await pool.end();
    }
  },
};
