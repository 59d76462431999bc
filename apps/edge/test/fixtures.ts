// Shared fixtures of the edge's unit tests (each test sits beside the module it tests): sample
// images, a fresh database, a sync engine on fakes.
import { generateDek, unwrapKeyRsaOaep, wrapKeyRsaOaep } from '@xray/shared';
import { makeDicom, makeJpeg, makePng } from '@xray/testkit';
import { createCaptureService, type CaptureInput } from '../src/capture/capture.service.ts';
import { setUpPin } from '../src/auth/device.unlock.ts';
import { keyVaultFor } from '../src/crypto/key.vault.ts';
import { EdgeDb } from '../src/db/edge.db.ts';
import type { NetworkMonitor } from '../src/sync/network.monitor.ts';
import { createServerKeyProvider, type ServerKey, type ServerKeyProvider } from '../src/sync/server-key.provider.ts';
import { SyncEngine, type SyncEngineOptions } from '../src/sync/sync.engine.ts';
import type { UploadFailure } from '../src/sync/upload.failure.ts';
import {
  UploadAbortedError,
  UploadError,
  type UploadRequest,
  type UploadResult,
  type Uploader,
} from '../src/sync/uploader.ts';
import type { XrayApi, XrayLookup } from '../src/sync/xray.api.ts';

/** scrypt made cheap for tests (the app's cost is SCRYPT_PARAMS). */
export const TEST_SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
export const TEST_PIN = '246810';

/** A database of its own per test (fake-indexeddb in Node), its key vault set up and unlocked. */
export async function freshDb(): Promise<EdgeDb> {
  const db = new EdgeDb(`edge-test-${crypto.randomUUID()}`);
  await db.open();
  keyVaultFor(db, { scrypt: TEST_SCRYPT });
  await setUpPin(db, TEST_PIN);
  return db;
}

export const blobOf = (bytes: Uint8Array, name?: string): Blob =>
  name ? new File([new Uint8Array(bytes)], name) : new Blob([new Uint8Array(bytes)]);

export const validInput = (over: CaptureInput = {}): CaptureInput => ({
  patientId: 'P-1001',
  capturedAt: '2026-11-27T08:15:00Z',
  bodyPart: 'CHEST',
  view: 'PA',
  ...over,
});

export const smallPng = (seed: number): Uint8Array => makePng({ seed, width: 64, height: 64 });
export const smallJpeg = (seed: number): Uint8Array => makeJpeg({ seed, width: 64, height: 64 });
export const smallDicom = (opts: { seed?: number; patientId?: string; patientName?: string } = {}): Uint8Array =>
  makeDicom({ rows: 64, columns: 64, ...opts });

/** A network whose state the test flips, like the browser's online/offline events. */
export class FakeNetwork implements NetworkMonitor {
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
    this.online = online;
    for (const l of this.#listeners) l(online);
  }
}

/**
 * A server as the engine sees it: each attempt ends as the test's script says (a result, a
 * failure, or "hang until aborted"); whatever completes is stored like the real server would.
 */
export type AttemptScript = (req: UploadRequest, attempt: number) => 'ok' | 'hang' | UploadFailure | UploadResult;

export class FakeServer implements Uploader, XrayApi {
  /** id → sha256 of what the server holds. */
  readonly stored = new Map<string, string>();
  readonly attempts: { captureId: string; at: number; token: string | null; metadata: Record<string, string> }[] = [];
  script: AttemptScript = () => 'ok';

  async upload(req: UploadRequest): Promise<UploadResult> {
    const token = await req.token();
    this.attempts.push({ captureId: req.captureId, at: Date.now(), token, metadata: req.metadata });
    const n = this.attempts.filter((a) => a.captureId === req.captureId).length;
    const outcome = this.script(req, n);
    if (outcome === 'hang') {
      req.onProgress(Math.floor(req.ciphertext.size / 2), req.ciphertext.size);
      return new Promise((_resolve, reject) => {
        const abort = (): void => reject(new UploadAbortedError('aborted'));
        if (req.signal.aborted) abort();
        req.signal.addEventListener('abort', abort, { once: true });
      });
    }
    if (outcome === 'ok') {
      req.onProgress(req.ciphertext.size, req.ciphertext.size);
      req.onChunkAccepted(req.ciphertext.size, req.ciphertext.size);
      const id = req.metadata.id ?? '';
      const sha = req.metadata.sha256 ?? '';
      this.stored.set(id, sha);
      return { xrayId: id, sha256: sha };
    }
    if ('kind' in outcome) throw new UploadError(outcome);
    return outcome;
  }

  async lookup(id: string): Promise<XrayLookup> {
    const sha256 = this.stored.get(id);
    return sha256 ? { found: true, id, sha256 } : { found: false };
  }

  uploadsOf(captureId: string): number {
    return this.attempts.filter((a) => a.captureId === captureId).length;
  }
}

let rsaPair: Promise<CryptoKeyPair> | undefined;
export function fakeServerKeys(): ServerKeyProvider & { refreshes: number } {
  const rsa = (rsaPair ??= crypto.subtle.generateKey(
    { name: 'RSA-OAEP', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    false,
    ['wrapKey', 'unwrapKey'],
  ));
  const provider = {
    refreshes: 0,
    async current(): Promise<ServerKey> {
      return { kid: 'test-kid', key: (await rsa).publicKey };
    },
    async refresh(): Promise<ServerKey> {
      provider.refreshes++;
      return provider.current();
    },
  };
  return provider;
}

export interface EngineRig {
  db: EdgeDb;
  server: FakeServer;
  network: FakeNetwork;
  engine: SyncEngine;
  token: { value: string | null };
  capture: ReturnType<typeof createCaptureService>['capture'];
  status(id: string): Promise<string | undefined>;
}

export async function engineRig(opts: Partial<SyncEngineOptions> = {}): Promise<EngineRig> {
  const db = await freshDb();
  const server = new FakeServer();
  const network = new FakeNetwork();
  const token = { value: 'token-1' as string | null };
  const engine = new SyncEngine({
    db,
    uploader: server,
    api: server,
    serverKeys: fakeServerKeys(),
    network,
    getAccessToken: () => token.value,
    random: () => 0.5,
    ...opts,
  });
  const service = createCaptureService({ db, onStored: () => engine.wake() });
  return {
    db,
    server,
    network,
    engine,
    token,
    capture: service.capture,
    status: async (id) => (await db.captures.get(id))?.status,
  };
}

/**
 * A server-key provider over its own database and a clock the test moves; `server` is what the
 * test sets (returned as is), `fetch` answers the provider's /keys/upload requests.
 */
export async function serverKeyRig<S>(server: S, fetch: () => Promise<Response>) {
  const clock = { now: Date.now() };
  const db = await freshDb();
  const provider = createServerKeyProvider({
    db,
    baseUrl: 'https://xray.example.org',
    fetch,
    now: () => clock.now,
  });
  const pins = async () => ((await db.serverKey())?.pins ?? []).map((p) => p.thumbprint);
  return { server, clock, db, provider, pins };
}

/** Whether a data key wrapped for `key` opens with `pair`'s private key (the data key went to that key). */
export async function wrapsFor(key: CryptoKey, pair: { privateKey: CryptoKey }): Promise<boolean> {
  const wrapped = await wrapKeyRsaOaep(await generateDek(), key);
  return unwrapKeyRsaOaep(wrapped, pair.privateKey).then(
    () => true,
    () => false,
  );
}
