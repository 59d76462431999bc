const BLOCK = 32;

/**
 * Where a run of `runLength` (>= 64) consecutive bytes of `original` may appear in `haystack`,
 * or -1 when none does. Used to prove that storage and IndexedDB hold only ciphertext.
 *
 * Any run of 64 bytes of the original contains a 32-byte block aligned at a multiple of 32,
 * so it is enough to look for those blocks at every position of the haystack (with a 4-byte
 * prefilter, so megabytes scan in milliseconds). Conservative: it also reports a lone
 * aligned 32-byte block, which ciphertext never contains by chance.
 */
export function findPlaintextRun(haystack: Uint8Array, original: Uint8Array, runLength = 64): number {
  if (runLength < 2 * BLOCK) throw new RangeError(`runLength must be at least ${2 * BLOCK}`);
  const blocks = new Map<number, number[]>();
  const view = new DataView(original.buffer, original.byteOffset, original.byteLength);
  for (let o = 0; o + BLOCK <= original.length; o += BLOCK) {
    const key = view.getUint32(o);
    const list = blocks.get(key);
    if (list) list.push(o);
    else blocks.set(key, [o]);
  }
  const hv = new DataView(haystack.buffer, haystack.byteOffset, haystack.byteLength);
  for (let i = 0; i + BLOCK <= haystack.length; i++) {
    const candidates = blocks.get(hv.getUint32(i));
    if (!candidates) continue;
    for (const o of candidates) {
      let same = true;
      for (let k = 4; k < BLOCK && same; k++) same = haystack[i + k] === original[o + k];
      if (same) return i;
    }
  }
  return -1;
}
