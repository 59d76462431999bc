import { crc32 as zlibCrc32, deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32, FileStructureError, PngWalker, type Crc32 } from '../src/index.ts';
import { MAX_PNG_CHUNKS } from '../src/media/png-walker.ts';
import { ascii, concat, ihdr, png, PNG_SIGNATURE, pngChunk, randomBytes, walk } from './walker.fixtures.ts';

const PNG = 'image/png';
const refusal = (bytes: Uint8Array) => walk(PNG, bytes);
const IEND = pngChunk('IEND', new Uint8Array(0));
const idat = (width: number, height: number) => pngChunk('IDAT', deflateSync(new Uint8Array((width + 1) * height)));

describe('crc32', () => {
  it('is the CRC-32 zlib computes, whole or continued, at any offset', () => {
    expect(crc32(ascii('123456789'))).toBe(0xcbf43926);
    const bytes = randomBytes(10_000, 3);
    expect(crc32(bytes)).toBe(zlibCrc32(bytes));
    for (const cut of [0, 1, 7, 8, 9, 4999, 10_000]) {
      expect(crc32(bytes, crc32(bytes, 0, 0, cut), cut)).toBe(zlibCrc32(bytes));
    }
    expect(crc32(bytes, 0, 13, 77)).toBe(zlibCrc32(bytes.subarray(13, 77)));
  });
});

describe('PngWalker', () => {
  it('passes a PNG walked chunk by chunk from IHDR to IEND, however it is split', () => {
    expect(refusal(png())).toBeNull();
    expect(refusal(png(300, 2, 5))).toBeNull();
    const palette = concat([
      PNG_SIGNATURE,
      ihdr(4, 4, 2, 3),
      pngChunk('PLTE', Uint8Array.of(0, 0, 0, 255, 255, 255)),
      pngChunk('tRNS', Uint8Array.of(0)),
      idat(1, 4),
      IEND,
    ]);
    expect(refusal(palette)).toBeNull();
  });

  it('refuses a PNG followed by HTML, or by anything', () => {
    expect(refusal(concat([png(), ascii('<html><script>alert(document.cookie)</script></html>')]))).toEqual({
      kind: 'invalid',
      problem: 'has other data hidden after the end of the image, so it cannot be accepted',
      technical: expect.stringMatching(/^bytes after IEND, from byte \d+$/),
      message: 'The PNG file has other data hidden after the end of the image, so it cannot be accepted.',
    });
    expect(refusal(concat([png(), Uint8Array.of(0)]))?.problem).toMatch(/other data hidden after the end/);
  });

  it('refuses a chunk whose CRC does not match', () => {
    const bad = png();
    bad[60] = (bad[60] ?? 0) ^ 0x01; // a bit inside the tEXt or IDAT data
    expect(refusal(bad)).toMatchObject({
      kind: 'invalid',
      message: 'The PNG file is damaged: one of its checksums does not match.',
    });
    const badIhdr = png();
    badIhdr[29] = (badIhdr[29] ?? 0) ^ 0xff; // IHDR's own CRC (8 + 4 + 4 + 13)
    expect(refusal(badIhdr)?.technical).toBe('the CRC of the IHDR chunk at byte 8 does not match');
  });

  it('refuses a PNG cut short, or without IEND', () => {
    const file = png();
    for (const end of [4, 8, 20, 40, file.length - 12, file.length - 1]) {
      expect(refusal(file.subarray(0, end))?.problem).toBe('is cut off before its end; copy or export it again');
    }
  });

  it('refuses an IHDR that describes no possible image', () => {
    for (const header of [
      ihdr(0, 4),
      ihdr(4, 0),
      ihdr(70_000, 4),
      ihdr(4, 4, 3, 0),
      ihdr(4, 4, 8, 5),
      ihdr(4, 4, 8, 0, 2),
    ]) {
      const file = concat([PNG_SIGNATURE, header, idat(4, 4), IEND]);
      expect(refusal(file)?.problem).toBe('describes an image of impossible size or format');
    }
  });

  it('refuses critical chunks out of order, missing, or unknown', () => {
    const text = pngChunk('tEXt', ascii('a\0b'));
    const cases: [Uint8Array[], RegExp][] = [
      [[text, ihdr(4, 4), idat(4, 4), IEND], /IHDR must be first, and once/],
      [[ihdr(4, 4), ihdr(4, 4), idat(4, 4), IEND], /IHDR must be first, and once/],
      [[ihdr(4, 4), idat(4, 2), text, idat(4, 2), IEND], /the IDAT chunks are not together/],
      [[ihdr(4, 4), IEND], /no IDAT chunk before IEND/],
      [
        [ihdr(4, 4), pngChunk('PLTE', new Uint8Array(3)), idat(4, 4), IEND],
        /PLTE chunk at byte \d+ is not allowed there/,
      ],
      [[ihdr(4, 4, 8, 3), idat(4, 4), IEND], /no PLTE before it/],
      [[ihdr(4, 4), pngChunk('ABCD', new Uint8Array(1)), idat(4, 4), IEND], /unknown critical chunk/],
      [[ihdr(4, 4), pngChunk('a<b>', new Uint8Array(1)), idat(4, 4), IEND], /a chunk type that is not letters/],
      [[ihdr(4, 4), idat(4, 4), pngChunk('IEND', new Uint8Array(1))], /IEND chunk at byte \d+ has length 1/],
    ];
    for (const [chunks, technical] of cases) {
      expect(refusal(concat([PNG_SIGNATURE, ...chunks]))?.technical).toMatch(technical);
    }
  });

  it('refuses a chunk length over 2^31 - 1 at once, without waiting for its bytes', () => {
    const huge = concat([PNG_SIGNATURE, ihdr(4, 4), Uint8Array.of(0x80, 0, 0, 0), ascii('IDAT')]);
    expect(refusal(huge)?.technical).toMatch(/has length 2147483648/);
  });
});

describe('PngWalker: work bounded per chunk', () => {
  const EMPTY_TEXT = pngChunk('tEXt', new Uint8Array(0));
  const zlib: Crc32 = (bytes, previous, start, end) => zlibCrc32(bytes.subarray(start, end), previous);

  /** IHDR, `texts` empty tEXt chunks, an IDAT, IEND: `texts` + 3 chunks. */
  const emptyTexts = (texts: number) =>
    concat([PNG_SIGNATURE, ihdr(4, 4), Buffer.alloc(texts * EMPTY_TEXT.length, EMPTY_TEXT), idat(4, 4), IEND]);

  /** Walked whole and in 1 MiB pieces, with the server's CRC (node:zlib) and the portable one. */
  function walkBig(bytes: Uint8Array, options: { crc32?: Crc32 }[] = [{}, { crc32: zlib }]) {
    const outcomes = options.flatMap((option) =>
      [bytes.length, 1024 * 1024].map((size) => {
        const walker = new PngWalker(option);
        try {
          for (let at = 0; at < bytes.length; at += size) walker.update(bytes.subarray(at, at + size));
          walker.end();
          return null;
        } catch (err) {
          if (!(err instanceof FileStructureError)) throw err;
          return { problem: err.problem, technical: err.technical };
        }
      }),
    );
    for (const outcome of outcomes) expect(outcome).toEqual(outcomes[0]);
    return outcomes[0];
  }

  it(`passes ${MAX_PNG_CHUNKS} chunks, refuses one more`, () => {
    expect(walkBig(emptyTexts(MAX_PNG_CHUNKS - 3))).toBeNull();
    const over = emptyTexts(MAX_PNG_CHUNKS - 2);
    expect(walkBig(over)).toEqual({
      problem: 'is made of far more parts than any X-ray image has, so it cannot be accepted',
      technical: `over ${MAX_PNG_CHUNKS} chunks, at byte ${over.length - 12}`,
    });
  });

  it('checks every CRC with an injected CRC-32 too, short chunks and long', () => {
    const long = pngChunk('tEXt', concat([ascii('Comment\0'), randomBytes(5000, 4)]));
    const file = concat([PNG_SIGNATURE, ihdr(4, 4), pngChunk('tEXt', ascii('a\0b')), long, idat(4, 4), IEND]);
    expect(walkBig(file)).toBeNull();
    for (const at of [33 + 8 + 2, 33 + 15 + 8 + 2000]) {
      const bad = file.slice();
      bad[at] = (bad[at] ?? 0) ^ 0x04;
      expect(walkBig(bad)?.technical).toMatch(/^the CRC of the tEXt chunk at byte \d+ does not match$/);
    }
  });

  it('refuses a PDF header in a text chunk within the first 1024 bytes', () => {
    const pdf = concat([PNG_SIGNATURE, ihdr(4, 4), pngChunk('tEXt', ascii('Comment\0%PDF-1.4')), idat(4, 4), IEND]);
    expect(refusal(pdf)).toEqual({
      kind: 'invalid',
      problem: 'carries a PDF document in its first bytes, so it cannot be accepted',
      technical: 'a PDF header ("%PDF-") at byte 49, within the first 1024 bytes',
      message: 'The PNG file carries a PDF document in its first bytes, so it cannot be accepted.',
    });
    const later = pngChunk('tEXt', concat([ascii('Comment\0'), new Uint8Array(1100).fill(0x20), ascii('%PDF-1.4')]));
    expect(refusal(concat([PNG_SIGNATURE, ihdr(4, 4), later, idat(4, 4), IEND]))).toBeNull();
  });
});
