import { describe, expect, it } from 'vitest';
import { FileStructureError, JpegWalker } from '../src/index.ts';
import { MAX_JPEG_SEGMENTS } from '../src/media/jpeg-walker.ts';
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

describe('JpegWalker: work bounded per segment, entropy-coded data scanned fast', () => {
  const EMPTY_COMMENT = Uint8Array.of(0xff, 0xfe, 0, 2);
  /** SOI, `comments` empty COM segments, SOF, SOS and data, EOI: `comments` + 4 markers. */
  const emptyComments = (comments: number) =>
    concat([
      SOI,
      Buffer.alloc(comments * EMPTY_COMMENT.length, EMPTY_COMMENT),
      sof(0xc0, 8, 8),
      sos(),
      entropy(50, 1),
      EOI,
    ]);

  it(`passes ${MAX_JPEG_SEGMENTS} markers, refuses one more`, () => {
    expect(refusal(emptyComments(MAX_JPEG_SEGMENTS - 4))).toBeNull();
    const over = emptyComments(MAX_JPEG_SEGMENTS - 3);
    expect(refusal(over)).toMatchObject({
      problem: 'is made of far more parts than any X-ray image has, so it cannot be accepted',
      technical: `over ${MAX_JPEG_SEGMENTS} markers, at byte ${over.length - 2}`,
    });
  });

  it('counts the markers of every image in a Multi-Picture file', () => {
    const image = jpeg(8, 8, 1); // SOI, APP0, APP1, DQT, SOF, DHT, DRI, SOS, EOI: 9 markers
    const images = Math.floor(MAX_JPEG_SEGMENTS / 9) + 1;
    const file = Buffer.alloc(images * image.length, image);
    // Marker 65537 is the 8th (SOS) of the last image; SOS, its data, fill and EOI end each image.
    const sosAt = (images - 1) * image.length + image.length - (sos().length + entropy(600, 1).length + 4);
    expect(MAX_JPEG_SEGMENTS + 1 - 9 * (images - 1)).toBe(8);
    // Too big to walk split every way: whole, and in 64 KiB pieces.
    for (const size of [file.length, 65536]) {
      const walker = new JpegWalker();
      let refusal: unknown;
      try {
        for (let at = 0; at < file.length; at += size) walker.update(file.subarray(at, at + size));
        walker.end();
      } catch (err) {
        refusal = err;
      }
      expect(refusal).toBeInstanceOf(FileStructureError);
      expect((refusal as FileStructureError).technical).toBe(`over ${MAX_JPEG_SEGMENTS} markers, at byte ${sosAt}`);
    }
  });

  it('entropy-coded data of dense stuffing, restart markers and fill, however it is split', () => {
    const dense = concat([
      new Uint8Array(4000).fill(0).map((_, i) => (i % 2 ? 0x00 : 0xff)), // FF00 FF00 …
      Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 0xff, 0x00), // 0xFF past the look-ahead
      new Uint8Array(40).fill(0x11),
      Uint8Array.of(0xff, 0xd3, 0xff, 0xff, 0xff, 0x00, 0xff, 0xd7),
      new Uint8Array(300).fill(0).map((_, i) => (i % 3 === 0 ? 0xff : i % 3 === 1 ? 0x00 : 0x42)), // FF00 xx …
    ]);
    const file = concat([SOI, sof(0xc0, 8, 8), sos(), dense, Uint8Array.of(0xff, 0xff), EOI]);
    expect(refusal(file)).toBeNull();
    // A marker that is not stuffing or a restart ends the data: here an unknown one, at its 0xFF.
    const broken = concat([SOI, sof(0xc0, 8, 8), sos(), dense, Uint8Array.of(0xff, 0x02), EOI]);
    expect(refusal(broken)?.technical).toBe(`marker 0xFF2 at byte ${broken.length - 4}`);
  });

  it('refuses a PDF header in a comment within the first 1024 bytes', () => {
    const pdf = concat([SOI, segment(0xfe, ascii('%PDF-1.4 %')), sof(0xc0, 8, 8), sos(), entropy(50, 1), EOI]);
    expect(refusal(pdf)).toMatchObject({
      problem: 'carries a PDF document in its first bytes, so it cannot be accepted',
      technical: 'a PDF header ("%PDF-") at byte 6, within the first 1024 bytes',
    });
    const later = segment(0xfe, concat([new Uint8Array(1100).fill(0x20), ascii('%PDF-1.4')]));
    expect(refusal(concat([SOI, later, sof(0xc0, 8, 8), sos(), entropy(50, 1), EOI]))).toBeNull();
  });
});
