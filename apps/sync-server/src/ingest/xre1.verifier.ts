import { headerTotalLengthOf, parseHeader, PREAMBLE_LENGTH, TAG_LENGTH, Xre1Error } from '@xray/shared';
import type { KeyObject } from 'node:crypto';
import { dekKeyObject, openSegment, segmentKeyOf, type SegmentKey } from './xre1.node.ts';

const DEK_LENGTH = 32;
const MAX_SEGMENT_INDEX = 0xffff_ffff;

/**
 * Decrypts a whole XRE1 object on node:crypto, fed in pieces of any size: synchronous, so it
 * runs as easily inside a stream stage as between two tus PATCHes. Same format, checks and
 * error codes as createDecryptStream in @xray/shared (the reference the edge runs).
 *
 * Plaintext of a segment is released only after its tag verifies. A segment is opened once we
 * know whether it is the last one, i.e. once a byte after it arrives or end() is called, so at
 * most one sealed segment of ciphertext is held; plaintext never is. After a throw the verifier
 * is spent: every later call throws the same error.
 */
export class Xre1Verifier {
  /** Outside the JavaScript heap: the raw bytes given to the constructor are the caller's to zero. */
  readonly #key: KeyObject;
  #preamble: Uint8Array = new Uint8Array(0);
  #header: (SegmentKey & { sealedSize: number }) | undefined;
  /** The segment being filled; allocated only when a segment spans two pushes. */
  #segment: Buffer | undefined;
  #filled = 0;
  #index = 0;
  #consumed = 0;
  #failure: unknown;
  #ended = false;

  constructor(rawKey: Uint8Array) {
    if (rawKey.length !== DEK_LENGTH) throw new RangeError(`a DEK is ${DEK_LENGTH} bytes`);
    this.#key = dekKeyObject(rawKey);
  }

  /** Ciphertext bytes pushed so far. */
  get consumed(): number {
    return this.#consumed;
  }

  /** Memory held between pushes (header bytes, one segment buffer), for accounting. */
  get retainedBytes(): number {
    return this.#preamble.length + (this.#segment?.length ?? 0);
  }

  /** Takes the next ciphertext bytes; returns the plaintext of every segment they completed. */
  push(chunk: Uint8Array): Buffer[] {
    return this.#guard(() => {
      this.#consumed += chunk.length;
      return this.#fill(this.#takeHeader(chunk));
    });
  }

  /** The object is complete: opens the last segment, or throws if the object is cut short. */
  end(): Buffer[] {
    return this.#guard(() => {
      this.#ended = true;
      if (!this.#header) throw new Xre1Error('truncated', 'the object ends before its header is complete');
      if (this.#filled < TAG_LENGTH) throw new Xre1Error('truncated', 'the object ends before its last segment');
      const last = this.#open(this.#segment!.subarray(0, this.#filled), true);
      this.#segment = undefined;
      return [last];
    });
  }

  #guard(step: () => Buffer[]): Buffer[] {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#ended) throw new Error('the XRE1 verifier has already ended');
    try {
      return step();
    } catch (err) {
      this.#failure = err;
      this.#segment = undefined;
      throw err;
    }
  }

  /** Collects header bytes (never more than the header) and returns what is left of the chunk. */
  #takeHeader(chunk: Uint8Array): Uint8Array {
    while (!this.#header && chunk.length > 0) {
      const have = this.#preamble.length;
      const wanted = have < PREAMBLE_LENGTH ? PREAMBLE_LENGTH : headerTotalLengthOf(this.#preamble);
      const n = Math.min(wanted - have, chunk.length);
      const grown = new Uint8Array(have + n);
      grown.set(this.#preamble);
      grown.set(chunk.subarray(0, n), have);
      this.#preamble = grown;
      chunk = chunk.subarray(n);
      if (grown.length >= PREAMBLE_LENGTH && grown.length === headerTotalLengthOf(grown)) {
        const { header } = parseHeader(grown);
        this.#header = { ...segmentKeyOf(this.#key, header), sealedSize: header.segmentSize + TAG_LENGTH };
        this.#preamble = new Uint8Array(0);
      }
    }
    return chunk;
  }

  #fill(bytes: Uint8Array): Buffer[] {
    const header = this.#header;
    const out: Buffer[] = [];
    if (!header) return out;
    const size = header.sealedSize;
    for (let offset = 0; offset < bytes.length;) {
      if (this.#filled === size) {
        // A full segment and at least one more byte: it is not the last.
        out.push(this.#open(this.#segment!, false));
        this.#filled = 0;
      }
      if (this.#filled === 0 && bytes.length - offset > size) {
        // A whole segment inside this chunk with more after it: opened in place, no copy.
        out.push(this.#open(bytes.subarray(offset, offset + size), false));
        offset += size;
        continue;
      }
      // Copied, not referenced: the caller may reuse its buffer once push returns.
      this.#segment ??= Buffer.allocUnsafe(size);
      const n = Math.min(size - this.#filled, bytes.length - offset);
      this.#segment.set(bytes.subarray(offset, offset + n), this.#filled);
      this.#filled += n;
      offset += n;
    }
    return out;
  }

  /**
   * Opens segment #index or throws. When authentication fails we retry with the opposite
   * last-flag only to name the failure, exactly like openSegment in @xray/shared.
   */
  #open(sealed: Uint8Array, last: boolean): Buffer {
    const index = this.#index;
    if (index > MAX_SEGMENT_INDEX) {
      throw new Xre1Error('bad_length', 'more segments than the 32-bit segment counter allows');
    }
    const plain = openSegment(this.#header!, index, last, sealed);
    if (plain) {
      this.#index += 1;
      return plain;
    }
    const opensWithOtherFlag = openSegment(this.#header!, index, !last, sealed) !== undefined;
    if (opensWithOtherFlag && last) {
      throw new Xre1Error('truncated', `the object ends after segment ${index}, which is not its last`);
    }
    if (opensWithOtherFlag) throw new Xre1Error('trailing_data', `data follows segment ${index}, which is the last`);
    throw new Xre1Error('auth_failed', `segment ${index} failed authentication`);
  }
}
