/**
 * CRC-32 (ISO 3309, as PNG chunks and zlib use it), slicing by 8: about 0.8 GB/s in V8, in the
 * browser as on the server (node:zlib's crc32 is Node 20.15+ and Node only).
 */
const TABLES = (() => {
  const t = new Int32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    for (let s = 1; s < 8; s++) {
      const prev = t[(s - 1) * 256 + n]!;
      t[s * 256 + n] = (prev >>> 8) ^ t[prev & 0xff]!;
    }
  }
  return t;
})();

/** A CRC-32 implementation: the CRC of `bytes[start, end)` continuing from `previous`. */
export type Crc32 = (bytes: Uint8Array, previous: number, start: number, end: number) => number;

/** The CRC-32 of `bytes[start, end)`, continuing from `previous` (the CRC of the bytes before). */
export function crc32(bytes: Uint8Array, previous = 0, start = 0, end = bytes.length): number {
  const t = TABLES;
  let crc = ~previous;
  let i = start;
  for (const last = end - 8; i <= last; i += 8) {
    const a = crc ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    crc =
      t[1792 + (a & 0xff)]! ^
      t[1536 + ((a >>> 8) & 0xff)]! ^
      t[1280 + ((a >>> 16) & 0xff)]! ^
      t[1024 + (a >>> 24)]! ^
      t[768 + bytes[i + 4]!]! ^
      t[512 + bytes[i + 5]!]! ^
      t[256 + bytes[i + 6]!]! ^
      t[bytes[i + 7]!]!;
  }
  for (; i < end; i++) crc = t[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}
