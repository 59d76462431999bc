import type { KeyObject } from 'node:crypto';
import { headerTotalLengthOf, parseHeader, PREAMBLE_LENGTH, Xre1Error } from '@xray/shared';
import { dekKeyObject, openSegment, SegmentAssembler, segmentKeyOf } from './xre1.core.ts';

const DEK_LENGTH = 32;

/**
 * Decrypts a whole XRE1 object on node:crypto, fed in pieces of any size: synchronous, so it
 * runs as easily inside a stream stage as between two tus PATCHes. Same format, checks and
 * error codes as createDecryptStream in @xray/shared (the reference the edge runs).
 *
 * Plaintext of a segment is released only after its tag verifies. The object's length is not
 * known, so a segment is opened once a byte after it arrives or end() is called (the
 * SegmentAssembler): at most one sealed segment of ciphertext is held; plaintext never is.
 * After a throw the verifier is spent: every later call throws the same error.
 */
export class Xre1Verifier {
  /** Outside the JavaScript heap: the raw bytes given to the constructor are the caller's to zero. */
  readonly #key: KeyObject;
  #preamble: Uint8Array = new Uint8Array(0);
  #segments: SegmentAssembler | undefined;
  /** Plaintext of the segments opened during the current call. */
  #opened: Buffer[] = [];
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
    return this.#preamble.length + (this.#segments?.retainedBytes ?? 0);
  }

  /** Takes the next ciphertext bytes; returns the plaintext of every segment they completed. */
  push(chunk: Uint8Array): Buffer[] {
    return this.#guard(() => {
      this.#consumed += chunk.length;
      const rest = this.#takeHeader(chunk);
      // Copied where a segment spans pushes: the caller may reuse its buffer once push returns.
      this.#segments?.push(rest);
    });
  }

  /** The object is complete: opens the last segment, or throws if the object is cut short. */
  end(): Buffer[] {
    return this.#guard(() => {
      this.#ended = true;
      if (!this.#segments) throw new Xre1Error('truncated', 'the object ends before its header is complete');
      this.#segments.end();
    });
  }

  #guard(step: () => void): Buffer[] {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#ended) throw new Error('the XRE1 verifier has already ended');
    try {
      step();
      return this.#opened;
    } catch (err) {
      this.#failure = err;
      this.#segments = undefined; // its held segment goes with it
      throw err;
    } finally {
      this.#opened = [];
    }
  }

  /** Collects header bytes (never more than the header) and returns what is left of the chunk. */
  #takeHeader(chunk: Uint8Array): Uint8Array {
    while (!this.#segments && chunk.length > 0) {
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
        const key = segmentKeyOf(this.#key, header);
        this.#segments = new SegmentAssembler(header.segmentSize, (sealed, index, last) => {
          this.#opened.push(openSegment(key, index, last, sealed));
        });
        this.#preamble = new Uint8Array(0);
      }
    }
    return chunk;
  }
}
