import { DICOM_HEADER_PREFIX_BYTES } from '@xray/shared';
import type { Pool } from '../db/pool.ts';
import type { OutboxWriter } from '../events/outbox.repository.ts';
import type { Logger } from '../observability/logger.ts';
import type { XrayService } from '../xrays/xray.service.ts';
import { backfillDicomIndex, type BackfillReport } from './dicom-index.backfill.ts';
import { dicomInstanceRepository } from './dicom-instance.repository.ts';

/** One instance of a cluster indexes at a time: a session advisory lock on this key. */
const LOCK_KEY = 'dicom-index-at-start';
/** Who the audit trail names for a flag this run turns (the CLI is `xray-admin dicom-index`). */
const ACTOR = 'sync-server dicom-index at start';
/** Failures named in the summary line; `xray-admin dicom-index` lists them all. */
const FAILURES_LOGGED = 100;

export interface DicomIndexAtStart {
  /** Settles when the run has ended: done, nothing to do, another instance's, or stopped. Never rejects. */
  readonly done: Promise<void>;
  /** Stops it between X-rays (a read under way is cut short) and waits for it, lock released. */
  stop(): Promise<void>;
}

/**
 * `xray-admin dicom-index`, run by the server itself once it listens, in the background (it never
 * holds a start or /readyz): DICOM X-rays stored before the DICOMweb index existed are indexed, and
 * those indexed from a cut header read again, with the server's own pool, X-ray service and outbox
 * writer. A cheap look first: with nothing to do (every start but the first few after an upgrade),
 * nothing is locked or logged. Otherwise one instance of a cluster does it (a session advisory
 * lock, held on a connection of its own for the run; the others skip); the backfill is safe beside
 * uploads, the CLI and another run anyway (dicom-index.backfill.ts), the lock only spares the
 * duplicate reads and log lines.
 */
export function startDicomIndexAtStart(deps: {
  pool: Pool;
  /**
   * Opens a pool of one connection for the lock held the whole run, its own (opened only when
   * there is something to do, ended with the run): not the main pool the backfill works with
   * (with DATABASE_POOL_MAX=1 that would leave the backfill none), nor the upload-lock pool (one
   * of its TUS_LOCK_POOL_MAX listens, the others hold uploads' locks: with 2, no tus upload could
   * lock for the run, hours on a large archive).
   */
  openLockPool: () => Pool;
  xrays: Pick<XrayService, 'get' | 'openContent'>;
  outbox: OutboxWriter;
  log: Logger;
}): DicomIndexAtStart {
  const { pool, log } = deps;
  const stopping = new AbortController();
  const done = run(deps, stopping.signal).catch((err: unknown) => {
    if (stopping.signal.aborted) return;
    log.warn({ err }, 'DICOM index at start: could not look for or index X-rays; run `xray-admin dicom-index`');
  });
  return {
    done,
    async stop() {
      stopping.abort(new Error('the server is stopping'));
      await done;
    },
  };

  /**
   * Anything to index or read again (the backfill's own queries, one row each). X-rays found to
   * name no UID are not: uploads still store such files, and each would be read at every start.
   */
  async function anythingToDo(): Promise<boolean> {
    if ((await dicomInstanceRepository.unindexed(pool, null, 1, { exceptUnindexable: true })).length > 0) return true;
    return (await dicomInstanceRepository.partiallyIndexed(pool, DICOM_HEADER_PREFIX_BYTES, null, 1)).length > 0;
  }

  async function run(d: typeof deps, signal: AbortSignal): Promise<void> {
    if (!(await anythingToDo()) || signal.aborted) return;
    const lockPool = d.openLockPool();
    try {
      await locked(lockPool, d, signal);
    } finally {
      await lockPool.end().catch(() => undefined);
    }
  }

  /**
   * The run under the lock, if this instance gets it. The lock is its connection's session's: the
   * connection is destroyed after, however the run ended, and the lock goes with it.
   */
  async function locked(lockPool: Pool, d: typeof deps, signal: AbortSignal): Promise<void> {
    const client = await lockPool.connect();
    try {
      const { rows } = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked',
        [LOCK_KEY],
      );
      if (!rows[0]?.locked) {
        log.debug('DICOM index at start: another instance is indexing; this one does not');
        return;
      }
      // Looked at again under the lock: an instance that held it until now may have done it all.
      if (!(await anythingToDo()) || signal.aborted) return;
      log.info(
        'DICOM index at start: indexing DICOM X-rays stored before the DICOMweb index, or indexed from a cut header (as `xray-admin dicom-index`)',
      );
      const report = await backfillDicomIndex(
        {
          pool,
          outbox: d.outbox,
          get: (id) => d.xrays.get(id),
          openContent: (x, range) => d.xrays.openContent(x, range),
        },
        { signal, actor: ACTOR, exceptUnindexable: true },
      );
      logSummary(log, report);
    } finally {
      client.release(true);
    }
  }
}

/** One line, as the CLI's output: counts, and the failures by id (at warn) when there are any. */
function logSummary(log: Logger, report: BackfillReport): void {
  const summary = {
    indexed: report.indexed,
    ...(report.indexedMeanwhile ? { indexedMeanwhile: report.indexedMeanwhile } : {}),
    reread: report.reread,
    skipped: report.skipped.length,
    ...(report.deleted.length ? { deleted: report.deleted.length } : {}),
    failed: report.failed.length,
    ...(report.stopped ? { stopped: true } : {}),
  };
  const msg = report.stopped
    ? 'DICOM index at start: stopped by the shutdown; the next start (or `xray-admin dicom-index`) does the rest'
    : 'DICOM index at start: done';
  if (report.failed.length === 0) return log.info(summary, msg);
  log.warn(
    { ...summary, failures: report.failed.slice(0, FAILURES_LOGGED) },
    `${msg}; some X-rays could not be read or indexed (\`xray-admin dicom-index\` names them all and tries again)`,
  );
}
