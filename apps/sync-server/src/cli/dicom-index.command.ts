import { DICOM_HEADER_PREFIX_BYTES, DICOM_MAX_HEADER_BYTES } from '@xray/shared';
import { backfillDicomIndex } from '../dicomweb/dicom-index.backfill.ts';
import { createLinkVerifier } from '../integrations/link.verifier.ts';
import { createLogger } from '../observability/logger.ts';
import { createMetrics } from '../observability/metrics.ts';
import { createXrayService } from '../xrays/xray.service.ts';
import { EXIT, printedHelp, type Command } from './command.ts';
import { serverOutbox, withRestoreTools } from './restore.setup.ts';

const usage = `xray-admin dicom-index

Gives the DICOMweb index (QIDO-RS, WADO-RS) the DICOM X-rays stored before it existed (the server
does this itself at start unless DICOM_INDEX_AT_START=false; this command does it on demand): each is
read from the object store as far as its header (decrypted, whole to the pixel data, as every
upload's is; never the pixels) and indexed as an upload is. A header that runs past ${DICOM_MAX_HEADER_BYTES / 1024 / 1024} MiB
(DICOM_MAX_HEADER_BYTES, refused at every upload) is not indexed: an error line names the X-ray.
X-rays indexed from their first ${DICOM_HEADER_PREFIX_BYTES / 1024} KiB only (as uploads were before headers were read whole)
are read again the same way and their index rows written anew, the missing attributes with them.
Safe while servers run, and to run again (a file with no pixel data past ${DICOM_HEADER_PREFIX_BYTES / 1024} KiB is read
again each time, to the same row). An X-ray indexed under a SOP Instance UID another file holds
is flagged (dicomUidConflict), with a change, an xray.updated event (cause dicom_uid_holder, to the
server's sinks) and an audit event. Uses the server's settings (DATABASE_URL, the store, the
KEKs). Exit 1 when some X-ray could not be read or indexed; the others are indexed all the same.`;

/** `xray-admin dicom-index`: the index of X-rays stored before DICOMweb. */
export const dicomIndexCommand: Command = {
  name: 'dicom-index',
  summary: 'Index DICOM X-rays stored before DICOMweb, re-read those indexed from a cut header (reads only headers)',
  usage,

  async run(args, io) {
    if (printedHelp(args, io, usage)) return EXIT.ok;
    return withRestoreTools(io.env, async ({ config, pool, store, keys }) => {
      const log = createLogger('warn', 'json', 2);
      // The server's outbox writer: an X-ray indexed under a UID another file holds says so in an
      // event. No link is checked.
      const outbox = serverOutbox({ config, pool, store, keys }, log);
      const xrays = createXrayService({
        pool,
        store,
        keys,
        log,
        metrics: createMetrics(),
        links: createLinkVerifier(undefined, { inlineTimeoutMs: 0, log }),
        outbox,
      });
      const report = await backfillDicomIndex({
        pool,
        outbox,
        get: (id) => xrays.get(id),
        openContent: (x, range) => xrays.openContent(x, range),
      });
      io.out(`Indexed ${report.indexed} DICOM X-ray(s).`);
      if (report.indexedMeanwhile)
        io.out(
          `${report.indexedMeanwhile} were indexed meanwhile (by another run of this command or the server's at start): left as they were.`,
        );
      if (report.reread)
        io.out(
          `Re-read ${report.reread} DICOM X-ray(s) indexed from a header cut at ${DICOM_HEADER_PREFIX_BYTES / 1024} KiB.`,
        );
      if (report.skipped.length)
        io.out(
          `${report.skipped.length} name no study, series or instance UID (not in DICOMweb): ${report.skipped.join(', ')}`,
        );
      if (report.deleted.length)
        io.out(`${report.deleted.length} were deleted while this ran: ${report.deleted.join(', ')}`);
      for (const f of report.failed) io.err(`${f.id}: ${f.error}`);
      return report.failed.length ? EXIT.problem : EXIT.ok;
    });
  },
};
