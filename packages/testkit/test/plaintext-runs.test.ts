import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { findPlaintextRun, makeDicom, plaintextRunFinder } from '../src/index.ts';

/** `run` between `before` and `after` random bytes. */
const planted = (run: Uint8Array, before: number, after = 100) =>
  Buffer.concat([randomBytes(before), run, randomBytes(after)]);

describe('findPlaintextRun (what proves storage holds only ciphertext)', () => {
  // Megabytes of haystack against megabytes of original: the prefilter must never skip a real run.
  const original = Buffer.from(makeDicom({ rows: 1024, columns: 1024, seed: 7 }));

  it('finds a 64-byte run of the original at any offset of either, in a haystack of megabytes', () => {
    for (const [from, at] of [
      [0, 0],
      [1, 3],
      [1_000_003, 2_000_001],
      [original.length - 64, 77],
    ] as const) {
      const haystack = planted(original.subarray(from, from + 64), at, 1_000_000);
      // The byte before the run is not the original's byte before it (nor the DICOM preamble's 0):
      // a random one that is (1 in 256) makes the original's run start a byte earlier, found there.
      if (at > 0) haystack[at - 1] = (original[from - 1] ?? 0) ^ 0xff;
      const found = findPlaintextRun(haystack, original);
      // The run holds an aligned 32-byte block of the original at most 31 bytes in.
      expect(found, `run from ${from} at ${at}`).toBeGreaterThanOrEqual(at);
      expect(found, `run from ${from} at ${at}`).toBeLessThanOrEqual(at + 32);
    }
  });

  it('a finder made once answers for every haystack as findPlaintextRun does', () => {
    const find = plaintextRunFinder(original);
    const haystacks = [
      planted(original.subarray(5_000, 5_064), 11),
      randomBytes(100_000),
      planted(original.subarray(0, 64), 0),
    ];
    expect(haystacks.map(find)).toEqual(haystacks.map((h) => findPlaintextRun(h, original)));
    expect(haystacks.map(find).map((at) => at >= 0)).toEqual([true, false, true]);
  });

  it('finds a block whose first 4 bytes many other blocks share', () => {
    const zeros = Buffer.alloc(64 * 1024);
    zeros.fill(7, 40_000 + 4, 40_000 + 32); // an aligned block: 4 zero bytes, then sevens
    expect(findPlaintextRun(planted(zeros.subarray(40_000, 40_064), 9), zeros)).toBe(9);
  });

  it('finds nothing in random bytes, or in the original with every block changed', () => {
    expect(findPlaintextRun(randomBytes(2 * 1024 * 1024), original)).toBe(-1);
    const changed = Buffer.from(original);
    for (let o = 31; o < changed.length; o += 32) changed[o]! ^= 0xff;
    expect(findPlaintextRun(changed, original)).toBe(-1);
  });
});
