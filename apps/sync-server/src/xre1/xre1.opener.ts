import { pipeline, type Readable, Transform, type TransformCallback } from 'node:stream';
import {
  DEFAULT_SEGMENT_SIZE,
  MAX_HEADER_LENGTH,
  parseHeader,
  plaintextLength,
  segmentCipherOffset,
  segmentCount,
  TAG_LENGTH,
  type ParsedHeader,
} from '@xray/shared';
import { BufferPool, type ByteRange, type GetOptions, type ObjectStore } from '../storage/index.ts';
import { OffloadedSha256 } from './offloaded-sha256.ts';
import { openSegment, SegmentAssembler, segmentKeyOf, type DekMaterial, type KnownLayout } from './xre1.core.ts';

/** A stored object that is intact XRE1 but not the one its row describes. */
export class StoredObjectMismatchError extends Error {
  override name = 'StoredObjectMismatchError';
  constructor(
    readonly check: 'stored_length' | 'sha256',
    message: string,
  ) {
    super(message);
  }
}

export interface OpenStoredOptions {
  /**
   * The plaintext's SHA-256 (hex). When the whole plaintext is read, it is hashed as it is opened
   * and the last segment is released only if the hash matches (otherwise the stream fails with
   * StoredObjectMismatchError). A Range covering less than the whole cannot be checked this way.
   */
  sha256?: string;
  /** Compare the object's stored length with cipherSize before anything is released (one stat, in parallel with the reads). */
  checkStoredLength?: boolean;
  /**
   * The plaintext goes to a client at its pace (a download): the segments are read with
   * GetOptions.clientPaced. The header and the stat are read whole at once, at the server's pace.
   */
  clientPaced?: boolean;
}

/**
 * Where the default writer puts segment 0: 8 + the canonical header JSON for 1 MiB segments
 * (the 7-byte nonce prefix is always 12 base64 characters). Only a guess to fetch the body
 * concurrently with the header; it is checked against the real header before it is used.
 */
const LIKELY_HEADER_TOTAL = 8 + JSON.stringify({ v: 1, seg: DEFAULT_SEGMENT_SIZE, np: 'A'.repeat(12) }).length;

/** Sealed-segment buffers shared by all downloads (a few per download in flight, 8 kept spare). */
const sealedBuffers = new BufferPool(8);

/** Which segments and ciphertext bytes serve a plaintext range, for one header layout. */
interface Plan extends KnownLayout {
  segmentSize: number;
  headerTotalLength: number;
  plainSize: number;
  /** Plaintext bytes [start, end], inclusive; end = -1 for an empty object. */
  start: number;
  end: number;
  first: number;
  cipher: ByteRange;
}

function planFor(cipherSize: number, headerTotalLength: number, seg: number, range: ByteRange | undefined): Plan {
  const plainSize = plaintextLength(cipherSize, headerTotalLength, seg);
  const start = range?.start ?? 0;
  const end = range?.end ?? plainSize - 1; // -1 for an empty file: only its one empty segment is checked
  const first = Math.floor(start / seg);
  const until = plainSize === 0 ? 0 : Math.floor(end / seg);
  const lastIndex = segmentCount(plainSize, seg) - 1;
  const offsetOf = (index: number) => segmentCipherOffset(index, headerTotalLength, seg);
  return {
    segmentSize: seg,
    headerTotalLength,
    plainSize,
    lastIndex,
    lastSealedLength: cipherSize - offsetOf(lastIndex),
    until,
    start,
    end,
    first,
    cipher: { start: offsetOf(first), end: Math.min(offsetOf(until + 1), cipherSize) - 1 },
  };
}

async function readStoredHeader(store: ObjectStore, key: string, cipherSize: number): Promise<ParsedHeader> {
  const chunks: Buffer[] = [];
  for await (const c of await store.get(key, { start: 0, end: Math.min(cipherSize, MAX_HEADER_LENGTH) - 1 })) {
    chunks.push(Buffer.from(c));
  }
  return parseHeader(new Uint8Array(Buffer.concat(chunks)));
}

/**
 * Plaintext bytes [range.start, range.end] of a stored XRE1 object (all of it without a range),
 * decrypting only the segments they touch (each at a computable offset). The header and the
 * touched segments are fetched concurrently (two requests, one round trip) using the default
 * layout as a guess; a header with another layout costs a second fetch of the segments. Rejects
 * on a bad header or a missing object, before anything is streamed.
 */
export async function openStoredXre1(
  store: ObjectStore,
  key: string,
  dek: DekMaterial,
  cipherSize: number,
  range: ByteRange | undefined,
  opts: OpenStoredOptions = {},
): Promise<Readable> {
  let guess: Plan | undefined;
  try {
    guess = planFor(cipherSize, LIKELY_HEADER_TOTAL, DEFAULT_SEGMENT_SIZE, range);
    if (guess.cipher.start > guess.cipher.end) guess = undefined;
  } catch {
    guess = undefined; // a size the default layout cannot have: wait for the header
  }
  // Segment-sized chunks: each sealed segment arrives from disk in one read and is opened in place.
  const segmentReads: GetOptions = { buffers: sealedBuffers, ...(opts.clientPaced ? { clientPaced: true } : {}) };
  const [header, body, stat] = await Promise.allSettled([
    readStoredHeader(store, key, cipherSize),
    guess && store.get(key, guess.cipher, { ...segmentReads, chunkSize: DEFAULT_SEGMENT_SIZE + TAG_LENGTH }),
    opts.checkStoredLength ? store.stat(key) : undefined,
  ]);
  const early = body.status === 'fulfilled' ? body.value : undefined;
  let plan: Plan;
  try {
    if (header.status === 'rejected') throw header.reason;
    if (stat.status === 'rejected') throw stat.reason;
    // Bytes appended to (or cut from) the object: only the row's cipherSize would ever be read,
    // so the object is refused as a whole rather than served as if nothing had changed.
    if (stat.value && stat.value.size !== cipherSize) {
      throw new StoredObjectMismatchError(
        'stored_length',
        `the object at ${key} holds ${stat.value.size} bytes; its X-ray's row says ${cipherSize}`,
      );
    }
    plan = planFor(cipherSize, header.value.headerTotalLength, header.value.header.segmentSize, range);
  } catch (err) {
    early?.destroy();
    throw err;
  }
  let source = early;
  if (!source || plan.headerTotalLength !== guess?.headerTotalLength || plan.segmentSize !== guess.segmentSize) {
    early?.destroy();
    source = await store.get(key, plan.cipher, { ...segmentReads, chunkSize: plan.segmentSize + TAG_LENGTH });
  }
  let out: SegmentOpener;
  try {
    out = new SegmentOpener(plan, header.value, dek, opts.sha256);
  } catch (err) {
    source.destroy();
    throw err;
  }
  // Destroying `out` (client gone) destroys the source too: the file or connection is released.
  pipeline(source, out, () => undefined);
  return out;
}

/**
 * Opens the sealed segments the SegmentAssembler cuts from the ciphertext, one at a time, and
 * pushes the asked-for part of each only after its tag verifies. Chunk buffers go back to the
 * pool once handled. Memory per download stays at a few segments: the store's read-ahead (two
 * reads on disk), one chunk waiting here and one opened segment waiting for the socket.
 */
class SegmentOpener extends Transform {
  readonly #segments: SegmentAssembler;
  /** Hashing the plaintext (on a worker thread), when all of it is read and its SHA-256 is known. */
  readonly #hash: OffloadedSha256 | undefined;
  /** What the chunk being handled waits for before the next: the hash worker catching up, the digest. */
  #wait: Promise<unknown> | undefined;

  constructor(
    private readonly plan: Plan,
    parsed: ParsedHeader,
    dek: DekMaterial,
    private readonly sha256: string | undefined,
  ) {
    super();
    const key = segmentKeyOf(dek, parsed.header);
    this.#segments = new SegmentAssembler(
      plan.segmentSize,
      (sealed, index, last) => this.#release(openSegment(key, index, last, sealed), index),
      { ...plan, pool: sealedBuffers },
    );
    const whole = plan.start === 0 && plan.end === plan.plainSize - 1;
    this.#hash = sha256 && whole ? new OffloadedSha256() : undefined;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.#segments.push(chunk);
      // Every byte of the chunk is opened or copied: its buffer can be read into again.
      sealedBuffers.give(chunk);
    } catch (err) {
      done(err as Error);
      return;
    }
    this.#settle(done);
  }

  override _flush(done: TransformCallback): void {
    try {
      this.#segments.end();
    } catch (err) {
      done(err as Error);
      return;
    }
    this.#settle(done);
  }

  override _destroy(err: Error | null, done: (err: Error | null) => void): void {
    this.#hash?.drop();
    done(err);
  }

  #settle(done: TransformCallback): void {
    const wait = this.#wait;
    this.#wait = undefined;
    if (!wait) return done();
    wait.then(
      () => done(),
      (err: unknown) => done(err as Error),
    );
  }

  /**
   * Waits for `p` too before the chunk is done. Each is marked handled here: when an earlier wait
   * rejects (the hashing worker died), a later one is never awaited, and an unhandled rejection
   * would end the process.
   */
  #after(p: Promise<unknown>): void {
    p.catch(() => undefined);
    const before = this.#wait;
    this.#wait = before ? before.then(() => p) : p;
  }

  #release(plain: Buffer, index: number): void {
    const { plan } = this;
    const from = index === plan.first ? plan.start - index * plan.segmentSize : 0;
    const to = index === plan.until ? plan.end - index * plan.segmentSize + 1 : plain.length;
    const part = to > from ? (from === 0 && to === plain.length ? plain : plain.subarray(from, to)) : undefined;
    const hash = this.#hash;
    if (hash) {
      const room = hash.update(plain);
      if (room) this.#after(room);
      // The last segment is held back until the whole plaintext proved to be the one recorded: a
      // client never receives a complete response of another image, only a cut-off one.
      if (index === plan.lastIndex) {
        this.#after(
          hash.digest().then((actual) => {
            if (actual !== this.sha256) {
              throw new StoredObjectMismatchError(
                'sha256',
                `the plaintext hashes to ${actual}, not the recorded ${this.sha256}; its last segment was withheld`,
              );
            }
            if (part) this.push(part);
          }),
        );
        return;
      }
    }
    if (part) this.push(part);
  }
}
