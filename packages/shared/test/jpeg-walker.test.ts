import { describe, expect, it } from 'vitest';
import { ascii, concat, entropy, EOI, jpeg, segment, sof, SOI, sos, walk } from './walker.fixtures.ts';

const JPEG = 'image/jpeg';
const refusal = (bytes: Uint8Array) => walk(JPEG, bytes);
const tables = segment(0xdb, concat([Uint8Array.of(0), new Uint8Array(64).fill(1)]));

describe('JpegWalker', () => {
  it('passes a JPEG walked from SOI through SOF, SOS and its data to EOI, however it is split', () => {
    expect(refusal(jpeg())).toBeNull();
    // Progressive: several scans, tables between them, a comment.
    const progressive = concat([
      SOI,
      tables,
      sof(0xc2, 640, 480, 3),
      sos(3),
      entropy(300, 1, false),
      segment(0xc4, new Uint8Array(20)),
      sos(1),
      entropy(200, 2, false),
      segment(0xfe, ascii('a comment with \xff\xd9 inside')),
      sos(1),
      entropy(100, 3, false),
      EOI,
    ]);
    expect(refusal(progressive)).toBeNull();
    // JPEG-LS: inside its scans 0xFF is followed by a byte under 0x80.
    const ls = concat([SOI, sof(0xf7, 16, 16, 1, 12), sos(1), Uint8Array.of(1, 0xff, 0x7f, 2, 0xff, 0x10), EOI]);
    expect(refusal(ls)).toBeNull();
    // Fill bytes (0xFF) may run before any marker.
    const fill = new Uint8Array(300).fill(0xff);
    expect(refusal(concat([SOI, fill, tables, fill, sof(0xc0, 8, 8), sos(), entropy(50, 4), fill, EOI]))).toBeNull();
  });

  it('passes further complete images after EOI (a Multi-Picture file: a gain map, a second view)', () => {
    expect(refusal(concat([jpeg(64, 48, 1), jpeg(32, 24, 2)]))).toBeNull();
  });

  it('refuses a JPEG followed by SVG, HTML or padding', () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>';
    expect(refusal(concat([jpeg(), ascii(svg)]))).toEqual({
      kind: 'invalid',
      problem: 'has other data hidden after the end of the image, so it cannot be accepted',
      technical: expect.stringMatching(/^bytes after EOI, from byte \d+$/),
      message: 'The JPEG file has other data hidden after the end of the image, so it cannot be accepted.',
    });
    expect(refusal(concat([jpeg(), ascii('<html></html>')]))?.problem).toMatch(/other data hidden/);
    expect(refusal(concat([jpeg(), new Uint8Array(16)]))?.problem).toMatch(/other data hidden/);
    expect(refusal(concat([jpeg(), Uint8Array.of(0xff)]))?.problem).toMatch(/other data hidden/);
    expect(refusal(concat([jpeg(), Uint8Array.of(0xff, 0xd9)]))?.problem).toMatch(/other data hidden/);
  });

  it('refuses a JPEG without EOI, or cut anywhere', () => {
    const file = jpeg();
    expect(refusal(file.subarray(0, file.length - 2))).toMatchObject({
      kind: 'invalid',
      problem: 'is cut off before its end; copy or export it again',
      technical: 'the file ends without an EOI marker (image 1)',
    });
    for (const end of [2, 3, 10, 30, 200, file.length - 1]) {
      expect(refusal(file.subarray(0, end))?.problem).toBe('is cut off before its end; copy or export it again');
    }
  });

  it('refuses a frame of impossible size, or no image at all', () => {
    for (const frame of [sof(0xc0, 0, 10), sof(0xc0, 10, 0), sof(0xc0, 10, 10, 0), sof(0xc0, 10, 10, 1, 9)]) {
      const file = concat([SOI, tables, frame, sos(), entropy(50, 1), EOI]);
      expect(refusal(file)?.problem).toBe('describes an image of impossible size or format');
    }
    expect(refusal(concat([SOI, tables, sof(0xc0, 8, 8), EOI]))?.problem).toBe('holds no image');
    expect(refusal(concat([SOI, EOI]))?.problem).toBe('holds no image');
  });

  it('refuses markers out of place or unknown, and segments that do not fit', () => {
    const cases: [Uint8Array, RegExp][] = [
      [concat([SOI, tables, sos(), entropy(10, 1), EOI]), /a scan before the frame header/],
      [concat([SOI, sof(0xc0, 8, 8), sof(0xc0, 8, 8), sos(), EOI]), /a second frame header/],
      [concat([SOI, Uint8Array.of(0xff, 0x02, 0, 2), EOI]), /marker 0xFF2 at byte 2/],
      [concat([SOI, ascii('<svg>'), EOI]), /byte 2 is not a marker/],
      [concat([SOI, Uint8Array.of(0xff, 0xe0, 0, 1), EOI]), /has length 1/],
      [concat([SOI, segment(0xdd, Uint8Array.of(0)), EOI]), /has length 3/],
      [concat([SOI, segment(0xc0, Uint8Array.of(8, 0, 8, 0, 8, 2, 1, 0x11, 0)), EOI]), /does not fit its 2 components/],
      [
        concat([SOI, sof(0xc0, 8, 8), segment(0xda, Uint8Array.of(2, 1, 0, 0, 63, 0)), EOI]),
        /does not fit its 2 components/,
      ],
      [concat([SOI, SOI]), /marker 0xFFD8/],
    ];
    for (const [file, technical] of cases) expect(refusal(file)?.technical).toMatch(technical);
  });
});
