import { addAbortSignal, type Readable } from 'node:stream';
import { DICOM_HEADER_PREFIX_BYTES, DICOM_MAX_HEADER_BYTES, loadDicomReader, type DicomHeader } from '@xray/shared';
import { abortable } from '../abortable.ts';
import { systemContext } from '../audit/audit.service.ts';
import { inTransaction, type Pool } from '../db/pool.ts';
import type { OutboxWriter } from '../events/outbox.repository.ts';
import type { ByteRange } from '../storage/index.ts';
import { xrayChangeRepository } from '../xrays/xray-changes.repository.ts';
import type { XrayRecord } from '../xrays/xray.repository.ts';
import { dicomInstanceRepository } from './dicom-instance.repository.ts';
import { indexEntryOf } from './dicom-index.ts';
import { lockFlipped, recordConflictFlips } from './uid-conflict.changes.ts';

export interface BackfillDeps {
  pool: Pool;
  get(id: string): Promise<XrayRecord>;
  /** XrayService.openContent: decrypts the stored object (only the segments the range touches). */
  openContent(x: XrayRecord, range?: ByteRange): Promise<Readable>;
  /** Where an X-ray indexed under a UID another file holds announces its flag (uid-conflict.changes.ts). */
  outbox: OutboxWriter;
}

/** Who the audit trail names for a flag the backfill changed (a system change, as `xray-admin identity-check`). */
const ACTOR = 'xray-admin dicom-index';

export interface BackfillReport {
  indexed: number;
  /** Indexed meanwhile by another run (`xray-admin dicom-index` beside the server's run at start): nothing to do. */
  indexedMeanwhile: number;
  /**
   * X-rays indexed from a header cut at DICOM_HEADER_PREFIX_BYTES (by ingest or this backfill
   * before headers were read whole) read again and their row written anew.
   */
  reread: number;
  /** DICOM X-rays whose header names no study, series or instance UID: not in DICOMweb. */
  skipped: string[];
  /** Deleted while the run went on (by a doctor, an admin or retention): nothing to index. */
  deleted: string[];
  failed: { id: string; error: string }[];
  /** Ended by its signal (the server stopping) before it was through: the next run does the rest. */
  stopped?: true;
}

/** Reads a stored X-ray's plaintext (XrayService.openContent). */
interface ContentReader<X> {
  openContent(x: X, range: ByteRange): Promise<Readable>;
}

/** The stream `opening` gives, unless the signal aborts first (a store that does not answer does not hold a stop); a late one is destroyed. */
async function openedUnlessAborted(opening: Promise<Readable>, signal: AbortSignal | undefined): Promise<Readable> {
  if (!signal) return opening;
  try {
    return await abortable(opening, signal);
  } catch (err) {
    if (signal.aborted)
      opening.then(
        (late) => late.destroy(),
        () => undefined,
      );
    throw err;
  }
}

/** The plaintext bytes [start, end] of a stored X-ray, decrypted; cut short when `signal` aborts. */
async function readRange<X>(deps: ContentReader<X>, x: X, range: ByteRange, signal?: AbortSignal): Promise<Buffer> {
  const opened = await openedUnlessAborted(deps.openContent(x, range), signal);
  const content = signal ? addAbortSignal(signal, opened) : opened;
  const chunks: Buffer[] = [];
  for await (const chunk of content) chunks.push(Buffer.from(chunk as Uint8Array));
  const bytes = Buffer.concat(chunks);
  // Short of the range: the next read would start where this one did, for ever.
  if (bytes.length !== range.end - range.start + 1)
    throw new Error(`bytes ${range.start}-${range.end} of its content read as ${bytes.length} bytes`);
  return bytes;
}

/**
 * A stored DICOM X-ray's header, read whole to its pixel data as every door reads it at ingest
 * (patient tags may follow long private data): the first DICOM_HEADER_PREFIX_BYTES, then twice as
 * much each time the header goes on, up to `maxHeaderBytes`. Only the new bytes are fetched each
 * time, and only the segments they touch are decrypted: never the pixels. A header that has not
 * ended by then is an error (no door stores such a file today): nothing of it is indexed.
 * `signal` cuts the read short (the server stopping), with its reason.
 */
export async function readStoredDicomHeader<X extends { sizeBytes: number }>(
  deps: ContentReader<X>,
  x: X,
  maxHeaderBytes = DICOM_MAX_HEADER_BYTES,
  signal?: AbortSignal,
): Promise<DicomHeader> {
  const { readDicomHeader } = await loadDicomReader();
  let head = Buffer.alloc(0);
  let want = Math.min(DICOM_HEADER_PREFIX_BYTES, maxHeaderBytes);
  for (;;) {
    const end = Math.min(x.sizeBytes, want);
    if (end > head.length)
      head = Buffer.concat([head, await readRange(deps, x, { start: head.length, end: end - 1 }, signal)]);
    const header = readDicomHeader(head);
    // The whole file read: a header with no pixel data after it is as whole as it gets.
    if (header.complete || head.length >= x.sizeBytes) return header;
    if (head.length >= maxHeaderBytes)
      throw new Error(
        `its DICOM header runs past ${maxHeaderBytes} bytes without reaching the pixel data (7FE0,0010); ` +
          'not indexed (no door stores such a file today: check where it came from)',
      );
    want = Math.min(want * 2, maxHeaderBytes);
  }
}

/** The error of an X-ray that could not be read or indexed, as the report gives it. */
const errorOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Indexes DICOM X-rays stored before the index existed (`xray-admin dicom-index`): for each, the
 * header only is decrypted, whole to the pixel data (never the whole X-ray), and indexed as
 * finalize would have. Then rows indexed from a header cut at DICOM_HEADER_PREFIX_BYTES (as ingest
 * and this backfill read it before headers were read whole) whose file goes on past it are read
 * again the same way and written anew in place (dicomInstanceRepository.replacePartial).
 * Safe to run while the server runs, and again: a row written meanwhile is kept; a file with no
 * pixel data longer than the prefix is read again each time, to the same row.
 * `signal` (the server stopping) ends it between X-rays: the one being read is dropped, its read
 * cut short; one being written is committed first (a transaction is never cut in half). What is
 * left is found by the next run. `actor` is who the audit trail names for a flag it turns.
 * An X-ray skipped (no UIDs) is recorded as such; `exceptUnindexable` does not read those again
 * (the server at start; the command reads and names them every time).
 */
export async function backfillDicomIndex(
  deps: BackfillDeps,
  opts: {
    batch?: number;
    onProgress?: (done: number) => void;
    signal?: AbortSignal;
    actor?: string;
    exceptUnindexable?: boolean;
  } = {},
): Promise<BackfillReport> {
  const report: BackfillReport = { indexed: 0, indexedMeanwhile: 0, reread: 0, skipped: [], deleted: [], failed: [] };
  /**
   * Deleted meanwhile: its deletion is recorded (the change feed's tombstone, written with every
   * delete). A look that fails says no: a failure stays one.
   */
  const gone = (id: string): Promise<boolean> => xrayChangeRepository.isDeleted(deps.pool, id).catch(() => false);
  /** An X-ray that could not be read or indexed: a failure, unless it is gone (deleted meanwhile). */
  const failedOn = async (id: string, err: unknown): Promise<void> => {
    if (await gone(id)) report.deleted.push(id);
    else report.failed.push({ id, error: errorOf(err) });
  };
  const { signal } = opts;
  const context = systemContext({ sub: opts.actor ?? ACTOR, roles: ['admin'] });
  const batch = opts.batch ?? 100;
  /** Stopped: what is done is reported, the rest left to the next run. */
  const stopped = (): boolean => {
    if (signal?.aborted) report.stopped = true;
    return report.stopped === true;
  };
  let after: string | null = null;
  for (;;) {
    if (stopped()) return report;
    const ids = await dicomInstanceRepository.unindexed(deps.pool, after, batch, {
      exceptUnindexable: opts.exceptUnindexable === true,
    });
    if (ids.length === 0) break;
    for (const id of ids) {
      if (stopped()) return report;
      after = id;
      try {
        const x = await deps.get(id);
        const entry = indexEntryOf(await readStoredDicomHeader(deps, x, DICOM_MAX_HEADER_BYTES, signal));
        if (!entry) {
          await dicomInstanceRepository.markUnindexable(deps.pool, id);
          // Deleted since its read, nothing was marked: it is named as deleted, not as a file to look at.
          if (await gone(id)) report.deleted.push(id);
          else report.skipped.push(id);
          continue;
        }
        // In a transaction: the lock on the UID is held to its COMMIT, as finalize holds it (through
        // the pool it would be let go before the insert, and an upload committing meanwhile would be
        // neither seen nor marked, and could be displaced by this older file).
        // Under a UID another file holds: its dicomUidConflict turns true, and it says so.
        const { inserted } = await inTransaction(deps.pool, async (tx) => {
          const done = await dicomInstanceRepository.insert(tx, id, entry);
          if (done.conflict) {
            const flips = await lockFlipped(tx, [{ xrayId: id, before: false, after: true }]);
            await recordConflictFlips(tx, deps.outbox, flips, context, null);
          }
          return done;
        });
        if (inserted) report.indexed++;
        else report.indexedMeanwhile++;
      } catch (err) {
        // A read cut short by the stop is no failure: the next run reads it.
        if (stopped()) return report;
        // One unreadable X-ray (an object that fails its check, a header past the cap) does not
        // stop the rest.
        await failedOn(id, err);
      }
    }
    opts.onProgress?.(report.indexed + report.reread);
  }

  after = null;
  for (;;) {
    if (stopped()) return report;
    const rows = await dicomInstanceRepository.partiallyIndexed(deps.pool, DICOM_HEADER_PREFIX_BYTES, after, batch);
    if (rows.length === 0) return report;
    for (const { id, uids } of rows) {
      if (stopped()) return report;
      after = id;
      try {
        const entry = indexEntryOf(
          await readStoredDicomHeader(deps, await deps.get(id), DICOM_MAX_HEADER_BYTES, signal),
        );
        // The UIDs were whole in the cut header: read on, they cannot differ. If they do, the row
        // stays as it is: an instance does not move to another SOP Instance UID behind STOW-RS's back.
        if (entry?.studyUid !== uids.study || entry.seriesUid !== uids.series || entry.sopUid !== uids.instance)
          throw new Error(
            `its header read whole does not name the UIDs of its index row (${uids.study} ${uids.series} ${uids.instance}); the row is left as it is`,
          );
        // False: deleted meanwhile (named as such), or written whole by another run.
        if (await dicomInstanceRepository.replacePartial(deps.pool, id, entry)) report.reread++;
        else if (await gone(id)) report.deleted.push(id);
      } catch (err) {
        if (stopped()) return report;
        await failedOn(id, err);
      }
    }
    opts.onProgress?.(report.indexed + report.reread);
  }
}
