import { liveQuery } from 'dexie';
import { loadDicomReader, UPLOAD_PATH } from '@xray/shared';
import { createCaptureService } from './capture/capture.service.ts';
import { ensureEnrolled } from './auth/device.enrollment.ts';
import { wipeDevice } from './auth/device.wipe.ts';
import { watchRevocation } from './auth/revocation.watch.ts';
import { getDpopKey } from './auth/dpop.key.ts';
import { createServerAuthorizer } from './auth/server.authorizer.ts';
import { keyVaultFor } from './crypto/key.vault.ts';
import { DEFAULT_DB_NAME, EdgeDb } from './db/edge.db.ts';
import type { CaptureRecord, EngineStatus, WipeNotice } from './db/edge.records.ts';
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
  /** No upload progress for this long aborts the request (asked at each attempt; default 20 s). */
  stallTimeoutMs?: number | (() => number | undefined);
  deviceId?: string;
  /** The server refused an access token as expired: the sign-in should forget it (and refresh). */
  onTokenExpired?: (token: string) => void;
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
  // The device key pair is made when the PIN is set (or at a capture before that), never here:
  // a private key made before the vault exists would be written to disk unsealed.
  // Ask the browser not to evict the queue under storage pressure (best effort; Electron grants it).
  await navigator.storage?.persist?.().catch(() => false);
  // The DICOM reader is a chunk of its own so the app's first screen comes sooner; fetch it now,
  // while there may still be a network: a DICOM chosen after it is gone must read, also where no
  // service worker holds the chunk yet (a first visit). A failure shows when a DICOM is read.
  void loadDicomReader().catch(() => undefined);

  // Every request to the sync server is authorized here: a DPoP proof by the device key per request.
  const wipeListeners = new Set<(notice: WipeNotice) => void>();
  let wiping: Promise<WipeNotice> | undefined;
  // Once wiping, no request may make a new key (a roster refresh in flight would store one).
  const authorize = createServerAuthorizer(() =>
    wiping ? Promise.reject(new Error('this device has been wiped')) : getDpopKey(db),
  );
  /** The server revoked this device: stop, crypto-shred, tell the screen (and the server, if it can). */
  const wipe = (reason: string): Promise<WipeNotice> =>
    (wiping ??= (async () => {
      await engine.stop();
      const token = await opts.getAccessToken();
      const notice = await wipeDevice({ db, baseUrl, reason, token });
      for (const l of wipeListeners) l(notice);
      return notice;
    })());

  const onRevoked = (reason: string): void =>
    void wipe(reason).catch((err: unknown) => console.error('remote wipe', err));
  // The REST clients' fetch: a `401 device_revoked` from any of them wipes, as from the engine.
  const serverFetch = watchRevocation(onRevoked);

  const engine = new SyncEngine({
    db,
    uploader: createTusUploader({
      endpoint: `${baseUrl}${UPLOAD_PATH}`,
      urlStorage: new DexieUrlStorage(db),
      authorize,
    }),
    serverKeys: createServerKeyProvider({ db, baseUrl }),
    api: createXrayApi({ baseUrl, authorize }),
    network: browserNetworkMonitor(),
    getAccessToken: opts.getAccessToken,
    onDeviceRevoked: onRevoked,
    ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
    ...(opts.chunkSize !== undefined ? { chunkSize: opts.chunkSize } : {}),
    ...(opts.retentionMs !== undefined ? { retentionMs: opts.retentionMs } : {}),
    ...(opts.retry ? { retry: opts.retry } : {}),
    ...(opts.tokenPollMs !== undefined ? { tokenPollMs: opts.tokenPollMs } : {}),
    ...(opts.stallTimeoutMs !== undefined ? { stallTimeoutMs: opts.stallTimeoutMs } : {}),
    ...(opts.deviceId !== undefined ? { deviceId: opts.deviceId } : {}),
    ...(opts.onTokenExpired ? { onTokenExpired: opts.onTokenExpired } : {}),
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
    /** The headers for one request to the sync server (DPoP-bound token and proof, or bearer). */
    authorize,
    /** Registers this install as a device with the server (once per DPoP key; needs a bound token). */
    enroll: (token: string, device: { name: string; appVersion?: string }) =>
      ensureEnrolled({ db, baseUrl, authorize, fetch: serverFetch, ...device }, token),
    /** fetch for the app's other REST clients (roster, sent links): `device_revoked` wipes. */
    fetch: serverFetch,
    /** The remote wipe (also started by the sync engine on `device_revoked`). */
    wipe,
    /** What the last remote wipe left to say (why, how many captures were lost); undefined if none. */
    async wipeNotice(): Promise<WipeNotice | undefined> {
      const row = await db.settings.get('wiped');
      return row?.key === 'wiped' ? row.value : undefined;
    },
    onWiped(listener: (notice: WipeNotice) => void): () => void {
      wipeListeners.add(listener);
      return () => wipeListeners.delete(listener);
    },
    /** The device's secret keys: locked until the shift PIN (or the OS keyring) opens them. */
    vault: keyVaultFor(db),
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
