import { DEFAULT_SEGMENT_SIZE, decryptBytes, generateDek } from '@xray/shared';
import { sha256Hex } from '@xray/testkit';
import { describe, expect, it } from 'vitest';
import { hashAndEncrypt } from './encrypt-file.ts';

/** Bytes that differ everywhere (a repeated pattern would hide a misplaced segment). */
function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65_536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65_536)));
  return out;
}

describe('hashAndEncrypt', () => {
  // Read whole (native digest) under the threshold, streamed (incremental SHA-256) over it: the
  // same file gives the same digest and a ciphertext that decrypts to it either way. Sizes around
  // the XRE1 segment boundaries (empty last segment, one byte over) and one of several segments.
  const sizes = [1, DEFAULT_SEGMENT_SIZE, DEFAULT_SEGMENT_SIZE + 1, 3 * DEFAULT_SEGMENT_SIZE + 12_345];
  // Read whole and yielding between segments (sealing ahead of Save) is the same work, spread out.
  for (const [path, threshold, yieldBetweenSegments] of [
    ['read whole', Number.MAX_SAFE_INTEGER, false],
    ['read whole, yielding between segments', Number.MAX_SAFE_INTEGER, true],
    ['streamed', 0, false],
  ] as const) {
    it.each(sizes)(`${path}: %i bytes hash and decrypt back to the file`, async (size) => {
      const bytes = randomBytes(size);
      const dek = await generateDek();
      const out = await hashAndEncrypt(new Blob([bytes]), dek, { wholeFileMaxBytes: threshold, yieldBetweenSegments });
      expect(out.sha256).toBe(sha256Hex(bytes));
      expect(out.plaintextSize).toBe(size);
      const plaintext = await decryptBytes(dek, new Uint8Array(await out.ciphertext.arrayBuffer()));
      expect(Buffer.from(plaintext).equals(Buffer.from(bytes))).toBe(true);
    });
  }

  it('gives the same digest either way, and a ciphertext of the same length', async () => {
    const bytes = randomBytes(2 * DEFAULT_SEGMENT_SIZE + 7);
    const dek = await generateDek();
    const whole = await hashAndEncrypt(new Blob([bytes]), dek, { wholeFileMaxBytes: Number.MAX_SAFE_INTEGER });
    const streamed = await hashAndEncrypt(new Blob([bytes]), dek, { wholeFileMaxBytes: 0 });
    expect(whole.sha256).toBe(streamed.sha256);
    expect(whole.ciphertext.size).toBe(streamed.ciphertext.size);
  });
});
