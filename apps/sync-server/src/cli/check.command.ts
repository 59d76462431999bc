import { parseArgs } from 'node:util';
import { auditState } from '../audit/audit.restore.ts';
import {
  compareInventory,
  openSample,
  recordKeksMissing,
  takeInventory,
  type Problem,
} from '../xrays/xray-recovery.ts';
import { EXIT, type Command } from './command.ts';
import { withRestoreTools } from './restore.setup.ts';

const usage = `xray-admin check [--sample N | --all]

Checks that the database and the object store hold the same X-rays, as after a restore:

1. Rows and objects compared both ways: a row whose object is missing, an object with no row
   (stored after the database backup: \`recover\` rebuilds it), a row of a deleted X-ray that came
   back, an erased X-ray's object still stored, a row with no recovery record.
   Cached rendered images (renders/<xray id>/…) of an X-ray with no row (left by a delete cut off
   before removing them, or brought back by a restore): \`recover\` removes them.
2. N X-rays per KEK (default 3; --all: every one) opened: the data key unwrapped for its X-ray,
   the object decrypted and its SHA-256 compared with the row, its recovery record opened and
   compared with the row.
3. The audit chain verified against the signed checkpoints: it must reach the newest one.

Reads the server's configuration (DATABASE_URL, S3_* or DATA_DIR, KEK, AUDIT_ANCHOR_KEY).
Prints one PROBLEM line per finding. Exit 0 all consistent, 1 a problem found, 2 could not check.`;

/** `xray-admin check`: database, object store and audit trail agree. */
export const checkCommand: Command = {
  name: 'check',
  summary: 'Compare X-ray rows and objects both ways, open a sample per KEK, check the audit chain head',
  usage,
  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: {
        sample: { type: 'string', default: '3' },
        all: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
    if (values.help) {
      io.out(usage);
      return EXIT.ok;
    }
    const perKek = values.all ? Infinity : Number(values.sample);
    if (!values.all && (!Number.isInteger(perKek) || perKek < 0)) {
      io.err('--sample must be a whole number (X-rays opened per KEK)');
      return EXIT.failed;
    }
    return withRestoreTools(io.env, async ({ config, pool, store, keys }) => {
      const inv = await takeInventory(pool, store);
      const problems: Problem[] = [...compareInventory(inv), ...(await recordKeksMissing(store, keys, inv))];
      io.out(
        `rows: ${inv.rows.size}; objects: ${inv.objects.size}; recovery records: ${inv.records.size}; ` +
          `tombstones: ${inv.tombstones.size}; unfinished uploads: ${inv.unfinished.size}; ` +
          `render sets: ${inv.renders.size} (${[...inv.renders.values()].reduce((n, keys) => n + keys.length, 0)} objects)`,
      );
      const sampled = await openSample(pool, store, keys, inv, perKek);
      problems.push(...sampled.problems);
      for (const [kek, n] of sampled.opened) io.out(`opened ${n} X-rays under KEK ${kek}`);
      const audit = await auditState(config, pool);
      if (audit.kind === 'intact') io.out(`audit: ${audit.message}`);
      else
        problems.push({
          kind: 'audit',
          message:
            audit.kind === 'restored'
              ? `audit: ${audit.message}: after a restore, run xray-admin recover; with no restore, events were cut from the end of the trail (tampering): do not run recover, investigate`
              : `audit: the trail does not verify: ${audit.message}`,
        });
      for (const p of problems) io.out(`PROBLEM (${p.kind}): ${p.message}`);
      if (problems.length) {
        io.out(`${problems.length} problem${problems.length === 1 ? '' : 's'} found.`);
        return EXIT.problem;
      }
      io.out(
        'OK: every row has its object and recovery record, every object and cached render its row; the sample reads back; the audit trail verifies.',
      );
      return EXIT.ok;
    });
  },
};
