import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { decryptBytes, encryptBytes, generateDek } from '@xray/shared';
import { describe, expect, it } from 'vitest';
import { encryptNode } from './xre1.sealer.ts';

const SEG = 64; // small segments so every boundary is cheap to reach
const noncePrefix = new Uint8Array([1, 2, 3, 4, 5, 6, 7]);

/** What encryptNode writes for `plain`, fed in chunks of `chunk` bytes. */
async function sealed(dek: CryptoKey, plain: Buffer, chunk: number, segmentSize = SEG): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (let at = 0; at < plain.length; at += chunk) chunks.push(plain.subarray(at, at + chunk));
  const out: Buffer[] = [];
  for await (const c of encryptNode(Readable.from(chunks), dek, { segmentSize, noncePrefix })) out.push(c as Buffer);
  return Buffer.concat(out);
}

describe('encryptNode (node:crypto XRE1 sealer)', () => {
  it('writes byte for byte what the shared WebCrypto encryptor writes, at every segment boundary and chunking', async () => {
    const dek = await generateDek();
    for (const size of [0, 1, SEG - 1, SEG, SEG + 1, 2 * SEG, 3 * SEG + 5, 10 * SEG]) {
      const plain = randomBytes(size);
      const reference = Buffer.from(await encryptBytes(dek, plain, { segmentSize: SEG, noncePrefix }));
      for (const chunk of [1, 7, SEG, SEG + 1, 3 * SEG, 1 << 20]) {
        expect(await sealed(dek, plain, chunk), `${size} bytes in chunks of ${chunk}`).toEqual(reference);
      }
    }
  });

  it('round-trips a large file through the shared decryptor with the default segment size and a random nonce', async () => {
    const dek = await generateDek();
    const plain = randomBytes(2 * 1024 * 1024 + 17);
    const chunks: Buffer[] = [];
    for (let at = 0; at < plain.length; at += 65536) chunks.push(plain.subarray(at, at + 65536));
    const out: Buffer[] = [];
    for await (const c of encryptNode(Readable.from(chunks), dek)) out.push(c as Buffer);
    const opened = Buffer.from(await decryptBytes(dek, Buffer.concat(out)));
    // Compared as bytes (a deep equality of 2 MiB takes seconds).
    expect(opened.length).toBe(plain.length);
    expect(opened.equals(plain)).toBe(true);
  });

  it('fails with the plaintext stream’s error, never ending as if complete', async () => {
    const dek = await generateDek();
    const failing = new Readable({
      read() {
        this.push(randomBytes(100));
        this.destroy(new Error('client gone'));
      },
    });
    const read = async () => {
      for await (const _ of encryptNode(failing, dek, { segmentSize: SEG })) void _;
    };
    await expect(read()).rejects.toThrow('client gone');
  });
});
