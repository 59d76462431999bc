import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics; one registry per app so tests can run several apps in a process. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
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
    integrityFailures: new Counter({
      name: 'xray_integrity_failures_total',
      help: 'Stored X-rays found not to be what their row says, by check: key_binding (the data key is bound to another X-ray or object), stored_length, sha256 (a whole download), ciphertext (a segment or header does not authenticate)',
      labelNames: ['check'] as const,
      registers: [registry],
    }),
    auditCheckpoints: new Counter({
      name: 'xray_audit_checkpoints_total',
      help: 'Audit checkpoint turns that wrote one (written) or could not (failed: the witness or the database)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    auditCheckpointTime: new Gauge({
      name: 'xray_audit_checkpoint_time_seconds',
      help: 'Database time of the newest audit checkpoint this instance wrote (unix seconds); alert when it lags far behind AUDIT_CHECKPOINT_INTERVAL_MS while events are appended',
      registers: [registry],
    }),
  };
}

/** What found a stored X-ray not to be what its row says (the label of xray_integrity_failures_total). */
export type IntegrityCheck = 'key_binding' | 'stored_length' | 'sha256' | 'ciphertext';
export type Metrics = ReturnType<typeof createMetrics>;
