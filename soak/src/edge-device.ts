/**
 * An edge device as the app builds it (apps/edge/src/edge.core.ts), in Node: EdgeDb (Dexie on
 * fake-indexeddb), the capture service, and the SyncEngine with the real tus uploader,
 * server-key provider and X-ray API — with a network monitor the caller flips, instead of the
 * browser's navigator.onLine. Import 'fake-indexeddb/auto' before this module.
 */
import { createRequire } from 'node:module';
import { UPLOAD_PATH } from '@xray/shared';
import { createCaptureService } from '../../apps/edge/src/capture/capture.service.ts';
import { EdgeDb } from '../../apps/edge/src/db/edge.db.ts';
import { DexieUrlStorage } from '../../apps/edge/src/sync/dexie-url.storage.ts';
import type { NetworkMonitor } from '../../apps/edge/src/sync/network.monitor.ts';
import { createServerKeyProvider } from '../../apps/edge/src/sync/server-key.provider.ts';
import { SyncEngine, type SyncEngineOptions } from '../../apps/edge/src/sync/sync.engine.ts';
import { createTusUploader } from '../../apps/edge/src/sync/tus.uploader.ts';
import { createXrayApi } from '../../apps/edge/src/sync/xray.api.ts';

// tus-js-client's Node build reads Buffers and streams only; its browser build reads the Blob the
// edge stores. This gives the Node build the browser's behaviour: each chunk a slice of the Blob.
// (The same module instance the edge's tus.uploader.ts imports: one copy of tus-js-client.)
const tus = createRequire(import.meta.url)('tus-js-client') as {
  defaultOptions: { fileReader: { openFile(input: unknown, chunkSize: number): Promise<unknown> } };
};
const nodeReader = tus.defaultOptions.fileReader;
tus.defaultOptions.fileReader = {
  async openFile(input: unknown, chunkSize: number) {
    if (!(input instanceof Blob)) return nodeReader.openFile(input, chunkSize);
    return {
      size: input.size,
      async slice(start: number, end: number) {
        const value = Buffer.from(await input.slice(start, end).arrayBuffer()) as Buffer & { size?: number };
        value.size = value.length;
        return { value, done: end >= input.size };
      },
      close() {},
    };
  },
};

export class FlippableNetwork implements NetworkMonitor {
  online = true;
  readonly #listeners = new Set<(online: boolean) => void>();
  isOnline(): boolean {
    return this.online;
  }
  subscribe(onChange: (online: boolean) => void): () => void {
    this.#listeners.add(onChange);
    return () => this.#listeners.delete(onChange);
  }
  set(online: boolean): void {
    if (this.online === online) return;
    this.online = online;
    for (const l of this.#listeners) l(online);
  }
}

export interface EdgeDevice {
  db: EdgeDb;
  engine: SyncEngine;
  capture: ReturnType<typeof createCaptureService>['capture'];
}

/** Opens (or reopens, after a kill) a device's database and starts its sync engine. */
export async function openEdgeDevice(opts: {
  dbName: string;
  apiBase: string;
  network: NetworkMonitor;
  deviceId: string;
  options?: Partial<Omit<SyncEngineOptions, 'db' | 'uploader' | 'serverKeys' | 'api' | 'network'>>;
}): Promise<EdgeDevice> {
  const db = new EdgeDb(opts.dbName);
  await db.open();
  const engine = new SyncEngine({
    db,
    uploader: createTusUploader({ endpoint: `${opts.apiBase}${UPLOAD_PATH}`, urlStorage: new DexieUrlStorage(db) }),
    serverKeys: createServerKeyProvider({ db, baseUrl: opts.apiBase }),
    api: createXrayApi({ baseUrl: opts.apiBase }),
    network: opts.network,
    // The servers run with AUTH_DISABLED (see README): any token is the one local user.
    getAccessToken: () => 'soak',
    deviceId: opts.deviceId,
    ...opts.options,
  });
  const service = createCaptureService({ db, onStored: () => engine.wake() });
  await engine.start();
  return { db, engine, capture: service.capture };
}
