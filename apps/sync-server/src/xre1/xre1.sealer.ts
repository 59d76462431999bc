import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import {
  createHeader,
  DEFAULT_SEGMENT_SIZE,
  randomNoncePrefix,
  serializeHeader,
  type EncryptOptions,
} from '@xray/shared';
import { sealSegment, segmentKeyOf, type DekMaterial, type SegmentKey } from './xre1.core.ts';

/**
 * POST /xrays: plaintext in, XRE1 out, on node:crypto (Xre1Sealer). Byte for byte what the shared
 * WebCrypto encryptor (the edge's own) writes for the same key and nonce prefix; synchronous per
 * segment, so no Web Streams and no promise per segment on the way to storage.
 */
export function encryptNode(plaintext: Readable, dek: DekMaterial, opts?: EncryptOptions): Readable {
  // pipeline destroys the sealer with the plaintext's error (client gone, limit hit, unknown type).
  return pipeline(plaintext, new Xre1Sealer(dek, opts), () => undefined);
}

/**
 * Encrypts a plaintext stream to XRE1: the header, then each segment sealed once a byte after it
 * arrives (it is not the last) or at the end (the last, possibly empty). A segment lying whole in
 * a chunk is sealed in place; the rest is gathered in one segment buffer, reused.
 */
export class Xre1Sealer extends Transform {
  readonly #key: SegmentKey;
  readonly #segmentSize: number;
  readonly #held: Buffer;
  #filled = 0;
  #index = 0;

  constructor(dek: DekMaterial, opts: EncryptOptions = {}) {
    super();
    const header = createHeader(opts.segmentSize ?? DEFAULT_SEGMENT_SIZE, opts.noncePrefix ?? randomNoncePrefix());
    this.#key = segmentKeyOf(dek, header);
    this.#segmentSize = header.segmentSize;
    this.#held = Buffer.allocUnsafe(header.segmentSize);
    this.push(serializeHeader(header));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      for (let at = 0; at < chunk.length;) {
        if (this.#filled === this.#segmentSize) this.#seal(this.#held, false); // a byte follows it
        const rest = chunk.length - at;
        if (this.#filled === 0 && rest > this.#segmentSize) {
          this.#seal(chunk.subarray(at, at + this.#segmentSize), false);
          at += this.#segmentSize;
          continue;
        }
        const n = Math.min(this.#segmentSize - this.#filled, rest);
        chunk.copy(this.#held, this.#filled, at, at + n);
        this.#filled += n;
        at += n;
      }
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      this.#seal(this.#held.subarray(0, this.#filled), true);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  #seal(plaintext: Uint8Array, last: boolean): void {
    const [sealed, tag] = sealSegment(this.#key, this.#index++, last, plaintext);
    this.#filled = 0;
    this.push(sealed);
    this.push(tag);
  }
}
