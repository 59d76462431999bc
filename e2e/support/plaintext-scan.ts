/**
 * Finds whether any run of `RUN` bytes of an original file appears in other bytes. Any run of
 * 64 bytes covers one whole 32-byte block that starts at a multiple of 32 in the original, so
 * it suffices to look for those blocks: a rolling hash over every 32-byte window of the
 * haystack, confirmed byte by byte on a hash hit.
 */
export const RUN = 64;
const BLOCK = RUN / 2;
const BASE = 257;

/** BASE^(BLOCK-1) mod 2^32, to drop the byte leaving the window. */
const DROP = (() => {
  let p = 1;
  for (let i = 0; i < BLOCK - 1; i++) p = Math.imul(p, BASE);
  return p;
})();

function blockHash(bytes: Uint8Array, start: number): number {
  let h = 0;
  for (let i = 0; i < BLOCK; i++) h = (Math.imul(h, BASE) + (bytes[start + i] ?? 0)) | 0;
  return h;
}

export class PlaintextIndex {
  readonly #blocks = new Map<number, { file: number; offset: number }[]>();
  readonly #files: Uint8Array[] = [];

  add(original: Uint8Array): void {
    const file = this.#files.push(original) - 1;
    for (let offset = 0; offset + BLOCK <= original.length; offset += BLOCK) {
      const h = blockHash(original, offset);
      const list = this.#blocks.get(h);
      if (list) list.push({ file, offset });
      else this.#blocks.set(h, [{ file, offset }]);
    }
  }

  /** The first place in `haystack` where a block of an original appears, or null. */
  find(haystack: Uint8Array): { at: number; file: number; offset: number } | null {
    if (haystack.length < BLOCK) return null;
    let h = blockHash(haystack, 0);
    for (let at = 0; ; at++) {
      const hits = this.#blocks.get(h);
      if (hits) {
        for (const hit of hits) {
          const original = this.#files[hit.file];
          if (original && equalAt(haystack, at, original, hit.offset)) return { at, ...hit };
        }
      }
      if (at + BLOCK >= haystack.length) return null;
      const out = haystack[at] ?? 0;
      const incoming = haystack[at + BLOCK] ?? 0;
      h = (Math.imul(h - Math.imul(out, DROP), BASE) + incoming) | 0;
    }
  }
}

function equalAt(a: Uint8Array, aStart: number, b: Uint8Array, bStart: number): boolean {
  for (let i = 0; i < BLOCK; i++) if (a[aStart + i] !== b[bStart + i]) return false;
  return true;
}
