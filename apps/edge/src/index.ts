export { createEdgeCore, type CaptureSummary, type EdgeCore, type EdgeCoreOptions } from './edge.core.ts';
export { CaptureError, type CaptureErrorCode } from './capture/capture.errors.ts';
export type { CaptureInput, CaptureOptions, CaptureResult, CaptureWarning } from './capture/capture.service.ts';
export { DEFAULT_RETENTION_MS, EdgeDb, SCHEMA_VERSIONS } from './db/edge.db.ts';
export type * from './db/edge.records.ts';
export { SyncEngine, type SyncEngineOptions } from './sync/sync.engine.ts';
export { decideRetry, DEFAULT_RETRY, type RetryDecision, type RetryConfig } from './sync/retry.policy.ts';
