/**
 * Range reads: segment i sits at a computable offset, so a plaintext byte range needs the header
 * plus only the segments it touches. Every touched segment is authenticated in full before any of
 * its bytes are returned.
 */
import { type ByteSource, type Bytes, ExactReader, streamFromGenerator } from './bytes.ts';
import { Xre1Error } from './xre1.errors.ts';
import {
  PREAMBLE_LENGTH,
  type ParsedHeader,
  TAG_LENGTH,
  headerTotalLengthOf,
  openSegment,
  parseHeader,
  plaintextLength,
  segmentCipherOffset,
  segmentCount,
} from './xre1.format.ts';

/** Fetches ciphertext bytes [start, endInclusive], e.g. an S3 GET with a Range header. */
export type CiphertextReader = (start: number, endInclusive: number) => Promise<ByteSource>;

export interface DecryptRangeOptions {
  /** Length of the whole stored object: it tells which segment is the last one. */
  cipherLength: number;
  /** Plaintext byte range, inclusive like an HTTP Range header. */
  start: number;
  endInclusive: number;
}

/**
 * Reads and checks the header first, so a bad object or an unsatisfiable range rejects here
 * (before a response is committed); the returned stream then fetches the touched segments lazily.
 * Throws RangeError unless 0 <= start <= endInclusive < plaintext length.
 */
export async function decryptRange(
  read: CiphertextReader,
  dek: CryptoKey,
  { cipherLength, start, endInclusive }: DecryptRangeOptions,
): Promise<ReadableStream<Uint8Array<ArrayBuffer>>> {
  const { header, headerTotalLength } = await readHeader(read, cipherLength);
  const seg = header.segmentSize;
  const plainLength = plaintextLength(cipherLength, headerTotalLength, seg);
  const valid =
    Number.isSafeInteger(start) &&
    Number.isSafeInteger(endInclusive) &&
    start >= 0 &&
    start <= endInclusive &&
    endInclusive < plainLength;
  if (!valid) {
    throw new RangeError(`range ${start}-${endInclusive} is outside 0-${plainLength - 1}`);
  }

  const first = Math.floor(start / seg);
  const last = Math.floor(endInclusive / seg);
  const lastIndex = segmentCount(plainLength, seg) - 1;
  const offsetOf = (index: number) => segmentCipherOffset(index, headerTotalLength, seg);

  async function* plaintext(): AsyncGenerator<Bytes, void, undefined> {
    const from = offsetOf(first);
    const to = Math.min(offsetOf(last + 1), cipherLength) - 1;
    const source = new ExactReader(await read(from, to));
    const box = new Uint8Array(seg + TAG_LENGTH);
    try {
      for (let index = first; index <= last; index += 1) {
        const sealed = box.subarray(0, Math.min(box.length, cipherLength - offsetOf(index)));
        if ((await source.readInto(sealed)) < sealed.length) {
          throw new Xre1Error('truncated', `the read of segment ${index} ended early`);
        }
        const opened = await openSegment(dek, header, index, index === lastIndex, sealed);
        const segmentStart = index * seg;
        yield opened.subarray(
          Math.max(start - segmentStart, 0),
          Math.min(endInclusive + 1 - segmentStart, opened.length),
        );
      }
      if (!(await source.atEnd())) {
        throw new Xre1Error('bad_length', 'the read returned more bytes than were asked for');
      }
    } finally {
      await source.cancel();
    }
  }

  return streamFromGenerator(plaintext());
}

/** Two small reads: the 8-byte preamble, which gives the header length, then the header JSON. */
export async function readHeader(read: CiphertextReader, cipherLength: number): Promise<ParsedHeader> {
  const preamble = await readExactly(read, 0, PREAMBLE_LENGTH, cipherLength);
  const total = headerTotalLengthOf(preamble);
  const json = await readExactly(read, PREAMBLE_LENGTH, total - PREAMBLE_LENGTH, cipherLength);
  const bytes = new Uint8Array(total);
  bytes.set(preamble);
  bytes.set(json, PREAMBLE_LENGTH);
  return parseHeader(bytes);
}

async function readExactly(
  read: CiphertextReader,
  start: number,
  length: number,
  cipherLength: number,
): Promise<Bytes> {
  if (start + length > cipherLength) {
    throw new Xre1Error('truncated', 'the object ends inside the XRE1 header');
  }
  const source = new ExactReader(await read(start, start + length - 1));
  try {
    const bytes = new Uint8Array(length);
    if ((await source.readInto(bytes)) < length) {
      throw new Xre1Error('truncated', `the read at ${start} ended early`);
    }
    return bytes;
  } finally {
    await source.cancel();
  }
}
