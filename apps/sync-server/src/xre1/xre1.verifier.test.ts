import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createDecryptStream, encryptBytes, generateDek, Xre1Error } from '@xray/shared';
import { describe, expect, it } from 'vitest';
import { Xre1Verifier } from './xre1.verifier.ts';

const MiB = 1024 * 1024;
const SEG = 64; // small segments so every boundary is cheap to reach
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function sealed(plain: Uint8Array, segmentSize = SEG) {
  const dek = await generateDek();
  const rawKey = new Uint8Array(await crypto.subtle.exportKey('raw', dek));
  return { dek, rawKey, cipher: Buffer.from(await encryptBytes(dek, plain, { segmentSize })) };
}

type Outcome = { plain: Buffer; code: string | null };

/** The verifier fed `chunks`, then ended: what it released, and the error code if it failed. */
function verify(rawKey: Uint8Array, chunks: Uint8Array[]): Outcome {
  const v = new Xre1Verifier(rawKey);
  const out: Buffer[] = [];
  try {
    for (const c of chunks) out.push(...v.push(c));
    out.push(...v.end());
    return { plain: Buffer.concat(out), code: null };
  } catch (err) {
    if (!(err instanceof Xre1Error)) throw err;
    return { plain: Buffer.concat(out), code: err.code };
  }
}

/** The reference: @xray/shared's WebCrypto decryptor. */
async function reference(dek: CryptoKey, cipher: Uint8Array): Promise<Outcome> {
  const out: Buffer[] = [];
  const reader = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(cipher);
      c.close();
    },
  })
    .pipeThrough(createDecryptStream(dek))
    .getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { plain: Buffer.concat(out), code: null };
      out.push(Buffer.from(value));
    }
  } catch (err) {
    if (!(err instanceof Xre1Error)) throw err;
    return { plain: Buffer.concat(out), code: err.code };
  }
}

/** Both implementations agree on the outcome; the verifier never releases more than the reference. */
async function expectSameAsReference(dek: CryptoKey, rawKey: Uint8Array, cipher: Uint8Array, label: string) {
  const ref = await reference(dek, cipher);
  for (const chunks of [[cipher], splitEvery(cipher, 7)]) {
    const got = verify(rawKey, chunks);
    expect(got.code, label).toBe(ref.code);
    if (ref.code === null) expect(sha(got.plain), label).toBe(sha(ref.plain));
    else expect(ref.plain.subarray(0, got.plain.length).equals(got.plain), label).toBe(true);
  }
}

const splitAt = (b: Uint8Array, ...at: number[]) =>
  [0, ...at, b.length].slice(1).map((end, i) => b.subarray([0, ...at][i], end));
const splitEvery = (b: Uint8Array, n: number) =>
  Array.from({ length: Math.ceil(b.length / n) }, (_, i) => b.subarray(i * n, (i + 1) * n));

describe('Xre1Verifier (node:crypto XRE1 decryption, fed in pieces)', () => {
  it('decrypts the committed XRE1 test vectors', () => {
    const file = JSON.parse(
      readFileSync(new URL('../../../../packages/shared/test-vectors/xre1.json', import.meta.url), 'utf8'),
    ) as { key: string; vectors: { name: string; plaintextSha256: string; ciphertextHex?: string }[] };
    const withHex = file.vectors.filter((v) => v.ciphertextHex);
    expect(withHex.length).toBeGreaterThanOrEqual(3);
    for (const v of withHex) {
      const got = verify(Buffer.from(file.key, 'hex'), [Buffer.from(v.ciphertextHex!, 'hex')]);
      expect(got.code, v.name).toBeNull();
      expect(sha(got.plain), v.name).toBe(v.plaintextSha256);
    }
  });

  it('round-trips what the shared encryptor wrote: empty, short, exact multiples of the segment, and more', async () => {
    for (const length of [0, 1, SEG - 1, SEG, SEG + 1, 2 * SEG, 3 * SEG + 17]) {
      const plain = randomBytes(length);
      const { rawKey, cipher } = await sealed(plain);
      for (const chunks of [[cipher], splitEvery(cipher, 1), splitEvery(cipher, SEG + 16), splitEvery(cipher, 13)]) {
        const got = verify(rawKey, chunks);
        expect(got.code, `${length} bytes`).toBeNull();
        expect(got.plain.equals(plain), `${length} bytes`).toBe(true);
      }
    }
    for (const length of [0, MiB, 3 * MiB, 3.5 * MiB]) {
      const plain = randomBytes(length);
      const { rawKey, cipher } = await sealed(plain, MiB);
      for (const chunks of [[cipher], splitEvery(cipher, 64 * 1024), splitEvery(cipher, 5 * MiB + 3)]) {
        expect(sha(verify(rawKey, chunks).plain)).toBe(sha(plain));
      }
    }
  });

  it('gives the same plaintext however the ciphertext is cut into two or three pieces', async () => {
    const plain = randomBytes(3 * SEG + 5);
    const { rawKey, cipher } = await sealed(plain);
    for (let a = 0; a <= cipher.length; a++) {
      expect(verify(rawKey, splitAt(cipher, a)).plain.equals(plain), `cut at ${a}`).toBe(true);
    }
    for (let a = 0; a <= cipher.length; a += 3) {
      for (let b = a; b <= cipher.length; b += 5) {
        expect(verify(rawKey, splitAt(cipher, a, b)).plain.equals(plain), `cut at ${a}, ${b}`).toBe(true);
      }
    }
  });

  it('releases a segment only once a byte after it (or the end) says whether it is the last', async () => {
    const plain = randomBytes(2 * SEG);
    const { rawKey, cipher } = await sealed(plain);
    const headerLength = cipher.length - 2 * (SEG + 16);
    const v = new Xre1Verifier(rawKey);
    expect(v.push(cipher.subarray(0, headerLength + SEG + 16))).toEqual([]);
    const first = v.push(cipher.subarray(headerLength + SEG + 16, headerLength + SEG + 17));
    expect(Buffer.concat(first).equals(plain.subarray(0, SEG))).toBe(true);
    expect(v.push(cipher.subarray(headerLength + SEG + 17))).toEqual([]);
    expect(Buffer.concat(v.end()).equals(plain.subarray(SEG))).toBe(true);
    expect(v.consumed).toBe(cipher.length);
  });

  it('keeps its own copy: the caller may reuse a buffer once push returns', async () => {
    const plain = randomBytes(5 * SEG + 9);
    const { rawKey, cipher } = await sealed(plain);
    const v = new Xre1Verifier(rawKey);
    const out: Buffer[] = [];
    const scratch = Buffer.alloc(23);
    for (let at = 0; at < cipher.length; at += scratch.length) {
      const n = cipher.copy(scratch, 0, at);
      out.push(...v.push(scratch.subarray(0, n)).map((p) => Buffer.from(p)));
      scratch.fill(0xee);
    }
    out.push(...v.end());
    expect(Buffer.concat(out).equals(plain)).toBe(true);
  });

  it('fails like the shared decryptor: every truncation, an extra byte, every flipped bit, a wrong key', async () => {
    const plain = randomBytes(3 * SEG + 10);
    const { dek, rawKey, cipher } = await sealed(plain);
    for (let n = 0; n < cipher.length; n++) {
      await expectSameAsReference(dek, rawKey, cipher.subarray(0, n), `truncated to ${n}`);
    }
    await expectSameAsReference(dek, rawKey, Buffer.concat([cipher, Buffer.from([0])]), 'one extra byte');
    await expectSameAsReference(dek, rawKey, Buffer.concat([cipher, randomBytes(SEG + 16)]), 'an extra segment');
    for (let i = 0; i < cipher.length; i += 3) {
      const flipped = Buffer.from(cipher);
      flipped[i]! ^= 0x01;
      await expectSameAsReference(dek, rawKey, flipped, `bit flipped at ${i}`);
    }
    const other = await generateDek();
    await expectSameAsReference(other, new Uint8Array(await crypto.subtle.exportKey('raw', other)), cipher, 'key');
  });

  it('names the failure with the shared error codes', async () => {
    const plain = randomBytes(3 * SEG + 10);
    const { rawKey, cipher } = await sealed(plain);
    const h = cipher.length - (3 * (SEG + 16) + 10 + 16);
    const segment = (i: number) => cipher.subarray(h + i * (SEG + 16), h + (i + 1) * (SEG + 16));
    const code = (bytes: Uint8Array) => verify(rawKey, [bytes]).code;

    // Cut at a segment boundary: the last segment there was sealed as "not last".
    expect(code(cipher.subarray(0, h + 2 * (SEG + 16)))).toBe('truncated');
    expect(code(cipher.subarray(0, h + 8))).toBe('truncated');
    expect(code(cipher.subarray(0, h - 1))).toBe('truncated');
    // A byte after a full last segment (after a short one, it just makes the last segment fail).
    const full = await sealed(randomBytes(3 * SEG));
    expect(verify(full.rawKey, [Buffer.concat([full.cipher, Buffer.from([0])])]).code).toBe('trailing_data');
    expect(code(Buffer.concat([cipher, Buffer.from([0])]))).toBe('auth_failed');
    const tampered = Buffer.from(cipher);
    tampered[h + SEG + 16 + 3]! ^= 0x80;
    expect(code(tampered)).toBe('auth_failed');
    const reordered = Buffer.concat([
      cipher.subarray(0, h),
      segment(1),
      segment(0),
      cipher.subarray(h + 2 * (SEG + 16)),
    ]);
    expect(code(reordered)).toBe('auth_failed');
    expect(verify(randomBytes(32), [cipher]).code).toBe('auth_failed');
    expect(code(Buffer.concat([Buffer.from('XRE2'), cipher.subarray(4)]))).toBe('bad_magic');
    const badLength = Buffer.from(cipher);
    badLength.writeUInt32BE(5000, 4);
    expect(code(badLength)).toBe('bad_header');
  });

  it('is spent after a failure and cannot be fed after its end', async () => {
    const { rawKey, cipher } = await sealed(randomBytes(SEG + 1));
    const tampered = Buffer.from(cipher);
    tampered[tampered.length - 1]! ^= 1;
    const v = new Xre1Verifier(rawKey);
    v.push(tampered);
    expect(() => v.end()).toThrow(Xre1Error);
    expect(() => v.push(new Uint8Array(1))).toThrow(Xre1Error);
    expect(() => v.end()).toThrow(Xre1Error);

    const ok = new Xre1Verifier(rawKey);
    ok.push(cipher);
    ok.end();
    expect(() => ok.push(new Uint8Array(1))).toThrow(/already ended/);
    expect(() => new Xre1Verifier(new Uint8Array(16))).toThrow(RangeError);
  });
});
