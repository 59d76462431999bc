import { describe, expect, it } from 'vitest';
import {
  type CiphertextReader,
  TAG_LENGTH,
  decryptRange,
  encryptBytes,
  generateDek,
  parseHeader,
  readHeader,
  segmentCipherOffset,
} from '../src/crypto/index.ts';
import { MiB, randomBytes } from './xre1.fixtures.ts';
import { drain, expectCode, expectSameBytes, flipBit, join, prng, randomChunks, streamOf } from './xre1.helpers.ts';

/** A read callback over bytes in memory that counts what it hands out, like metered S3 GETs. */
function meteredReader(object: Uint8Array, opts: { chunked?: boolean } = {}) {
  const random = prng(object.length);
  const meter = { bytesRead: 0, calls: [] as [number, number][] };
  const read: CiphertextReader = async (start, endInclusive) => {
    const bytes = object.subarray(start, endInclusive + 1);
    meter.bytesRead += bytes.length;
    meter.calls.push([start, endInclusive]);
    return opts.chunked ? streamOf(randomChunks(bytes, random, 100_000)) : bytes;
  };
  return { read, meter };
}

/** Header bytes plus the ciphertext of every segment the plaintext range touches. */
function expectedBytesRead(object: Uint8Array, start: number, endInclusive: number): number {
  const { headerTotalLength: h } = parseHeader(object);
  let total = h;
  for (let i = Math.floor(start / MiB); i <= Math.floor(endInclusive / MiB); i += 1) {
    const offset = segmentCipherOffset(i, h, MiB);
    total += Math.min(MiB + TAG_LENGTH, object.length - offset);
  }
  return total;
}

describe('decryptRange', async () => {
  const dek = await generateDek();
  const plaintext = randomBytes(3.5 * MiB);
  const object = await encryptBytes(dek, plaintext); // segments 0..2 full, 3 is half
  const exactPlain = plaintext.subarray(0, MiB);
  const exact = await encryptBytes(dek, exactPlain); // one full segment, flagged last
  const { headerTotalLength: h } = parseHeader(object);
  const at = (i: number) => segmentCipherOffset(i, h, MiB);

  async function decrypt(bytes: Uint8Array, start: number, endInclusive: number, chunked = false) {
    const { read, meter } = meteredReader(bytes, { chunked });
    const stream = await decryptRange(read, dek, { cipherLength: bytes.length, start, endInclusive });
    const { emitted, error } = await drain(stream);
    if (error) throw error;
    return { emitted, meter };
  }

  const last = plaintext.length - 1;
  const cases: [string, Uint8Array, Uint8Array, number, number][] = [
    ['the first byte', object, plaintext, 0, 0],
    ['the last byte', object, plaintext, last, last],
    ['a range spanning segments 1 and 2', object, plaintext, 2 * MiB - 100, 2 * MiB + 99],
    ['the last byte of one segment to the first of the next', object, plaintext, MiB - 1, MiB],
    ['exactly segment 2', object, plaintext, 2 * MiB, 3 * MiB - 1],
    ['a range ending in the short last segment', object, plaintext, 3 * MiB - 10, last],
    ['the whole file', object, plaintext, 0, last],
    ['1 MiB file: first byte', exact, exactPlain, 0, 0],
    ['1 MiB file: last byte', exact, exactPlain, MiB - 1, MiB - 1],
    ['1 MiB file: a middle range', exact, exactPlain, 1000, 500_000],
    ['1 MiB file: whole file', exact, exactPlain, 0, MiB - 1],
  ];

  it.each(cases)('returns exactly %s and reads only the touched segments', async (_, bytes, plain, start, end) => {
    for (const chunked of [false, true]) {
      const { emitted, meter } = await decrypt(bytes, start, end, chunked);
      expectSameBytes(emitted, plain.subarray(start, end + 1));
      expect(meter.bytesRead).toBe(expectedBytesRead(bytes, start, end));
    }
  });

  it('reads nothing beyond the header until the stream is consumed', async () => {
    const { read, meter } = meteredReader(object);
    const stream = await decryptRange(read, dek, { cipherLength: object.length, start: 5, endInclusive: 6 });
    expect(meter.bytesRead).toBe(h);
    await drain(stream);
    expect(meter.calls).toEqual([
      [0, 7],
      [8, h - 1],
      [at(0), at(1) - 1],
    ]);
  });

  it('does not notice tampering in segments it does not read, and fails on those it does', async () => {
    const tampered = flipBit(object, at(2) + 10);
    const untouched = await decrypt(tampered, 0, MiB - 1);
    expectSameBytes(untouched.emitted, plaintext.subarray(0, MiB));
    await expectCode(decrypt(tampered, 2 * MiB, 2 * MiB), 'auth_failed');
  });

  it('checks the last flag against cipherLength', async () => {
    // Metadata claims the object ends after segment 2: segment 2 does not open as the last one.
    const shortened = object.subarray(0, at(3));
    await expectCode(decrypt(shortened, 2 * MiB, 2 * MiB + 5), 'truncated');
    // Metadata claims one more segment than the object has: segment 0 opens only as the last.
    const extended = join(exact, exact.subarray(at(0)));
    await expectCode(decrypt(extended, 0, 5), 'trailing_data');
  });

  it('rejects ranges outside the plaintext before reading segments', async () => {
    const empty = await encryptBytes(dek, new Uint8Array(0));
    const bad: [Uint8Array, number, number][] = [
      [object, -1, 5],
      [object, 10, 9],
      [object, 0, plaintext.length],
      [object, 0.5, 2],
      [empty, 0, 0],
    ];
    for (const [bytes, start, endInclusive] of bad) {
      const { read, meter } = meteredReader(bytes);
      await expect(decryptRange(read, dek, { cipherLength: bytes.length, start, endInclusive })).rejects.toThrow(
        RangeError,
      );
      expect(meter.bytesRead).toBe(h);
    }
  });

  it('fails with typed errors on a bad object, an impossible length or a short read', async () => {
    await expectCode(decrypt(flipBit(object, 0), 0, 0), 'bad_magic');
    await expectCode(decrypt(object.subarray(0, at(1) + 5), 0, 0), 'bad_length');
    const { read } = meteredReader(object);
    const shortRead: CiphertextReader = async (start, end) => read(start, Math.min(end, at(0) + 100));
    const stream = await decryptRange(shortRead, dek, { cipherLength: object.length, start: 0, endInclusive: 0 });
    await expect(drain(stream)).resolves.toMatchObject({ error: { code: 'truncated' } });
  });

  it('readHeader parses the header with two small reads', async () => {
    const { read, meter } = meteredReader(object);
    const parsed = await readHeader(read, object.length);
    expect(parsed.headerTotalLength).toBe(h);
    expect(parsed.header.segmentSize).toBe(MiB);
    expect(meter.calls).toHaveLength(2);
  });
});
