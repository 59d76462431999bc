import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CLIENT_PACED_EVENTS, type ClientPacedPool, type ClientPacedReads } from '../storage/object-store.ts';

/** Prometheus metrics; one registry per app so tests can run several apps in a process. */
export function createMetrics() {
  const registry = new Registry();
  const database = new DatabaseReadings();
  /** A gauge set at scrape time from the shared database reading (left as it was when the read fails). */
  const databaseGauge = (name: string, help: string, pick: (s: DatabaseGauges) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const s = await database.read();
        if (s) this.set(pick(s));
      },
    });
  collectDefaultMetrics({ register: registry });
  let s3DownloadPool: (() => ClientPacedPool) | undefined;
  return {
    registry,
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
      registers: [registry],
    }),
    ingested: new Counter({
      name: 'xray_ingested_total',
      help: 'X-rays stored, by door (rest, tus)',
      labelNames: ['door'] as const,
      registers: [registry],
    }),
    ingestedBytes: new Counter({
      name: 'xray_ingested_bytes_total',
      help: 'Plaintext bytes of X-rays stored',
      labelNames: ['door'] as const,
      registers: [registry],
    }),
    ingestRejected: new Counter({
      name: 'xray_ingest_rejected_total',
      help: 'Uploads refused, by error code',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    uploadRequestBytes: new Counter({
      name: 'xray_tus_request_bytes_total',
      help: 'Upload body bytes the tus store received',
      labelNames: ['method'] as const,
      registers: [registry],
    }),
    tusVerifications: new Counter({
      name: 'xray_tus_verifications_total',
      help: 'Finished tus uploads by how their bytes were verified: on_arrival (PATCH by PATCH) or read_back',
      labelNames: ['how'] as const,
      registers: [registry],
    }),
    downloadedBytes: new Counter({
      name: 'xray_downloaded_bytes_total',
      help: 'Plaintext bytes served to clients',
      registers: [registry],
    }),
    downloadSlots: new Counter({
      name: 'xray_download_slots_total',
      help: "Answers streaming stored bytes (download, WADO-RS retrieve, frames) by how they got one of their user's DOWNLOAD_MAX_STREAMS_PER_USER slots: at_once, waited (in the user's line), or not: queue_full and timed_out (429 too_many_downloads), left (the client went away while waiting)",
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    integrityFailures: new Counter({
      name: 'xray_integrity_failures_total',
      help: 'Stored X-rays found not to be what their row says, by check: key_binding (the data key is bound to another X-ray or object), stored_length, sha256 (a whole download), ciphertext (a segment or header does not authenticate)',
      labelNames: ['check'] as const,
      registers: [registry],
    }),
    renders: new Counter({
      name: 'xray_renders_total',
      help: 'Rendered images and previews asked for, by outcome: cached (an encrypted cache entry served: nothing decoded), decoded (the X-ray decoded and rendered), busy (refused: every render slot and queue place taken), failed, refused_again (not_renderable moments ago: refused without decoding)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    auditCheckpoints: new Counter({
      name: 'xray_audit_checkpoints_total',
      help: 'Audit checkpoint turns that wrote one (written) or could not (failed: the witness or the database)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    outboxOldestPendingAge: databaseGauge(
      'xray_outbox_oldest_pending_age_seconds',
      'Age of the oldest event with an undelivered (pending) delivery, by when it was written; 0 when none. Grows while a sink is down',
      (s) => s.oldestPendingAgeS,
    ),
    outboxDead: databaseGauge(
      'xray_outbox_dead_deliveries',
      'Event deliveries given up on (dead) after OUTBOX_MAX_ATTEMPTS refusals; retry with xray-admin retry-dead',
      (s) => s.dead,
    ),
    linkChecksPending: databaseGauge(
      'xray_link_checks_pending',
      'X-rays whose patient link could not be checked yet (the Patient Service did not answer); re-checked in the background',
      (s) => s.pendingLinks,
    ),
    s3DownloadReads: new Counter({
      name: 'xray_s3_download_reads_total',
      help: "Answers streamed from S3 at a client's pace (downloads, WADO-RS retrieve, frames), by event: released (left unread, it let go of its S3 connection: after 1 s while others waited for one, 10 s in any case), reopened (read on: the object asked again from the next byte), changed (the object was deleted or replaced meanwhile: the answer cut)",
      labelNames: ['event'] as const,
      registers: [registry],
    }),
    s3DownloadConnections: new Gauge({
      name: 'xray_s3_download_connections',
      help: "The pool of S3 connections for answers streamed at a client's pace (S3_DOWNLOAD_CONNECTIONS), by state: in_use, waiting (reads waiting for one) and limit (the setting). Reads waiting for long: raise S3_DOWNLOAD_CONNECTIONS if the store takes more",
      labelNames: ['state'] as const,
      registers: [registry],
      collect() {
        const pool = s3DownloadPool?.();
        if (!pool) return;
        this.set({ state: 'in_use' }, pool.inUse);
        this.set({ state: 'waiting' }, pool.waiting);
        this.set({ state: 'limit' }, pool.limit);
      },
    }),
    /**
     * The S3 store's client-paced reads (S3 storage only): each event counted (every series at 0
     * from the start, so the first one shows in rate() and increase()), the pool read at scrape time.
     */
    watchS3Downloads(store: ClientPacedReads) {
      for (const event of CLIENT_PACED_EVENTS) this.s3DownloadReads.inc({ event }, 0);
      store.observeClientPaced((event) => this.s3DownloadReads.inc({ event }));
      s3DownloadPool = () => store.clientPacedPool();
    },
    /** Where the database-backed gauges read from (set once the pool exists). */
    watchDatabase(read: () => Promise<DatabaseGauges>) {
      database.source = read;
    },
    auditCheckpointTime: new Gauge({
      name: 'xray_audit_checkpoint_time_seconds',
      help: 'Database time of the newest audit checkpoint this instance wrote (unix seconds); alert when it lags far behind AUDIT_CHECKPOINT_INTERVAL_MS while events are appended',
      registers: [registry],
    }),
  };
}

/** The gauges read from the database at scrape time. */
export interface DatabaseGauges {
  oldestPendingAgeS: number;
  dead: number;
  pendingLinks: number;
}

/**
 * One database read per scrape for all three gauges (kept 2 s), none when no source is set; a
 * failed read leaves the gauges as they were (the readiness probe reports the database).
 */
class DatabaseReadings {
  source: (() => Promise<DatabaseGauges>) | undefined;
  private last: { at: number; value: Promise<DatabaseGauges | undefined> } | undefined;

  read(): Promise<DatabaseGauges | undefined> {
    if (!this.source) return Promise.resolve(undefined);
    const now = Date.now();
    if (!this.last || now - this.last.at > 2_000) this.last = { at: now, value: this.source().catch(() => undefined) };
    return this.last.value;
  }
}

/** What found a stored X-ray not to be what its row says (the label of xray_integrity_failures_total). */
export type IntegrityCheck = 'key_binding' | 'stored_length' | 'sha256' | 'ciphertext';
export type Metrics = ReturnType<typeof createMetrics>;
