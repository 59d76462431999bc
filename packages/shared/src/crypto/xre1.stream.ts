/**
 * Streaming XRE1 encryption and decryption. Both sides buffer at most one segment: a segment can
 * only be sealed or opened once we know whether it is the last one, i.e. whether more bytes follow.
 */
import { type Bytes, readAllBytes } from './bytes.ts';
import { Xre1Error } from './xre1.errors.ts';
import {
  DEFAULT_SEGMENT_SIZE,
  PREAMBLE_LENGTH,
  TAG_LENGTH,
  type Xre1Header,
  createHeader,
  headerTotalLengthOf,
  openSegment,
  parseHeader,
  randomNoncePrefix,
  sealSegment,
  serializeHeader,
} from './xre1.format.ts';

export interface EncryptOptions {
  /** 7 bytes; random by default. Fixed only for test vectors. */
  noncePrefix?: Uint8Array;
  /** Plaintext bytes per segment; 1 MiB by default. */
  segmentSize?: number;
}

export function createEncryptStream(
  dek: CryptoKey,
  opts: EncryptOptions = {},
): TransformStream<Uint8Array, Uint8Array<ArrayBuffer>> {
  const header = createHeader(opts.segmentSize ?? DEFAULT_SEGMENT_SIZE, opts.noncePrefix ?? randomNoncePrefix());
  const segment = new SegmentBuffer(header.segmentSize, (bytes, index) =>
    sealSegment(dek, header, index, false, bytes),
  );
  return new TransformStream({
    start(controller) {
      controller.enqueue(serializeHeader(header));
    },
    async transform(chunk, controller) {
      await segment.push(chunk, controller);
    },
    async flush(controller) {
      controller.enqueue(await sealSegment(dek, header, segment.index, true, segment.rest()));
    },
  });
}

/**
 * Errors the stream (never ends it quietly) on a bad header, a segment that fails authentication,
 * truncation or trailing data. Plaintext is enqueued only after its segment has authenticated,
 * so a consumer sees a verified prefix of the file and then the error.
 */
export function createDecryptStream(dek: CryptoKey): TransformStream<Uint8Array, Uint8Array<ArrayBuffer>> {
  let preamble: Uint8Array = new Uint8Array(0);
  let state: { header: Xre1Header; segment: SegmentBuffer } | undefined;

  /** Collects header bytes (never more than the header) and returns what is left of the chunk. */
  function takeHeader(chunk: Uint8Array): Uint8Array {
    while (!state && chunk.length > 0) {
      const wanted = preamble.length < PREAMBLE_LENGTH ? PREAMBLE_LENGTH : headerTotalLengthOf(preamble);
      const n = Math.min(wanted - preamble.length, chunk.length);
      const grown = new Uint8Array(preamble.length + n);
      grown.set(preamble);
      grown.set(chunk.subarray(0, n), preamble.length);
      preamble = grown;
      chunk = chunk.subarray(n);
      if (preamble.length >= PREAMBLE_LENGTH && preamble.length === headerTotalLengthOf(preamble)) {
        const { header } = parseHeader(preamble);
        const segment = new SegmentBuffer(header.segmentSize + TAG_LENGTH, (bytes, index) =>
          openSegment(dek, header, index, false, bytes),
        );
        state = { header, segment };
      }
    }
    return chunk;
  }

  return new TransformStream({
    async transform(chunk, controller) {
      const rest = takeHeader(chunk);
      if (state) await state.segment.push(rest, controller);
    },
    async flush(controller) {
      if (!state) {
        throw new Xre1Error('truncated', 'the object ends before its header is complete');
      }
      const { header, segment } = state;
      const last = segment.rest();
      if (last.length < TAG_LENGTH) {
        throw new Xre1Error('truncated', 'the object ends before its last segment');
      }
      controller.enqueue(await openSegment(dek, header, segment.index, true, last));
    },
  });
}

/**
 * Fills fixed-size segments from chunks of any size. A full segment is handed on (as "not last")
 * only when at least one more byte arrives; whatever remains at the end is the last segment.
 */
class SegmentBuffer {
  readonly #buffer: Bytes;
  readonly #process: (segment: Bytes, index: number) => Promise<Bytes>;
  #filled = 0;
  #index = 0;

  constructor(size: number, process: (segment: Bytes, index: number) => Promise<Bytes>) {
    this.#buffer = new Uint8Array(size);
    this.#process = process;
  }

  /** Index of the segment currently being filled. */
  get index(): number {
    return this.#index;
  }

  async push(chunk: Uint8Array, out: TransformStreamDefaultController<Bytes>): Promise<void> {
    for (let offset = 0; offset < chunk.length;) {
      if (this.#filled === this.#buffer.length) {
        // WebCrypto copies its input, so the buffer can be refilled once the call has returned.
        out.enqueue(await this.#process(this.#buffer, this.#index));
        this.#index += 1;
        this.#filled = 0;
      }
      const n = Math.min(this.#buffer.length - this.#filled, chunk.length - offset);
      this.#buffer.set(chunk.subarray(offset, offset + n), this.#filled);
      this.#filled += n;
      offset += n;
    }
  }

  /** The bytes of the final segment (possibly empty). */
  rest(): Bytes {
    return this.#buffer.subarray(0, this.#filled);
  }
}

/** Convenience for small data and tests; large files should go through the streams. */
export async function encryptBytes(
  dek: CryptoKey,
  plaintext: Uint8Array,
  opts?: EncryptOptions,
): Promise<Uint8Array<ArrayBuffer>> {
  return readAllBytes(bytesStream(plaintext).pipeThrough(createEncryptStream(dek, opts)));
}

export async function decryptBytes(dek: CryptoKey, ciphertext: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  return readAllBytes(bytesStream(ciphertext).pipeThrough(createDecryptStream(dek)));
}

function bytesStream(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}
