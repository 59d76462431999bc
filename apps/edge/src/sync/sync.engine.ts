import { toBase64, UPLOAD_KEY_FIELDS, wrapKeyRsaOaep, XRAY_UPLOAD_METADATA_FIELDS } from '@xray/shared';
import { unwrapWithDeviceKey } from '../crypto/device-key.ts';
import { openMetadata } from '../crypto/metadata.cipher.ts';
import { DEFAULT_RETENTION_MS, type EdgeDb } from '../db/edge.db.ts';
import type { CaptureError, CaptureRecord, EngineState } from '../db/edge.records.ts';
import { holdsUplink, isDue, queueOrder, transition, type CaptureEvent } from './capture.transitions.ts';
import type { NetworkMonitor } from './network.monitor.ts';
import { DEFAULT_RETRY, decideRetry, type RetryConfig } from './retry.policy.ts';
import type { ServerKeyProvider } from './server-key.provider.ts';
import { uploadFingerprint } from './upload-fingerprint.ts';

import type { UploadFailure } from './upload.failure.ts';
import { UploadAbortedError, UploadError, type UploadResult, type Uploader } from './uploader.ts';
import type { XrayApi } from './xray.api.ts';

export const MIN_CHUNK_SIZE = 5 * 1024 * 1024;
/** No upload progress for this long aborts the request; it resumes from the server's offset. */
export const DEFAULT_STALL_TIMEOUT_MS = 20_000;

/** Why the engine aborted an attempt (AbortSignal reason). */
const STALLED = 'stalled';
const STOPPED = 'stopped';

interface Running {
  controller: AbortController;
  urgent: boolean;
  /** An urgent capture waits: stop at the next chunk boundary. */
  yielding: boolean;
}

export type AccessTokenSource = () => Promise<string | null | undefined> | string | null | undefined;

export interface SyncEngineOptions {
  db: EdgeDb;
  uploader: Uploader;
  serverKeys: ServerKeyProvider;
  api: XrayApi;
  network: NetworkMonitor;
  /** The signed-in user's access token, or nothing while no one is signed in. */
  getAccessToken: AccessTokenSource;
  /**
   * The server refused this device (401 `device_revoked`): it must wipe itself. Called with the
   * server's words; the capture is left as it is (the wipe removes it).
   */
  onDeviceRevoked?: (reason: string) => void;
  /**
   * The server refused `token` as expired (401 `token_expired`) while the sign-in still had it
   * as valid (a device clock behind): drop it so the next token is a refreshed one.
   */
  onTokenExpired?: (token: string) => void;
  /** Uploads at a time: 1 or 2 (routine ones; an urgent capture always has the uplink alone). */
  concurrency?: number;
  /**
   * No progress (bytes out, a chunk accepted, a response) for this long aborts the request and
   * retries it with backoff. A function is asked at each attempt (e.g. the server's /edge-config).
   */
  stallTimeoutMs?: number | (() => number | undefined);
  /** tus chunk size; at least 5 MiB (the S3 part minimum). */
  chunkSize?: number;
  /** How long a synced capture's ciphertext stays on the device. */
  retentionMs?: number;
  retry?: Partial<RetryConfig>;
  /** How often to ask for a token again while there is none (or only a refused one). */
  tokenPollMs?: number;
  /** How often, at most, upload progress is written to IndexedDB. */
  progressWriteMs?: number;
  /** Upload-Metadata deviceId when a capture has none. */
  deviceId?: string;
  random?: () => number;
}

const NETWORK_CODE = 'network';
/** The server's problem code for a genuine access token past its expiry (401). */
const TOKEN_EXPIRED = 'token_expired';

/**
 * Uploads the queue. Every state lives in IndexedDB (observe it with Dexie liveQuery); the
 * engine holds only timers and the running uploads, so a reload or a crash loses nothing: on
 * start, captures found `uploading`/`verifying` are queued again and resume from the server's
 * offset. Captures are never dropped: offline and missing tokens wait, transient errors retry
 * with backoff for ever, and only a refusal by the server stops a capture (`needs-attention`).
 */
export class SyncEngine {
  readonly #o: Required<Omit<SyncEngineOptions, 'deviceId' | 'retry' | 'stallTimeoutMs'>> & {
    deviceId?: string;
    retry: RetryConfig;
    stallTimeoutMs: () => number;
  };
  readonly #running = new Map<string, Running>();
  #started = false;
  #pumping = false;
  #pumpAgain = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #holdUntil = 0;
  #refusedToken: string | undefined;
  #unsubscribe: (() => void) | undefined;
  /** The last engine status written, so an unchanged one is not written again. */
  #state: string | undefined;
  /** Pumps and attempts in flight: `settled()` waits for them. */
  readonly #tasks = new Set<Promise<void>>();

  constructor(opts: SyncEngineOptions) {
    const chunkSize = opts.chunkSize ?? MIN_CHUNK_SIZE;
    if (chunkSize < MIN_CHUNK_SIZE) throw new RangeError(`chunkSize must be at least ${MIN_CHUNK_SIZE} (S3 parts)`);
    const concurrency = opts.concurrency ?? 2;
    if (concurrency !== 1 && concurrency !== 2) throw new RangeError('concurrency must be 1 or 2');
    this.#o = {
      ...opts,
      concurrency,
      chunkSize,
      retentionMs: opts.retentionMs ?? DEFAULT_RETENTION_MS,
      retry: { ...DEFAULT_RETRY, ...opts.retry },
      tokenPollMs: opts.tokenPollMs ?? 5_000,
      progressWriteMs: opts.progressWriteMs ?? 250,
      random: opts.random ?? Math.random,
      onDeviceRevoked: opts.onDeviceRevoked ?? (() => undefined),
      onTokenExpired: opts.onTokenExpired ?? (() => undefined),
      stallTimeoutMs: () => {
        const v = typeof opts.stallTimeoutMs === 'function' ? opts.stallTimeoutMs() : opts.stallTimeoutMs;
        return v !== undefined && Number.isFinite(v) && v > 0 ? v : DEFAULT_STALL_TIMEOUT_MS;
      },
    };
  }

  /** Recovers interrupted uploads, purges expired ciphertext, then syncs whenever it can. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const now = Date.now();
    await this.#o.db.transaction('rw', this.#o.db.captures, async () => {
      const stale = await this.#o.db.captures.where('status').anyOf('uploading', 'verifying').toArray();
      for (const c of stale) await this.#apply(c, { type: 'interrupted', now });
    });
    this.#unsubscribe = this.#o.network.subscribe((online) => {
      if (!online) this.#abortAll();
      this.wake();
    });
    this.wake();
  }

  /** Stops every upload (they resume on the next start) and all timers. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    this.#unsubscribe?.();
    this.#clearTimer();
    this.#abortAll();
    await this.settled();
    await this.#setState('stopped');
  }

  /** Something changed (a new capture, a corrected one, a new token): look at the queue now. */
  wake(): void {
    if (!this.#started) return;
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    const run = async (): Promise<void> => {
      try {
        do {
          this.#pumpAgain = false;
          await this.#pump();
        } while (this.#pumpAgain && this.#started);
      } finally {
        this.#pumping = false;
      }
    };
    this.#track(run().catch((err: unknown) => console.error('sync engine', err)));
  }

  /** The sign-in changed: forget the refused token and try again. */
  tokenChanged(): void {
    this.#refusedToken = undefined;
    this.wake();
  }

  /** Resolves once no upload is running and the queue has been looked at (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.#tasks.size > 0) await Promise.all([...this.#tasks]);
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    void task.finally(() => this.#tasks.delete(task));
  }

  async #pump(): Promise<void> {
    const { db } = this.#o;
    const now = Date.now();
    await this.#purge(now);
    if (!this.#o.network.isOnline())
      return this.#setState('offline', 'No network: captures stay queued on this device.');
    if (now < this.#holdUntil) {
      this.#schedule(this.#holdUntil);
      return this.#setState(this.#running.size ? 'syncing' : 'idle', 'The server asked us to slow down.');
    }
    const waiting = await db.captures.where('status').anyOf('queued', 'retrying').toArray();
    let due = waiting.filter((c) => isDue(c, now) && !this.#running.has(c.id)).sort(queueOrder);
    for (const c of waiting)
      if (c.status === 'retrying' && c.nextAttemptAt !== undefined && c.nextAttemptAt > now)
        this.#schedule(c.nextAttemptAt);
    // Urgent strictly first: while an urgent capture waits or is in flight it has the uplink
    // alone. Routine uploads in flight stop at their next chunk boundary (and resume later from
    // the server's offset); the urgent one starts once nothing else is sending.
    const running = [...this.#running.values()];
    const urgentFirst =
      running.some((r) => r.urgent) || waiting.some((c) => !this.#running.has(c.id) && holdsUplink(c, now));
    let slots = this.#o.concurrency - this.#running.size;
    if (urgentFirst) {
      for (const r of running) if (!r.urgent) r.yielding = true;
      due = due.filter((c) => c.priority === 'urgent');
      slots = this.#running.size === 0 ? 1 : 0;
    }
    if (due.length > 0 && slots > 0) {
      const token = await this.#token();
      if (!token) {
        this.#schedule(Date.now() + this.#o.tokenPollMs);
        return this.#setState(
          'waiting-for-token',
          this.#refusedToken
            ? 'The sign-in expired: sign in again to send the captures.'
            : 'Sign in to send the captures.',
        );
      }
      for (const c of due.slice(0, slots)) this.#run(c);
    }
    await this.#setState(this.#running.size ? 'syncing' : 'idle');
  }

  async #token(): Promise<string | null> {
    const token = (await this.#o.getAccessToken()) ?? null;
    if (!token || token === this.#refusedToken) return null;
    return token;
  }

  #run(c: CaptureRecord): void {
    const { id } = c;
    const running: Running = { controller: new AbortController(), urgent: c.priority === 'urgent', yielding: false };
    this.#running.set(id, running);
    const done = this.#attempt(id, running)
      .catch((err: unknown) => console.error('sync engine: attempt', id, err))
      .finally(() => {
        this.#running.delete(id);
        this.wake();
      });
    this.#track(done);
  }

  /** One attempt at one capture, from claim to synced or to the policy's decision. */
  async #attempt(id: string, running: Running): Promise<void> {
    const { db } = this.#o;
    const { controller } = running;
    const { signal } = controller;
    const claimed = await this.#event(id, { type: 'claim', now: Date.now() });
    if (!claimed) return;
    let progressed = false;
    let usedToken: string | null = null;
    const stallMs = this.#o.stallTimeoutMs();
    let watchdog: ReturnType<typeof setTimeout> | undefined;
    let lastSign = 0;
    /** Fires `stallMs` after the last sign of life; one came meanwhile: waits for the rest. */
    const check = (): void => {
      const idle = Date.now() - lastSign;
      watchdog = idle < stallMs ? setTimeout(check, stallMs - idle) : undefined;
      if (watchdog === undefined) controller.abort(STALLED);
    };
    /**
     * Any sign of life from the upload pushes the stall timer back. Progress events come many
     * times a second: each only notes the time; the one timer re-arms itself when it fires.
     */
    const alive = (): void => {
      lastSign = Date.now();
      if (watchdog === undefined && !signal.aborted) watchdog = setTimeout(check, stallMs);
    };
    const quiet = (): void => {
      clearTimeout(watchdog);
      watchdog = undefined;
    };
    // The server requests besides tus (the upload key, the confirming GET) have no progress to
    // show: the same timer covers them, and an abort ends the wait for them at once.
    const aborted = new Promise<never>((_resolve, reject) => {
      const stop = (): void => reject(new UploadAbortedError(String(signal.reason)));
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
    });
    aborted.catch(() => undefined);
    const guard = <T>(p: Promise<T>): Promise<T> => Promise.race([p, aborted]);
    alive();
    try {
      const blob = await db.blobs.get(id);
      if (!blob) throw new UploadError({ kind: 'local', message: 'the encrypted file is missing on this device' });
      const metadata = await guard(this.#uploadMetadata(claimed));
      let lastWrite = 0;
      alive();
      const result = await guard(
        this.#o.uploader.upload({
          captureId: id,
          ciphertext: blob.ciphertext,
          metadata,
          chunkSize: this.#o.chunkSize,
          signal,
          token: async () => (usedToken = await this.#token()),
          onProgress: (sent, total) => {
            alive();
            const t = Date.now();
            if (sent < total && t - lastWrite < this.#o.progressWriteMs) return;
            lastWrite = t;
            void this.#event(id, { type: 'progress', sent, total, now: t });
          },
          onChunkAccepted: (accepted, total) => {
            alive();
            progressed = true;
            lastWrite = Date.now();
            void this.#event(id, { type: 'progress', sent: accepted, total, accepted, now: lastWrite });
          },
          shouldPause: () => running.yielding,
        }),
      );
      if (signal.aborted) throw new UploadAbortedError(String(signal.reason));
      await this.#event(id, { type: 'uploaded', now: Date.now() });
      alive();
      await guard(this.#verify(claimed, result, usedToken));
      quiet();
      await this.#event(id, { type: 'confirmed', now: Date.now(), retentionMs: this.#o.retentionMs });
      await db.uploads.where('fingerprint').equals(uploadFingerprint(id)).delete();
    } catch (err) {
      quiet();
      if (signal.aborted && signal.reason === STALLED) {
        const seconds = Math.round(stallMs / 1000);
        await this.#failed(
          id,
          { kind: 'stalled', message: `Connection stalled: nothing moved for ${seconds} s` },
          progressed,
          usedToken,
        );
        return;
      }
      if (err instanceof UploadAbortedError || signal.aborted) {
        await this.#event(id, { type: 'interrupted', now: Date.now() });
        return;
      }
      const failure: UploadFailure =
        err instanceof UploadError
          ? err.failure
          : { kind: 'local', message: err instanceof Error ? err.message : String(err) };
      await this.#failed(id, failure, progressed, usedToken);
    }
  }

  async #failed(id: string, refusal: UploadFailure, progressed: boolean, usedToken: string | null): Promise<void> {
    const { db } = this.#o;
    if (refusal.kind === 'http' && refusal.problem?.code === 'device_revoked') {
      this.#o.onDeviceRevoked(refusal.problem.detail ?? refusal.message);
      return;
    }
    const current = await db.captures.get(id);
    if (!current) return;
    const failure = await this.#explainRepeat(current, refusal, usedToken);
    const online = this.#o.network.isOnline();
    const attempt = progressed ? 1 : current.attempts + 1;
    const decision = decideRetry(failure, { attempt, online, random: this.#o.random }, this.#o.retry);
    if (decision.action === 'retry' && decision.refreshServerKey)
      await this.#o.serverKeys.refresh().catch(() => undefined);
    if (decision.action === 'wait-token' && usedToken) {
      this.#refusedToken = usedToken;
      // Expired, not invalid: a refresh gives a token that works (any other 401 waits for a sign-in).
      if (failure.kind === 'http' && failure.problem?.code === TOKEN_EXPIRED) this.#o.onTokenExpired(usedToken);
    }
    if (decision.action === 'retry' && decision.holdQueueMs) this.#holdUntil = Date.now() + decision.holdQueueMs;
    if (failure.kind === 'unconfirmed') await db.uploads.where('fingerprint').equals(uploadFingerprint(id)).delete();
    const error: CaptureError = {
      message: failure.message,
      at: Date.now(),
      ...(failure.kind === 'http'
        ? {
            status: failure.status,
            ...(failure.problem?.code ? { code: failure.problem.code } : {}),
            ...(failure.problem?.errors ? { fields: failure.problem.errors } : {}),
          }
        : { code: failure.kind === 'network' ? NETWORK_CODE : failure.kind }),
    };
    await this.#event(id, { type: 'failed', decision, error, progressed, now: Date.now() });
  }

  /**
   * A creation refused with 409: the server holds this id and this upload does not repeat it
   * exactly. When the server shows it as this very capture (same sha256), it was stored by an
   * earlier attempt whose answer was lost, and the details changed on this device since were not
   * applied there: say so (still a refusal: a person must know the server kept the first details).
   */
  async #explainRepeat(c: CaptureRecord, failure: UploadFailure, token: string | null): Promise<UploadFailure> {
    if (failure.kind !== 'http' || failure.status !== 409 || failure.method !== 'POST' || !token) return failure;
    const found = await this.#o.api.lookup(c.id, token).catch(() => undefined);
    if (!found?.found || found.sha256 !== c.sha256) return failure;
    return {
      ...failure,
      message:
        'This X-ray is already on the server, with the details first sent: the changes made on this device since were not applied there. A doctor or an administrator can correct it on the server.',
    };
  }

  /** The capture is synced only when the server names this id with this plaintext sha256. */
  async #verify(c: CaptureRecord, result: UploadResult, usedToken: string | null): Promise<void> {
    if (result.xrayId && result.sha256) {
      if (result.xrayId === c.id && result.sha256 === c.sha256) return;
      throw new UploadError({
        kind: 'mismatch',
        message: `the server confirmed X-ray ${result.xrayId} with sha256 ${result.sha256}, not this capture`,
      });
    }
    const token = usedToken ?? (await this.#token());
    if (!token)
      throw new UploadError({ kind: 'http', method: 'GET', status: 401, message: 'no token to confirm the upload' });
    const found = await this.#o.api.lookup(c.id, token);
    if (!found.found)
      throw new UploadError({
        kind: 'unconfirmed',
        message: 'the upload finished but the server does not show the X-ray yet',
      });
    if (found.sha256 !== c.sha256)
      throw new UploadError({
        kind: 'mismatch',
        message: `the server holds other content (sha256 ${found.sha256}) under this capture's id`,
      });
  }

  /** Upload-Metadata: the X-ray fields (decrypted just for this), the DEK wrapped for the server. */
  async #uploadMetadata(c: CaptureRecord): Promise<Record<string, string>> {
    const dek = await unwrapWithDeviceKey(this.#o.db, c.wrappedDek, c.keyId);
    const { xray } = await openMetadata(dek, c.encryptedMetadata);
    const serverKey = await this.#o.serverKeys.current();
    const wrapped = await wrapKeyRsaOaep(dek, serverKey.key);
    const { identityOverride, ...xrayFields } = xray;
    const fields: Record<string, string | undefined> = {
      ...xrayFields,
      // An object field travels as its JSON text (JSON_UPLOAD_METADATA_FIELDS).
      identityOverride: identityOverride ? JSON.stringify(identityOverride) : undefined,
      deviceId: xray.deviceId ?? this.#o.deviceId,
      id: c.id,
      sha256: c.sha256,
      priority: c.priority,
    };
    const metadata: Record<string, string> = {
      [UPLOAD_KEY_FIELDS.wrappedDek]: toBase64(wrapped),
      [UPLOAD_KEY_FIELDS.kid]: serverKey.kid,
    };
    for (const key of XRAY_UPLOAD_METADATA_FIELDS) {
      const v = fields[key];
      if (v !== undefined && v !== '') metadata[key] = v;
    }
    return metadata;
  }

  /** Applies an event in its own transaction; returns the updated capture, or undefined if it did not apply. */
  async #event(id: string, e: CaptureEvent): Promise<CaptureRecord | undefined> {
    const { db } = this.#o;
    return db.transaction('rw', db.captures, async () => {
      const c = await db.captures.get(id);
      return c ? this.#apply(c, e) : undefined;
    });
  }

  async #apply(c: CaptureRecord, e: CaptureEvent): Promise<CaptureRecord | undefined> {
    const patch = transition(c, e);
    if (!patch) return undefined;
    await this.#o.db.captures.update(c.id, patch);
    return { ...c, ...patch };
  }

  /** Removes the ciphertext of captures synced longer ago than the retention. */
  async #purge(now: number): Promise<void> {
    const { db } = this.#o;
    const expired = await db.captures.where('purgeAfter').belowOrEqual(now).toArray();
    for (const c of expired) {
      await db.transaction('rw', db.captures, db.blobs, db.uploads, async () => {
        const latest = await db.captures.get(c.id);
        if (!latest || !transition(latest, { type: 'purged', now })) return;
        await db.blobs.delete(c.id);
        await db.uploads.where('fingerprint').equals(uploadFingerprint(c.id)).delete();
        await this.#apply(latest, { type: 'purged', now });
      });
    }
    const next = await db.captures.orderBy('purgeAfter').first();
    if (next?.purgeAfter !== undefined) this.#schedule(next.purgeAfter);
  }

  /** One timer, at the earliest time anything is due. */
  #schedule(at: number): void {
    if (!this.#started || at >= this.#timerAt) return;
    this.#clearTimer();
    this.#timerAt = at;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = Infinity;
        this.wake();
      },
      Math.max(0, at - Date.now()),
    );
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  #abortAll(): void {
    for (const { controller } of this.#running.values()) controller.abort(STOPPED);
  }

  async #setState(state: EngineState, detail?: string): Promise<void> {
    const key = `${state}|${detail ?? ''}`;
    if (this.#state === key) return;
    this.#state = key;
    await this.#o.db.settings.put({
      key: 'engine',
      value: { state, ...(detail ? { detail } : {}), updatedAt: Date.now() },
    });
  }
}
