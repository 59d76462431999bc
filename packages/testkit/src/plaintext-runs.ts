const BLOCK = 32;
/** Size of findPlaintextRun's prefilter (4 MiB): a few percent of random prefixes pass it for a 20 MB original. */
const PREFILTER_BITS = 1 << 25;
/** A 4-byte prefix's bit in the prefilter (Fibonacci hashing: the top bits of prefix × 2^32/φ). */
const prefilterBit = (key: number): number => Math.imul(key, 0x9e3779b1) >>> (32 - 25);

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
  return plaintextRunFinder(original, runLength)(haystack);
}

/**
 * findPlaintextRun for one `original` in many haystacks: its index (a second for 18 MB) is made
 * once. The original must not change while the finder is used.
 */
export function plaintextRunFinder(original: Uint8Array, runLength = 64): (haystack: Uint8Array) => number {
  if (runLength < 2 * BLOCK) throw new RangeError(`runLength must be at least ${2 * BLOCK}`);
  // Each block's offset by its first 4 bytes (the first in `first`, any more in `more`: an array
  // per block made indexing an 18 MB original take a second). A bit per hashed prefix in front of
  // them: a map lookup at every byte of a multi-MB haystack took seconds; the bit rules out
  // almost every position, and the maps decide the rest.
  const first = new Map<number, number>();
  const more = new Map<number, number[]>();
  const seen = new Uint32Array(PREFILTER_BITS / 32);
  const view = new DataView(original.buffer, original.byteOffset, original.byteLength);
  for (let o = 0; o + BLOCK <= original.length; o += BLOCK) {
    const key = view.getUint32(o);
    const bit = prefilterBit(key);
    seen[bit >>> 5]! |= 1 << (bit & 31);
    if (!first.has(key)) first.set(key, o);
    else {
      const list = more.get(key);
      if (list) list.push(o);
      else more.set(key, [o]);
    }
  }
  return (haystack) => {
    const sameBlock = (i: number, o: number): boolean => {
      for (let k = 4; k < BLOCK; k++) if (haystack[i + k] !== original[o + k]) return false;
      return true;
    };
    const hv = new DataView(haystack.buffer, haystack.byteOffset, haystack.byteLength);
    for (let i = 0; i + BLOCK <= haystack.length; i++) {
      const key = hv.getUint32(i);
      const bit = prefilterBit(key);
      if ((seen[bit >>> 5]! & (1 << (bit & 31))) === 0) continue;
      const o = first.get(key);
      if (o === undefined) continue;
      if (sameBlock(i, o)) return i;
      for (const other of more.get(key) ?? []) if (sameBlock(i, other)) return i;
    }
    return -1;
  };
}
