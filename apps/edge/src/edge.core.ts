import { liveQuery } from 'dexie';
import { UPLOAD_PATH } from '@xray/shared';
import { createCaptureService } from './capture/capture.service.ts';
import { getOrCreateDeviceKey } from './crypto/device-key.ts';
import { DEFAULT_DB_NAME, EdgeDb } from './db/edge.db.ts';
import type { CaptureRecord, EngineStatus } from './db/edge.records.ts';
import { DexieUrlStorage } from './sync/dexie-url.storage.ts';
import { browserNetworkMonitor } from './sync/network.monitor.ts';
import type { RetryConfig } from './sync/retry.policy.ts';
import { createServerKeyProvider } from './sync/server-key.provider.ts';
import { SyncEngine, type AccessTokenSource } from './sync/sync.engine.ts';
import { createTusUploader } from './sync/tus.uploader.ts';
import { createXrayApi } from './sync/xray.api.ts';

export interface EdgeCoreOptions {
  /** The sync server's base URL; the page's origin when not given (the app is served by it). */
  apiBaseUrl?: string;
  getAccessToken: AccessTokenSource;
  dbName?: string;
  concurrency?: number;
  chunkSize?: number;
  retentionMs?: number;
  retry?: Partial<RetryConfig>;
  tokenPollMs?: number;
  deviceId?: string;
  /** Start syncing at once (default). */
  autoStart?: boolean;
}

/** A capture as a list shows it: the record without its key material. */
export type CaptureSummary = Omit<CaptureRecord, 'wrappedDek' | 'encryptedMetadata'>;

/**
 * The edge app's core for the renderer: the encrypted capture queue and the sync engine over
 * one IndexedDB database. The UI reads state through `observe*` (or Dexie's useLiveQuery on `db`).
 */
export async function createEdgeCore(opts: EdgeCoreOptions) {
  const baseUrl = (opts.apiBaseUrl ?? globalThis.location.origin).replace(/\/$/, '');
  const db = new EdgeDb(opts.dbName ?? DEFAULT_DB_NAME);
  await db.open();
  // First run: the device key is made now, not in the middle of the first capture.
  await getOrCreateDeviceKey(db);
  // Ask the browser not to evict the queue under storage pressure (best effort; Electron grants it).
  await navigator.storage?.persist?.().catch(() => false);

  const engine = new SyncEngine({
    db,
    uploader: createTusUploader({ endpoint: `${baseUrl}${UPLOAD_PATH}`, urlStorage: new DexieUrlStorage(db) }),
    serverKeys: createServerKeyProvider({ db, baseUrl }),
    api: createXrayApi({ baseUrl }),
    network: browserNetworkMonitor(),
    getAccessToken: opts.getAccessToken,
    ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
    ...(opts.chunkSize !== undefined ? { chunkSize: opts.chunkSize } : {}),
    ...(opts.retentionMs !== undefined ? { retentionMs: opts.retentionMs } : {}),
    ...(opts.retry ? { retry: opts.retry } : {}),
    ...(opts.tokenPollMs !== undefined ? { tokenPollMs: opts.tokenPollMs } : {}),
    ...(opts.deviceId !== undefined ? { deviceId: opts.deviceId } : {}),
  });
  const captures = createCaptureService({ db, onStored: () => engine.wake() });
  // Captures queued or corrected in another tab (Dexie liveQuery sees other tabs' writes) wake
  // the engine too.
  const queued = liveQuery(() => db.captures.where('status').equals('queued').primaryKeys()).subscribe({
    next: () => engine.wake(),
    error: (err: unknown) => console.error(err),
  });
  const leadership = opts.autoStart === false ? undefined : runAsLeader(`xray-edge-sync:${db.name}`, engine);

  const summaries = async (): Promise<CaptureSummary[]> =>
    (await db.captures.orderBy('createdAt').toArray()).map(
      ({ wrappedDek: _k, encryptedMetadata: _m, ...rest }) => rest,
    );

  return {
    db,
    engine,
    capture: captures.capture,
    readMetadata: captures.readMetadata,
    updateMetadata: captures.updateMetadata,
    listCaptures: summaries,
    /** Calls back with the whole queue on every change (states, progress). */
    observeCaptures(onChange: (captures: CaptureSummary[]) => void): () => void {
      const sub = liveQuery(summaries).subscribe({ next: onChange, error: (err: unknown) => console.error(err) });
      return () => sub.unsubscribe();
    },
    observeEngine(onChange: (status: EngineStatus | undefined) => void): () => void {
      const sub = liveQuery(() => db.engineStatus()).subscribe({
        next: onChange,
        error: (err: unknown) => console.error(err),
      });
      return () => sub.unsubscribe();
    },
    async close(): Promise<void> {
      queued.unsubscribe();
      await (leadership ? leadership.release() : engine.stop());
      db.close();
    },
  };
}

export type EdgeCore = Awaited<ReturnType<typeof createEdgeCore>>;

/**
 * One sync engine per device, however many windows are open: the engine runs while this tab
 * holds a Web Lock; another tab's engine takes over when this one closes. (Without the Web Locks
 * API, e.g. in tests, it just runs.)
 */
function runAsLeader(name: string, engine: SyncEngine): { release(): Promise<void> } {
  const locks = globalThis.navigator?.locks;
  if (!locks) {
    void engine.start();
    return { release: () => engine.stop() };
  }
  let release = (): void => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  // Aborts a request still waiting for the lock; a granted one ends when `held` resolves.
  const waiting = new AbortController();
  const done = locks
    .request(name, { signal: waiting.signal }, async () => {
      await engine.start();
      await held;
      await engine.stop();
    })
    .catch((err: unknown) => {
      if (!waiting.signal.aborted) console.error('sync engine lock', err);
    });
  return {
    async release() {
      waiting.abort();
      release();
      await done;
      await engine.stop();
    },
  };
}
