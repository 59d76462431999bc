import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  TAG_LENGTH,
  type Xre1ErrorCode,
  ciphertextLength,
  createDecryptStream,
  createEncryptStream,
  decryptBytes,
  encryptBytes,
  generateDek,
  parseHeader,
  plaintextLength,
  segmentCipherOffset,
} from '../src/crypto/index.ts';
import {
  MiB,
  randomBytes,
  VECTORS_PATH,
  VECTOR_NONCE_PREFIX,
  type VectorFile,
  fromHex,
  sha256Hex,
  toHex,
  vectorDek,
  vectorPlaintext,
} from './xre1.fixtures.ts';
import {
  concat,
  drain,
  expectCode,
  expectSameBytes,
  flipBit,
  join,
  prng,
  randomChunks,
  streamOf,
} from './xre1.helpers.ts';

const vectorFile: VectorFile = JSON.parse(readFileSync(VECTORS_PATH, 'utf8'));

describe('XRE1 test vectors', () => {
  it('are the documented set', () => {
    expect(vectorFile.vectors.map((v) => v.plaintextLength)).toEqual([0, 1, MiB, MiB + 1, 3.5 * MiB, 150]);
    expect(JSON.stringify(vectorFile).length).toBeLessThan(100_000);
  });

  for (const vector of vectorFile.vectors) {
    it(`${vector.name}: our ciphertext matches and decrypts back`, async () => {
      const dek = await vectorDek();
      const plaintext = vectorPlaintext(vector.plaintextLength);
      expect(sha256Hex(plaintext)).toBe(vector.plaintextSha256);

      const ciphertext = await encryptBytes(dek, plaintext, {
        noncePrefix: VECTOR_NONCE_PREFIX,
        segmentSize: vector.segmentSize,
      });
      expect(ciphertext.length).toBe(vector.ciphertextLength);
      expect(sha256Hex(ciphertext)).toBe(vector.ciphertextSha256);
      if (vector.ciphertextHex) expect(toHex(ciphertext)).toBe(vector.ciphertextHex);

      const { headerTotalLength } = parseHeader(ciphertext);
      expect(ciphertextLength(vector.plaintextLength, headerTotalLength, vector.segmentSize)).toBe(
        vector.ciphertextLength,
      );
      expect(plaintextLength(vector.ciphertextLength, headerTotalLength, vector.segmentSize)).toBe(
        vector.plaintextLength,
      );
      expect(sha256Hex(await decryptBytes(dek, ciphertext))).toBe(vector.plaintextSha256);
    });
  }

  it('the stored hex decrypts, segment by segment, with raw WebCrypto and the spec nonce', async () => {
    // Independent of our stream code: parse the bytes by hand as the format describes.
    const vector = vectorFile.vectors.find((v) => v.segmentSize === 64);
    if (!vector?.ciphertextHex) throw new Error('vector missing');
    const bytes = fromHex(vector.ciphertextHex);
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe('XRE1');
    const h = new DataView(bytes.buffer).getUint32(4);
    const json = bytes.slice(8, 8 + h);
    expect(new TextDecoder().decode(json)).toBe('{"v":1,"seg":64,"np":"oKGio6Slpg=="}');
    const key = await crypto.subtle.importKey('raw', fromHex(vectorFile.key), 'AES-GCM', false, ['decrypt']);
    const parts: Uint8Array[] = [];
    const sizes = [64 + 16, 64 + 16, 22 + 16];
    let offset = 8 + h;
    for (const [i, size] of sizes.entries()) {
      const iv = new Uint8Array(12);
      iv.set(fromHex(vectorFile.noncePrefix));
      new DataView(iv.buffer).setUint32(7, i);
      iv[11] = i === sizes.length - 1 ? 1 : 0;
      const segment = bytes.slice(offset, offset + size);
      parts.push(
        new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: json }, key, segment)),
      );
      offset += size;
    }
    expect(offset).toBe(bytes.length);
    expect(concat(parts)).toEqual(vectorPlaintext(150));
  });
});

describe('XRE1 streaming round trip', () => {
  const cases = [
    { segmentSize: 64, lengths: [0, 1, 63, 64, 65, 127, 128, 129, 1000] },
    { segmentSize: MiB, lengths: [0, 5, MiB - 1, MiB, MiB + 1, 2 * MiB, 2.5 * MiB + 3] },
  ];
  for (const { segmentSize, lengths } of cases) {
    it(`survives random chunk boundaries (segment size ${segmentSize})`, async () => {
      const random = prng(segmentSize);
      const dek = await generateDek();
      for (const length of lengths) {
        const plaintext = randomBytes(length);
        const maxChunk = segmentSize === 64 ? 100 : 300_000;
        const encrypted = await drain(
          streamOf(randomChunks(plaintext, random, maxChunk)).pipeThrough(createEncryptStream(dek, { segmentSize })),
        );
        expect(encrypted.error).toBeUndefined();
        const ciphertext = encrypted.emitted;
        const { headerTotalLength } = parseHeader(ciphertext);
        expect(ciphertext.length).toBe(ciphertextLength(length, headerTotalLength, segmentSize));

        const { emitted, error } = await drain(
          streamOf(randomChunks(ciphertext, random, maxChunk)).pipeThrough(createDecryptStream(dek)),
        );
        expect(error).toBeUndefined();
        expectSameBytes(emitted, plaintext);
      }
    });
  }

  it('uses a fresh random nonce prefix per object', async () => {
    const dek = await generateDek();
    const a = parseHeader(await encryptBytes(dek, new Uint8Array(1)));
    const b = parseHeader(await encryptBytes(dek, new Uint8Array(1)));
    expect(a.header.noncePrefix).not.toEqual(b.header.noncePrefix);
    expect(a.header.segmentSize).toBe(MiB);
  });
});

describe('XRE1 size arithmetic', () => {
  it('ciphertextLength and plaintextLength are inverses', () => {
    for (const seg of [16, 64, MiB]) {
      for (const n of [0, 1, seg - 1, seg, seg + 1, 3 * seg, 3 * seg + 7]) {
        const c = ciphertextLength(n, 49, seg);
        expect(plaintextLength(c, 49, seg)).toBe(n);
      }
    }
    expect(ciphertextLength(0, 49, MiB)).toBe(49 + 16);
    expect(ciphertextLength(MiB, 49, MiB)).toBe(49 + MiB + 16);
    expect(ciphertextLength(MiB + 1, 49, MiB)).toBe(49 + MiB + 1 + 32);
  });

  it('segmentCipherOffset steps by seg + 16', () => {
    expect(segmentCipherOffset(0, 49, MiB)).toBe(49);
    expect(segmentCipherOffset(3, 49, MiB)).toBe(49 + 3 * (MiB + TAG_LENGTH));
  });

  it('rejects sizes no object can have', () => {
    const impossible = [
      48, // shorter than the header
      49 + 15, // no room for a tag
      49 + MiB + 16 + 16, // an empty segment after a full one
      49 + MiB + 16 + 5, // a partial tag after a full segment
    ];
    for (const c of impossible) {
      expect(() => plaintextLength(c, 49, MiB)).toThrow(expect.objectContaining({ code: 'bad_length' }));
    }
    expect(() => ciphertextLength(-1, 49, MiB)).toThrow(RangeError);
  });
});

describe('XRE1 header', () => {
  const enc = (text: string) => {
    const json = new TextEncoder().encode(text);
    const preamble = new Uint8Array(8);
    preamble.set(new TextEncoder().encode('XRE1'));
    new DataView(preamble.buffer).setUint32(4, json.length);
    return join(preamble, json);
  };

  it('parses the canonical header and reports its total length', () => {
    const { header, headerTotalLength } = parseHeader(enc('{"v":1,"seg":1048576,"np":"oKGio6Slpg=="}'));
    expect(headerTotalLength).toBe(8 + 41);
    expect(header.segmentSize).toBe(MiB);
    expect(header.noncePrefix).toEqual(VECTOR_NONCE_PREFIX);
  });

  it.each([
    ['another version', '{"v":2,"seg":1048576,"np":"oKGio6Slpg=="}'],
    ['non-canonical spacing', '{"v":1, "seg":1048576,"np":"oKGio6Slpg=="}'],
    ['reordered keys', '{"seg":1048576,"v":1,"np":"oKGio6Slpg=="}'],
    ['an extra key', '{"v":1,"seg":1048576,"np":"oKGio6Slpg==","x":1}'],
    ['a short nonce prefix', '{"v":1,"seg":1048576,"np":"oKGio6Sl"}'],
    ['a segment size too large', '{"v":1,"seg":1073741824,"np":"oKGio6Slpg=="}'],
    ['a fractional segment size', '{"v":1,"seg":1.5,"np":"oKGio6Slpg=="}'],
    ['not JSON', '{"v":1,'],
  ])('rejects %s', (_, text) => {
    expect(() => parseHeader(enc(text))).toThrow(expect.objectContaining({ code: 'bad_header' }));
  });

  it('rejects a wrong magic and a huge header length', () => {
    const bytes = enc('{"v":1,"seg":1048576,"np":"oKGio6Slpg=="}');
    const badMagic = bytes.slice();
    badMagic[0] = 0x59;
    expect(() => parseHeader(badMagic)).toThrow(expect.objectContaining({ code: 'bad_magic' }));
    const huge = bytes.slice();
    new DataView(huge.buffer).setUint32(4, 1 << 30);
    expect(() => parseHeader(huge)).toThrow(expect.objectContaining({ code: 'bad_header' }));
    expect(() => parseHeader(bytes.subarray(0, 20))).toThrow(expect.objectContaining({ code: 'truncated' }));
  });
});

describe('XRE1 tampering', async () => {
  const dek = await generateDek();
  // 2.5 segments: full, full, half (last). And 2 full segments, the second flagged last.
  const plaintext = randomBytes(2.5 * MiB);
  // A fixed nonce prefix (base64 "oKGio6Slpg==") so the header bit-flip case below is deterministic.
  const object = await encryptBytes(dek, plaintext, { noncePrefix: VECTOR_NONCE_PREFIX });
  const exact = await encryptBytes(dek, plaintext.subarray(0, 2 * MiB));
  const single = await encryptBytes(dek, plaintext.subarray(0, 10));
  const { headerTotalLength: h } = parseHeader(object);
  const full = MiB + TAG_LENGTH;
  const at = (i: number) => segmentCipherOffset(i, h, MiB);
  const npOffset = new TextDecoder().decode(object.subarray(0, h)).indexOf('"np":"') + 6;

  const cases: [string, () => Uint8Array, Xre1ErrorCode][] = [
    ['empty input', () => new Uint8Array(0), 'truncated'],
    ['a flipped magic byte', () => flipBit(object, 1), 'bad_magic'],
    ['a flipped header length byte', () => flipBit(object, 5), 'bad_header'],
    ['a flipped header JSON byte (structure)', () => flipBit(object, 8), 'bad_header'],
    // 'o' -> 'n' keeps the header canonical, so only authentication can catch it.
    ['a flipped header JSON byte (nonce prefix)', () => flipBit(object, npOffset), 'auth_failed'],
    ['a flipped byte in segment 1', () => flipBit(object, at(1) + 1000), 'auth_failed'],
    ['a flipped byte in the tag of segment 0', () => flipBit(object, at(1) - 1), 'auth_failed'],
    ['a flipped byte in the last tag', () => flipBit(object, object.length - 1), 'auth_failed'],
    [
      'segments 0 and 1 swapped',
      () =>
        join(
          object.subarray(0, at(0)),
          object.subarray(at(1), at(2)),
          object.subarray(at(0), at(1)),
          object.subarray(at(2)),
        ),
      'auth_failed',
    ],
    [
      'a segment spliced in from another object under the same key',
      () => join(object.subarray(0, at(1)), exact.subarray(at(1), at(2)), object.subarray(at(2))),
      'auth_failed',
    ],
    ['the last segment dropped (segment 1 becomes the end)', () => object.subarray(0, at(2)), 'truncated'],
    ['the only segment dropped', () => single.subarray(0, h), 'truncated'],
    ['a cut inside the last tag', () => object.subarray(0, at(2) + 10), 'truncated'],
    ['a cut inside a segment', () => object.subarray(0, at(1) + 1000), 'auth_failed'],
    ['a segment appended after the last', () => join(exact, exact.subarray(at(0), at(1))), 'trailing_data'],
    ['junk appended after a full last segment', () => join(exact, new Uint8Array(5)), 'trailing_data'],
    // The final segment's boundary shifts, so its tag cannot verify; named as an auth failure.
    ['junk appended after a short last segment', () => join(object, new Uint8Array(5)), 'auth_failed'],
  ];

  it('the untampered objects decrypt', async () => {
    expectSameBytes(await decryptBytes(dek, object), plaintext);
    expect(exact.length).toBe(h + 2 * full);
  });

  it.each(cases)('fails on %s', async (_, tamper, code) => {
    await expectCode(decryptBytes(dek, tamper()), code);
  });

  it('fails under a different key', async () => {
    await expectCode(decryptBytes(await generateDek(), object), 'auth_failed');
  });

  it('never emits the plaintext of a segment that fails authentication', async () => {
    const three = await encryptBytes(dek, plaintext.subarray(0, 3 * MiB));
    const tampered = flipBit(three, at(2) + 5);
    const { emitted, error } = await drain(
      streamOf(randomChunks(tampered, prng(7), 200_000)).pipeThrough(createDecryptStream(dek)),
    );
    expect(error).toMatchObject({ code: 'auth_failed' });
    expectSameBytes(emitted, plaintext.subarray(0, 2 * MiB));
  });

  it('errors the stream (does not end it quietly) on truncation', async () => {
    const { emitted, error } = await drain(streamOf([object.subarray(0, at(2))]).pipeThrough(createDecryptStream(dek)));
    expect(error).toMatchObject({ code: 'truncated' });
    expectSameBytes(emitted, plaintext.subarray(0, MiB)); // segment 1 is withheld: it is not the end
  });
});
