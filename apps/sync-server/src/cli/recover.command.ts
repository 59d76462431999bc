import { auditState, supersedeLostCheckpoints } from '../audit/audit.restore.ts';
import { createLogger } from '../observability/logger.ts';
import { recoverXrays } from '../xrays/xray-recovery.ts';
import { EXIT, printedHelp, type Command } from './command.ts';
import { serverOutbox, withRestoreTools } from './restore.setup.ts';

const usage = `xray-admin recover

After restoring the database backup and the bucket (or DATA_DIR/objects), with no server running:

1. The audit trail: the restored chain must verify against every signed checkpoint it reaches.
   Checkpoints past its end (written after the backup) are moved to
   audit-checkpoints-superseded/<time>/ and an audit.restore event names them: the events they
   cover are lost with the database, and the trail says so. A trail that does not verify is refused.
2. Deletions made after the backup are re-applied from the tombstones beside the objects: a
   deleted X-ray's row is removed again and its object erased (audited as xray.delete; another
   X-ray whose dicomUidConflict that turns gets a change and an xray.updated event, to the
   server's sinks, delivered once a server runs). A tombstone of a delete that never committed
   (row and object both here, never marked committed) is removed instead, and the X-ray kept.
3. Every object with no row gets its row back from its recovery record, once its bytes are read
   back and match it (audited as xray.recover, one event per X-ray).
4. Every row gets a current recovery record.
5. The cached rendered images (renders/<xray id>/…) of every X-ray that still has no row are
   removed: derived images of erased patient data (rendered again on demand for a live X-ray).

Works on any store (no bucket versioning needed). Idempotent: run it again after an interruption.
Then run xray-admin check. Exit 0 done, 1 something could not be recovered, 2 could not run.`;

/** `xray-admin recover`: rows back for objects newer than the database backup; deletions re-applied. */
export const recoverCommand: Command = {
  name: 'recover',
  summary: 'After a restore: rebuild missing rows from recovery records, re-apply later deletions (audited)',
  usage,
  async run(args, io) {
    if (printedHelp(args, io, usage)) return EXIT.ok;
    return withRestoreTools(io.env, async ({ config, pool, store, keys }) => {
      const audit = await auditState(config, pool);
      if (audit.kind === 'broken') {
        io.err(
          `The audit trail does not verify, so this is not a plain restore: ${audit.message}. Nothing was changed.`,
        );
        return EXIT.problem;
      }
      if (audit.kind === 'restored') {
        io.out(`audit: ${audit.message}`);
        const archive = await supersedeLostCheckpoints(config, pool, store, audit);
        io.out(
          `audit: ${audit.lost.length} checkpoints past the restored chain moved to ${archive}; an audit.restore event records them`,
        );
      } else io.out(`audit: ${audit.message}`);

      // Events it commits go to the server's sinks (a deletion re-applied that turns another X-ray's
      // dicomUidConflict).
      const outbox = serverOutbox({ config, pool, store, keys }, createLogger('warn', 'json', 2));
      const report = await recoverXrays(pool, store, keys, outbox);
      for (const id of report.erased) io.out(`erased again: X-ray ${id} (deleted after the backup)`);
      for (const id of report.recovered) io.out(`recovered: X-ray ${id}`);
      for (const id of report.staleTombstones)
        io.out(`kept: X-ray ${id} (its delete never committed; the stale tombstone was removed)`);
      for (const { xrayId, count } of report.rendersRemoved)
        io.out(
          `renders removed: X-ray ${xrayId} (${count} cached rendered image${count === 1 ? '' : 's'}; it has no row)`,
        );
      for (const p of report.problems) io.err(`PROBLEM (${p.kind}): ${p.message}`);
      io.out(
        `${report.recovered.length} rows recovered, ${report.erased.length} deletions re-applied, ` +
          `${report.recordsWritten} recovery records written, ${report.rendersRemoved.length} render sets removed; ` +
          `${report.problems.length} problems.`,
      );
      if (report.problems.length) return EXIT.problem;
      io.out('OK: now run xray-admin check.');
      return EXIT.ok;
    });
  },
};
