import { pipeline, Transform } from 'node:stream';
import type { DataStore } from '@tus/utils';
import { CiphertextInspection } from '../ingest/ciphertext-inspection.ts';
import { dicomReaderLoader } from '../ingest/content-inspector.ts';
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
  now?: () => number;
  /**
   * For an upload's first write on an instance that did not create it (a load balancer that
   * routes each upload's PATCHes to one replica, but its creation anywhere): its data key, from
   * the upload's stored metadata. Absent or failing: that upload is read back at finalize.
   */
  keyOf?: (id: string) => Promise<{ rawKey: Promise<Uint8Array>; uploadedDek: UploadedDek }>;
}

class Arrival {
  inspection: CiphertextInspection | undefined;
  rawKey: Buffer | undefined;
  uploadedDek: UploadedDek | undefined;
  /** Writes to the upload (counted across instances) that this verification took part in. */
  writes = 0;
  busy = false;
  dropped = false;

  constructor(
    public lastUsed: number,
    readonly ready: Promise<void>,
  ) {}

  /** Ciphertext bytes verified so far: while trusted, exactly what storage holds. */
  get offset(): number {
    return this.inspection?.consumed ?? 0;
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
 */
export class ArrivalVerifications {
  readonly #states = new Map<string, Arrival>();
  readonly #maxPlaintextBytes: number;
  readonly #countWrite: (id: string) => Promise<number | null>;
  readonly #budgetBytes: number;
  readonly #maxUploads: number;
  readonly #idleMs: number;
  readonly #now: () => number;
  readonly #keyOf: ArrivalVerificationOptions['keyOf'];
  /** Drops idle verifications (and zeroes their keys) even when no other upload comes along. */
  #sweep: NodeJS.Timeout | undefined;

  constructor(opts: ArrivalVerificationOptions) {
    this.#maxPlaintextBytes = opts.maxPlaintextBytes;
    this.#countWrite = opts.countWrite;
    this.#budgetBytes = opts.budgetBytes ?? 64 * 1024 * 1024;
    this.#maxUploads = opts.maxUploads ?? 256;
    this.#idleMs = opts.idleMs ?? 15 * 60_000;
    this.#now = opts.now ?? Date.now;
    this.#keyOf = opts.keyOf;
  }

  /** Uploads currently being verified on arrival. */
  get size(): number {
    return this.#states.size;
  }

  /**
   * A new upload (no byte written yet) whose data key `uploadedDek` unwraps to `rawKey`; finalize
   * then uses `rawKey` again, and trusts this verification only for that same `uploadedDek`.
   */
  begin(id: string, rawKey: Promise<Uint8Array>, uploadedDek: UploadedDek | Promise<UploadedDek>): void {
    this.drop(id);
    const state: Arrival = new Arrival(
      this.#now(),
      // dcmjs (for a DICOM header) is loaded once the bytes say DICOM, never for a PNG or JPEG.
      Promise.all([rawKey, uploadedDek]).then(
        ([key, from]) => {
          if (state.dropped) return; // dropped while its key was unwrapped: keep no copy
          state.rawKey = Buffer.from(key);
          state.uploadedDek = from;
          state.inspection = new CiphertextInspection(key, this.#maxPlaintextBytes, dicomReaderLoader);
        },
        () => this.#drop(id, state),
      ),
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
    const { busy, inspection, rawKey, uploadedDek, offset } = state;
    // Handed over: from here the caller zeroes the key (ingestStoredObject does once it is imported).
    state.rawKey = undefined;
    this.#drop(id, state);
    if (busy || !inspection || !rawKey || !uploadedDek || offset !== size) {
      rawKey?.fill(0);
      return undefined;
    }
    try {
      // A DICOM's reader may still be loading (the first DICOM since start, when its bytes came
      // quickly): waited for here rather than reading the whole X-ray back.
      await inspection.ready();
      return { rawKey, uploadedDek, content: inspection.finish() };
    } catch {
      // Refused, or the reader failed to load: the read-back fails the same way and reports it
      // as finalize always has.
      rawKey.fill(0);
      return undefined;
    }
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
      if (offset === 0 && !this.#states.has(id)) this.#beginHere(id);
      const state = await this.#claim(id, offset);
      if (!state) {
        try {
          return await write(src, id, offset);
        } finally {
          await counted;
        }
      }
      const tap = new Transform({
        transform: (chunk: Buffer, _enc, done) => {
          this.#feed(id, state, chunk);
          done(null, chunk);
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
      this.#settle(id, state, newOffset, await counted);
      return newOffset;
    };
    const remove = store.remove.bind(store);
    store.remove = (id) => {
      this.drop(id);
      return remove(id);
    };
    return store;
  }

  /** Begins verifying an upload created elsewhere, at its first byte; on any doubt, does not. */
  #beginHere(id: string): void {
    if (!this.#keyOf) return;
    const found = this.#keyOf(id);
    this.begin(
      id,
      found.then((f) => f.rawKey),
      found.then((f) => f.uploadedDek),
    );
  }

  /** The upload's verification, if it can take a write at `offset`; dropped if it cannot. */
  async #claim(id: string, offset: number): Promise<Arrival | undefined> {
    const state = this.#states.get(id);
    if (!state) return undefined;
    await state.ready;
    if (state.dropped) return undefined;
    // Writes to one upload are serialized by its lock, so a busy one means something is off.
    if (state.busy || !state.inspection || state.offset !== offset) {
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

  #feed(id: string, state: Arrival, chunk: Buffer): void {
    if (state.dropped) return;
    try {
      state.inspection!.push(chunk);
    } catch {
      // Not intact or not acceptable: finalize reads it back and refuses it with the reason.
      this.#drop(id, state);
    }
  }

  #drop(id: string, state: Arrival): void {
    state.dropped = true;
    state.inspection = undefined;
    // Our own copy (begin made it): zeroed, not just forgotten. The inspection's key is a
    // KeyObject outside the JavaScript heap, released with it.
    state.rawKey?.fill(0);
    state.rawKey = undefined;
    if (this.#states.get(id) === state) this.#states.delete(id);
  }

  /** While any verification is kept: an idle one goes within a minute of its idle time, not at the next upload. */
  #scheduleSweep(): void {
    if (this.#sweep || this.#states.size === 0) return;
    this.#sweep = setTimeout(
      () => {
        this.#sweep = undefined;
        this.#evict();
      },
      Math.min(this.#idleMs, 60_000),
    ).unref();
  }

  /** Idle ones go; then the least recently used while over the memory budget or the count. */
  #evict(): void {
    const now = this.#now();
    let retained = 0;
    for (const [id, state] of this.#states) {
      if (!state.busy && now - state.lastUsed > this.#idleMs) this.#drop(id, state);
      else retained += state.inspection?.retainedBytes ?? 0;
    }
    for (const [id, state] of this.#states) {
      if (retained <= this.#budgetBytes && this.#states.size <= this.#maxUploads) break;
      if (state.busy) continue;
      retained -= state.inspection?.retainedBytes ?? 0;
      this.#drop(id, state);
    }
    this.#scheduleSweep();
  }
}
