import { pipeline, Transform, type TransformCallback } from 'node:stream';
import type { DataStore } from '@tus/utils';
import { BUFFER_BYTES, InspectionThread, type InspectionStream } from '../ingest/inspection-thread.ts';
import type { UploadedDek, VerifiedOnArrival } from '../ingest/ingest.service.ts';

export interface ArrivalVerificationOptions {
  maxPlaintextBytes: number;
  /**
   * Counts one write to an upload where every instance sees it (PostgreSQL) and returns the new
   * count, or null when the upload is unknown there.
   */
  countWrite: (id: string) => Promise<number | null>;
  /** Memory all verifications may keep between PATCHes (one sealed segment and a header prefix each). */
  budgetBytes?: number;
  maxUploads?: number;
  /** A verification untouched this long is dropped (its upload will be read back at finalize). */
  idleMs?: number;
  /** How far the worker may lag behind one upload's PATCH before that PATCH waits for it. */
  lagBytes?: number;
  /** …and behind all of them together. */
  queueBytes?: number;
  /** The worker (default: a new one, started with the first upload). */
  thread?: InspectionThread;
  /**
   * For an upload's first write on an instance that did not create it (a load balancer that
   * routes each upload's PATCHes to one replica, but its creation anywhere): its data key,
   * from the upload's stored metadata. Absent or undefined: that upload is read back at finalize.
   */
  keyOf?: (id: string) => Promise<{ rawKey: Promise<Uint8Array>; uploadedDek: UploadedDek } | undefined>;
  now?: () => number;
}

class Arrival {
  ready: Promise<void> = Promise.resolve();
  stream: InspectionStream | undefined;
  rawKey: Buffer | undefined;
  /** Writes to the upload (counted across instances) that this verification took part in. */
  writes = 0;
  busy = false;
  dropped = false;
  /**
   * Ciphertext bytes taken for verification: while trusted, exactly what storage holds. Of
   * them, `posted` went to the worker (the rest wait in `batch`), and it has inspected `acked`.
   */
  offset = 0;
  posted = 0;
  acked = 0;
  batch: Uint8Array<ArrayBuffer> | undefined;
  batched = 0;
  /** What the worker keeps for this upload between pushes, as of its last ack. */
  workerBytes = 0;

  constructor(
    public lastUsed: number,
    readonly uploadedDek: UploadedDek,
  ) {}

  /** Bytes handed to the worker and not inspected yet. */
  get lag(): number {
    return this.posted - this.acked;
  }

  get retainedBytes(): number {
    return this.workerBytes + this.lag + this.batched;
  }
}

/**
 * Verifies tus uploads while their bytes arrive: each PATCH's body flows through the upload's
 * CiphertextInspection on its way to the store, so finalize need not read the object back.
 *
 * That work stands for the stored object only if the two cannot differ, so it is kept only while
 * (a) every write of the upload went through this instance's verification: the write counts in
 * PostgreSQL follow each other with none missing, and each write started at the offset the
 * verification had reached; and (b) each write persisted exactly the bytes the verification
 * took: the store's new offset equals the verification's. Anything else (a write elsewhere, a
 * store error, an abort that stored fewer bytes, a restart) drops it, and finalize falls back
 * to reading the object back through the very same inspection.
 *
 * The inspection itself runs on a worker thread (InspectionThread): each PATCH's bytes are
 * copied and posted to it in order; the PATCH waits whenever the worker lags too far behind,
 * and at its end until the worker has inspected all of it. Only the bookkeeping above runs here.
 * A refusal, or the worker dying, drops the verification like any other doubt.
 */
export class ArrivalVerifications {
  readonly #states = new Map<string, Arrival>();
  readonly #maxPlaintextBytes: number;
  readonly #countWrite: (id: string) => Promise<number | null>;
  readonly #budgetBytes: number;
  readonly #maxUploads: number;
  readonly #idleMs: number;
  readonly #lagBytes: number;
  readonly #queueBytes: number;
  readonly #now: () => number;
  readonly #keyOf: ArrivalVerificationOptions['keyOf'];
  /** Bytes posted to the worker and not yet inspected, over all uploads. */
  #queued = 0;
  /** PATCHes waiting for the worker: each returns true once it could go on. */
  readonly #waiting = new Set<() => boolean>();
  /** Where the inspections run. */
  readonly thread: InspectionThread;

  constructor(opts: ArrivalVerificationOptions) {
    this.#maxPlaintextBytes = opts.maxPlaintextBytes;
    this.#countWrite = opts.countWrite;
    this.#budgetBytes = opts.budgetBytes ?? 64 * 1024 * 1024;
    this.#maxUploads = opts.maxUploads ?? 256;
    this.#idleMs = opts.idleMs ?? 15 * 60_000;
    this.#lagBytes = opts.lagBytes ?? 4 * 1024 * 1024;
    this.#queueBytes = opts.queueBytes ?? 32 * 1024 * 1024;
    this.#now = opts.now ?? Date.now;
    this.thread = opts.thread ?? new InspectionThread();
    this.#keyOf = opts.keyOf;
  }

  /** Uploads currently being verified on arrival. */
  get size(): number {
    return this.#states.size;
  }

  /** Bytes handed to the worker that it has not inspected yet. */
  get queuedBytes(): number {
    return this.#queued;
  }

  /** A new upload (no byte written yet) whose data key `uploadedDek` unwraps to `rawKey`. */
  begin(id: string, rawKey: Promise<Uint8Array>, uploadedDek: UploadedDek): void {
    this.drop(id);
    const state = new Arrival(this.#now(), uploadedDek);
    state.ready = rawKey.then(
      (key) => {
        if (state.dropped) return;
        state.stream = this.thread.open(key, this.#maxPlaintextBytes, {
          ack: (length, workerBytes, refused) => this.#acked(id, state, length, workerBytes, refused),
          lost: () => this.#drop(id, state),
        });
        if (state.stream) state.rawKey = Buffer.from(key);
        else this.#drop(id, state);
      },
      () => this.#drop(id, state),
    );
    this.#states.set(id, state);
    this.#evict();
  }

  /**
   * The verified content of a finished upload of `size` bytes, if all of them were verified
   * on arrival; undefined means "read it back". Forgets the upload either way.
   */
  async take(id: string, size: number): Promise<VerifiedOnArrival | undefined> {
    const state = this.#states.get(id);
    if (!state) return undefined;
    this.#states.delete(id);
    const { busy, stream, rawKey, offset, uploadedDek } = state;
    if (busy || state.dropped || !stream || !rawKey || offset !== size) {
      this.#drop(id, state);
      return undefined;
    }
    // Answered after every byte posted before it; a worker that dies first answers `lost`.
    const outcome = await stream.finish();
    this.#drop(id, state);
    // Refused: the read-back fails the same way and reports it as finalize always has. And the
    // worker must have seen exactly the bytes this bookkeeping vouches for.
    if (!('content' in outcome) || outcome.consumed !== size) return undefined;
    return { rawKey, uploadedDek, content: outcome.content };
  }

  drop(id: string): void {
    const state = this.#states.get(id);
    if (state) this.#drop(id, state);
  }

  /** Wraps the tus store's write (verify what it stores) and remove (termination forgets). */
  wrap(store: DataStore): DataStore {
    const write = store.write.bind(store);
    store.write = async (src, id, offset) => {
      // Every write is counted, verified here or not, so that no instance misses one unnoticed.
      const counted = this.#countWrite(id).catch(() => null);
      if (offset === 0 && !this.#states.has(id)) await this.#beginHere(id);
      const state = await this.#claim(id, offset);
      if (!state) {
        try {
          return await write(src, id, offset);
        } finally {
          await counted;
        }
      }
      const pass = (chunk: Buffer, done: TransformCallback) => {
        this.#feed(state, chunk);
        done(null, chunk);
      };
      const tap = new Transform({
        transform: (chunk: Buffer, _enc, done) => {
          if (this.#mayFeed(state)) return pass(chunk, done);
          // The worker lags too far behind: this PATCH's bytes wait (and so does the client).
          void this.#until(() => this.#mayFeed(state)).then(() => {
            if (!tap.destroyed) pass(chunk, done);
          });
        },
      });
      let newOffset: number;
      try {
        newOffset = await write(
          pipeline(src, tap, () => undefined),
          id,
          offset,
        );
      } catch (err) {
        this.#drop(id, state);
        await counted;
        throw err;
      }
      // The last bytes of the PATCH go too; it is answered once the worker has inspected them all,
      // so nothing is in flight between PATCHes and a refusal is known at once.
      this.#post(state);
      const [writes] = await Promise.all([counted, this.#until(() => state.dropped || state.lag === 0)]);
      this.#settle(id, state, newOffset, writes);
      return newOffset;
    };
    const remove = store.remove.bind(store);
    store.remove = (id) => {
      this.drop(id);
      return remove(id);
    };
    return store;
  }

  /** Stops the worker (server stop); uploads still running are read back at finalize. */
  async close(): Promise<void> {
    await this.thread.close();
  }

  /** The upload's verification, if it can take a write at `offset`; dropped if it cannot. */
  /** Begins verifying an upload created elsewhere, at its first byte; on any doubt, does not. */
  async #beginHere(id: string): Promise<void> {
    const key = await this.#keyOf?.(id).catch(() => undefined);
    if (key && !this.#states.has(id)) this.begin(id, key.rawKey, key.uploadedDek);
  }

  async #claim(id: string, offset: number): Promise<Arrival | undefined> {
    const state = this.#states.get(id);
    if (!state) return undefined;
    await state.ready;
    if (state.dropped) return undefined;
    // Writes to one upload are serialized by its lock, so a busy one means something is off.
    if (state.busy || !state.stream || state.offset !== offset) {
      this.#drop(id, state);
      return undefined;
    }
    state.busy = true;
    return state;
  }

  /** After a write: kept only if the store holds exactly what it verified and no write came between. */
  #settle(id: string, state: Arrival, storedOffset: number, writes: number | null): void {
    state.busy = false;
    if (state.dropped) return;
    if (storedOffset !== state.offset || writes === null || writes !== state.writes + 1) {
      this.#drop(id, state);
      return;
    }
    state.writes = writes;
    state.lastUsed = this.#now();
    // Most recently used last: eviction takes the oldest first.
    this.#states.delete(id);
    this.#states.set(id, state);
    this.#evict();
  }

  #mayFeed(state: Arrival): boolean {
    return state.dropped || (state.lag <= this.#lagBytes && this.#queued <= this.#queueBytes);
  }

  /**
   * Copies the chunk for the worker, in buffers of the thread's own that are handed over when full
   * (or the PATCH ends): the caller's Buffer may be pooled or reused, it is never transferred.
   */
  #feed(state: Arrival, chunk: Buffer): void {
    if (state.dropped) return;
    state.offset += chunk.length;
    for (let at = 0; at < chunk.length;) {
      state.batch ??= new Uint8Array(this.thread.buffer());
      const n = Math.min(BUFFER_BYTES - state.batched, chunk.length - at);
      state.batch.set(chunk.subarray(at, at + n), state.batched);
      state.batched += n;
      at += n;
      if (state.batched === BUFFER_BYTES) this.#post(state);
    }
  }

  /** Hands the batch so far to the worker. */
  #post(state: Arrival): void {
    const { batch, batched } = state;
    if (!batch || state.dropped) return;
    state.batch = undefined;
    state.batched = 0;
    state.posted += batched;
    this.#queued += batched;
    state.stream!.push(batch.buffer, batched);
  }

  #acked(id: string, state: Arrival, length: number, workerBytes: number, refused: boolean): void {
    state.acked += length;
    this.#queued -= length;
    state.workerBytes = workerBytes;
    // Not intact or not acceptable: finalize reads it back and refuses it with the reason.
    if (refused) this.#drop(id, state);
    this.#wake();
  }

  /** Resolves once `ready()` holds: checked again whenever the worker acknowledges or a verification goes. */
  #until(ready: () => boolean): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve) => {
      this.#waiting.add(() => {
        if (!ready()) return false;
        resolve();
        return true;
      });
    });
  }

  #wake(): void {
    for (const waiter of this.#waiting) if (waiter()) this.#waiting.delete(waiter);
  }

  #drop(id: string, state: Arrival): void {
    if (this.#states.get(id) === state) this.#states.delete(id);
    if (state.dropped) return;
    state.dropped = true;
    state.stream?.close();
    state.stream = undefined;
    state.rawKey = undefined;
    state.batch = undefined;
    state.batched = 0;
    // Whatever the worker still holds of it is no longer waited for.
    this.#queued -= state.lag;
    state.acked = state.posted;
    this.#wake();
  }

  /** Idle ones go; then the least recently used while over the memory budget or the count. */
  #evict(): void {
    const now = this.#now();
    let retained = 0;
    for (const [id, state] of this.#states) {
      if (!state.busy && now - state.lastUsed > this.#idleMs) this.#drop(id, state);
      else retained += state.retainedBytes;
    }
    for (const [id, state] of this.#states) {
      if (retained <= this.#budgetBytes && this.#states.size <= this.#maxUploads) break;
      if (state.busy) continue;
      retained -= state.retainedBytes;
      this.#drop(id, state);
    }
  }
}
