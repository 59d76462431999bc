import { describe, expect, it } from 'vitest';
import { DicomWalker, FileStructureError, judgePreamble, loadDicomReader } from '../src/index.ts';
import { MAX_DICOM_PARTS } from '../src/media/dicom-walker.ts';
import {
  ascii,
  concat,
  dicomFile,
  dicomImage,
  element,
  encapsulated,
  EXPLICIT_BE,
  EXPLICIT_LE,
  IMPLICIT_LE,
  imageAttributes,
  ITEM,
  ITEM_DELIMITATION,
  itemTag,
  nativePixels,
  PIXEL_DATA,
  randomBytes,
  sequence,
  SEQUENCE_DELIMITATION,
  text,
  TS,
  uid,
  UNDEFINED,
  walk,
  type Encoding,
  type Image,
} from './walker.fixtures.ts';

const { readDicomHeader } = await loadDicomReader();

const DICOM = 'application/dicom';
const IMAGE: Image = { rows: 6, columns: 5, bitsAllocated: 16 };
const REFERENCED_STUDY = 0x00081110;
const REFERENCED_SOP_CLASS = 0x00081150;
const REFERENCED_SOP_INSTANCE = 0x00081155;
const ICON_IMAGE = 0x00880200;

const reference = (enc: Encoding, n: number) => [
  element(enc, REFERENCED_SOP_CLASS, 'UI', uid('1.2.840.10008.3.1.2.3.1')),
  element(enc, REFERENCED_SOP_INSTANCE, 'UI', uid(`1.2.3.${n}`)),
];

/** A classic TIFF header: byte order "II", 42, the offset of the first image file directory. */
function tiffHeader(directory: number): Uint8Array {
  const out = new Uint8Array(128);
  out.set(ascii('II*\0'));
  new DataView(out.buffer).setUint32(4, directory, true);
  return out;
}

/** A BigTIFF header: "II", 43, offsets of 8 bytes, 0, the 8-byte offset of the first directory. */
function bigTiffHeader(directory: number): Uint8Array {
  const out = new Uint8Array(128);
  out.set(ascii('II+\0\x08\0\0\0'));
  new DataView(out.buffer).setBigUint64(8, BigInt(directory), true);
  return out;
}

/**
 * A dual-format preamble with its directory at byte 8, as a TIFF writer lays it out: 6 entries
 * (bytes 10–81), the next-directory offset 0 (82–85), then BitsPerSample's three values at
 * byte 86 and ImageDescription's ASCII at byte 92; StripOffsets point into the DICOM pixel data.
 */
function tiffPreamble(): Uint8Array {
  const out = tiffHeader(8);
  const view = new DataView(out.buffer);
  const entries: [tag: number, type: number, count: number, value: number][] = [
    [256, 3, 1, 5], // ImageWidth SHORT
    [257, 3, 1, 6], // ImageLength SHORT
    [258, 3, 3, 86], // BitsPerSample SHORT×3: 6 bytes, at 86
    [270, 2, 12, 92], // ImageDescription ASCII×12, at 92
    [273, 4, 1, 400], // StripOffsets LONG: in the pixel data
    [279, 4, 1, 60], // StripByteCounts LONG
  ];
  view.setUint16(8, entries.length, true);
  entries.forEach(([tag, type, count, value], i) => {
    const at = 10 + 12 * i;
    view.setUint16(at, tag, true);
    view.setUint16(at + 2, type, true);
    view.setUint32(at + 4, count, true);
    if (type === 3 && count === 1) view.setUint16(at + 8, value, true);
    else view.setUint32(at + 8, value, true);
  });
  view.setUint32(82, 0, true);
  for (const [i, bits] of [16, 16, 16].entries()) view.setUint16(86 + 2 * i, bits, true);
  out.set(ascii('chest X-ray\0'), 92);
  return out;
}

function withBytes(bytes: Uint8Array, at: number, value: string): Uint8Array {
  const out = bytes.slice();
  out.set(ascii(value), at);
  return out;
}

/** What a broken file is refused with, split any way. */
const refusal = (bytes: Uint8Array) => walk(DICOM, bytes);

describe('DicomWalker: files that are what they say', () => {
  const encodings: [string, Encoding, string][] = [
    ['explicit VR little endian', EXPLICIT_LE, TS.explicitLittle],
    ['implicit VR little endian', IMPLICIT_LE, TS.implicitLittle],
    ['explicit VR big endian', EXPLICIT_BE, TS.explicitBig],
  ];

  it.each(encodings)('%s, with sequences of defined and undefined length', (_name, enc, transferSyntax) => {
    const file = dicomFile({
      transferSyntax,
      dataset: dicomImage(enc, IMAGE, {
        before: [
          sequence(enc, REFERENCED_STUDY, [reference(enc, 1), reference(enc, 2)]),
          sequence(enc, 0x00081111, [reference(enc, 3)], { undefinedLength: true, undefinedItems: true }),
          sequence(enc, 0x00081115, [[sequence(enc, 0x0008114a, [reference(enc, 4)], { undefinedLength: true })]], {
            undefinedLength: true,
          }),
          sequence(enc, 0x00081120, []),
        ],
      }),
    });
    expect(refusal(file)).toBeNull();
    // The same file as a maintained parser reads it: the fixtures are real DICOM.
    const parsed = readDicomHeader(file);
    expect(parsed.dataset['00280010']?.Value).toEqual([6]);
    expect(parsed.pixelData?.length).toBe(60);
    expect(parsed.dataset['00081115']?.Value).toHaveLength(1);
    expect(parsed.dataset['00081111']?.Value).toHaveLength(1);
  });

  it('multi-frame, colour, 8-bit odd-length (padded), 1-bit, and trailing padding after the pixels', () => {
    const images: Image[] = [
      { rows: 4, columns: 3, bitsAllocated: 16, frames: 5 },
      { rows: 3, columns: 3, bitsAllocated: 8, samplesPerPixel: 3 },
      { rows: 3, columns: 5, bitsAllocated: 8 },
      { rows: 7, columns: 9, bitsAllocated: 1 },
    ];
    for (const image of images) {
      const padding = element(EXPLICIT_LE, 0xfffcfffc, 'OB', new Uint8Array(10));
      expect(refusal(dicomFile({ dataset: dicomImage(EXPLICIT_LE, image, { after: [padding] }) }))).toBeNull();
    }
  });

  it('an icon image sequence with its own small image inside', () => {
    const icon: Image = { rows: 2, columns: 2, bitsAllocated: 8 };
    const file = dicomFile({
      dataset: [
        ...dicomImage(EXPLICIT_LE, IMAGE).slice(0, -1),
        // The top-level pixels come last; the icon sits before them in tag order.
        sequence(EXPLICIT_LE, ICON_IMAGE, [[imageAttributes(EXPLICIT_LE, icon), nativePixels(EXPLICIT_LE, icon)]]),
        nativePixels(EXPLICIT_LE, IMAGE),
      ],
    });
    expect(refusal(file)).toBeNull();
  });

  it('an undefined-length UN element, whose items are implicit VR inside an explicit data set', () => {
    const un = sequence(EXPLICIT_LE, 0x00091010, [reference(IMPLICIT_LE, 5)], { undefinedLength: true, vr: 'UN' });
    const file = dicomFile({
      dataset: [
        element(EXPLICIT_LE, 0x00090010, 'LO', text('PRIVATE')),
        un,
        imageAttributes(EXPLICIT_LE, IMAGE),
        nativePixels(EXPLICIT_LE, IMAGE),
      ],
    });
    expect(refusal(file)).toBeNull();
  });

  it('encapsulated (compressed) pixel data: an offset table and fragments, closed by a delimiter', () => {
    const fragments = [randomBytes(100, 1), randomBytes(36, 2)];
    const file = dicomFile({
      transferSyntax: TS.jpegBaseline,
      dataset: [imageAttributes(EXPLICIT_LE, { ...IMAGE, frames: 2 }), encapsulated(fragments)],
    });
    expect(refusal(file)).toBeNull();
    expect(refusal(dicomFile({ transferSyntax: TS.rle, dataset: [encapsulated([randomBytes(64, 3)])] }))).toBeNull();
  });

  it('a dual-format file whose preamble is a TIFF header (PS3.10 §7.1)', () => {
    const tiff = concat([ascii('II*\0'), Uint8Array.of(8, 0, 0, 0, 1, 0, 0xfe, 0, 4, 0, 1, 0, 0, 0, 0, 0, 0, 0)]);
    expect(refusal(dicomFile({ preamble: tiff, dataset: dicomImage(EXPLICIT_LE, IMAGE) }))).toBeNull();
    // Big-endian, its directory past the preamble (in a DICOM element, here byte 256), the rest zero.
    const outside = concat([ascii('MM\0*'), Uint8Array.of(0, 0, 1, 0)]);
    expect(judgePreamble(concat([outside, new Uint8Array(120)]))).toBe('ok');
    expect(refusal(dicomFile({ preamble: outside, dataset: dicomImage(EXPLICIT_LE, IMAGE) }))).toBeNull();
    // As PixelMed writes dual-personality files: the header alone, its directory in the trailing padding.
    const ifd = new Uint8Array(2 + 12 + 4);
    ifd.set(Uint8Array.of(1, 0, 0x00, 0x01, 4, 0, 1, 0, 0, 0, 5, 0, 0, 0)); // one entry: ImageWidth LONG 5
    const plain = dicomFile({ dataset: dicomImage(EXPLICIT_LE, IMAGE) });
    const trailing = [element(EXPLICIT_LE, 0xfffcfffc, 'OB', ifd)];
    for (const header of [tiffHeader(plain.length + 12), bigTiffHeader(plain.length + 12)]) {
      expect(judgePreamble(header)).toBe('ok');
      const file = dicomFile({ preamble: header, dataset: dicomImage(EXPLICIT_LE, IMAGE, { after: trailing }) });
      expect(refusal(file)).toBeNull();
    }
    // A fuller directory in the preamble: its values either in their entries, or in the preamble after it.
    expect(judgePreamble(tiffPreamble())).toBe('ok');
    expect(refusal(dicomFile({ preamble: tiffPreamble(), dataset: dicomImage(EXPLICIT_LE, IMAGE) }))).toBeNull();
  });
});

describe('DicomWalker: polyglots, truncated and damaged files are refused', () => {
  const valid = dicomFile({ dataset: dicomImage(EXPLICIT_LE, IMAGE) });

  it('an HTML page in the preamble', () => {
    const html = ascii('<html><script>fetch("/xrays").then(r=>r.text()).then(alert)</script></html>');
    expect(refusal(dicomFile({ preamble: html, dataset: dicomImage(EXPLICIT_LE, IMAGE) }))).toEqual({
      kind: 'invalid',
      problem: 'carries web page code (HTML, SVG or script) in its first bytes, so it cannot be accepted',
      technical: 'markup in the 128-byte preamble',
      message:
        'The DICOM file carries web page code (HTML, SVG or script) in its first bytes, so it cannot be accepted.',
    });
    for (const markup of ['  <svg onload=alert(1)>', '\n<!DOCTYPE html>', '<?xml version="1.0"?>', 'x</a>']) {
      expect(judgePreamble(concat([ascii(markup), new Uint8Array(128 - markup.length)]))).toBe('markup');
    }
    // A TIFF header does not make markup after it acceptable.
    expect(judgePreamble(concat([ascii('II*\0<svg>'), new Uint8Array(119)]))).toBe('markup');
  });

  it('any other content in the preamble: another format riding in the first bytes', () => {
    for (const other of ['PK\u0003\u0004', 'GIF89a', '#!/bin/sh\n', 'MZ']) {
      const outcome = refusal(dicomFile({ preamble: ascii(other), dataset: dicomImage(EXPLICIT_LE, IMAGE) }));
      expect(outcome).toMatchObject({
        kind: 'invalid',
        technical: 'the preamble is neither all zero nor a TIFF header',
      });
    }
    expect(refusal(dicomFile({ preamble: ascii('%PDF-1.7\n'), dataset: dicomImage(EXPLICIT_LE, IMAGE) }))).toEqual({
      kind: 'invalid',
      problem: 'carries a PDF document in its first bytes, so it cannot be accepted',
      technical: 'a PDF header ("%PDF-") at byte 0, within the first 1024 bytes',
      message: 'The DICOM file carries a PDF document in its first bytes, so it cannot be accepted.',
    });
  });

  it('a TIFF header carrying another format: a PDF, an archive, or anything but TIFF after it', () => {
    // The attack: "II*\0" then a PDF header, which PDF readers find anywhere in the first 1024 bytes.
    const pdf = concat([ascii('II*\0%PDF-1.7\n%\xe2\xe3\xcf\xd3\n')]);
    expect(judgePreamble(concat([pdf, new Uint8Array(128 - pdf.length)]))).toBe('other');
    expect(refusal(dicomFile({ preamble: pdf, dataset: dicomImage(EXPLICIT_LE, IMAGE) }))).toMatchObject({
      kind: 'invalid',
      problem: 'carries a PDF document in its first bytes, so it cannot be accepted',
      technical: 'a PDF header ("%PDF-") at byte 4, within the first 1024 bytes',
    });

    const technical = (preamble: Uint8Array) =>
      refusal(dicomFile({ preamble, dataset: dicomImage(EXPLICIT_LE, IMAGE) }))?.technical;
    // Signatures hidden in TIFF values (an ASCII value placed in the preamble) are still refused.
    const zip = tiffPreamble();
    zip.set(ascii('PK\u0003\u0004'), 100);
    expect(judgePreamble(zip)).toBe('other');
    expect(technical(zip)).toBe('a ZIP local file header at byte 100 of the preamble, after a TIFF header');

    const cases: [Uint8Array, string][] = [
      // A header whose directory offset is no place for one: none, odd, inside the header, at "DICM".
      [tiffHeader(0), 'its first directory offset 0 is not a place for one'],
      [tiffHeader(9), 'its first directory offset 9 is not a place for one'],
      [tiffHeader(4), 'its first directory offset 4 is not a place for one'],
      [tiffHeader(128), 'its first directory offset 128 is not a place for one'],
      [bigTiffHeader(16), 'its first directory offset 16 is not a place for one'],
      [bigTiffHeader(2 ** 60), `its first directory offset ${Number.MAX_SAFE_INTEGER} is not a place for one`],
      // Bytes that are not TIFF: after a header pointing past the preamble, or after its directory.
      [withBytes(tiffHeader(256), 60, 'JFIF'), 'byte 60 of the preamble is neither TIFF structure nor zero'],
      [withBytes(bigTiffHeader(256), 16, '\x01'), 'byte 16 of the preamble is neither TIFF structure nor zero'],
      [withBytes(tiffPreamble(), 120, '\x01'), 'byte 120 of the preamble is neither TIFF structure nor zero'],
      // A directory that does not fit, has no entries, a type TIFF has not, a value across the end.
      [withBytes(tiffHeader(112), 112, '\x02\0'), 'its directory at byte 112 (2 entries) does not fit in the preamble'],
      [withBytes(tiffHeader(8), 8, '\0\0'), 'its directory at byte 8 (0 entries) does not fit in the preamble'],
      [withBytes(tiffPreamble(), 12, '\x0d\0'), 'the entry at byte 10 has no TIFF field type (13)'],
      [
        withBytes(tiffPreamble(), 42, '\x7c\0\0\0'),
        'the entry at byte 34 puts 6 bytes of value at byte 124, outside the preamble',
      ],
      [withBytes(tiffPreamble(), 82, '\x60\0\0\0'), 'a second directory inside the preamble (at byte 96)'],
    ];
    for (const [preamble, expected] of cases) {
      expect(judgePreamble(preamble), expected).toBe('other');
      expect(technical(preamble)).toBe(`TIFF header in the preamble: ${expected}`);
    }
  });

  it("a TIFF header whose directory would be past the file's end", () => {
    const file = dicomFile({ preamble: tiffHeader(4096), dataset: dicomImage(EXPLICIT_LE, IMAGE) });
    expect(file.length).toBeLessThan(4096);
    expect(refusal(file)).toMatchObject({
      kind: 'invalid',
      technical: 'the TIFF header in the preamble puts its directory at byte 4096, past the end of the file',
    });
    const padding = element(EXPLICIT_LE, 0xfffcfffc, 'OB', new Uint8Array(4096));
    const longer = dicomFile({
      preamble: tiffHeader(4096),
      dataset: dicomImage(EXPLICIT_LE, IMAGE, { after: [padding] }),
    });
    expect(refusal(longer)).toBeNull();
  });

  it('a PDF header anywhere in the first 1024 bytes, not only in the preamble', () => {
    const manufacturer = (value: string) => [element(EXPLICIT_LE, 0x00080070, 'LO', text(value))];
    const early = dicomFile({ dataset: dicomImage(EXPLICIT_LE, IMAGE, { before: manufacturer('%PDF-1.4') }) });
    expect(refusal(early)).toMatchObject({
      problem: 'carries a PDF document in its first bytes, so it cannot be accepted',
      technical: expect.stringMatching(/^a PDF header \("%PDF-"\) at byte \d+, within the first 1024 bytes$/),
    });
    // Starting at byte 1023 (ending past 1024) it is refused; starting at 1024, it is only bytes.
    const at = (start: number) => {
      const file = dicomFile({ dataset: dicomImage(EXPLICIT_LE, IMAGE, { before: manufacturer('x'.repeat(1100)) }) });
      file.set(ascii('%PDF-'), start);
      return refusal(file);
    };
    expect(at(1023)?.technical).toBe('a PDF header ("%PDF-") at byte 1023, within the first 1024 bytes');
    expect(at(1024)).toBeNull();
  });

  it('pixel data cut short, wherever the file is cut', () => {
    for (const cut of [1, 2, 31, 59]) {
      expect(refusal(valid.subarray(0, valid.length - cut))).toMatchObject({
        kind: 'invalid',
        problem: 'is cut off before its end; copy or export it again',
        technical: `pixel data (7FE0,0010) has ${60 - cut} of its 60 bytes at the end of the file`,
      });
    }
  });

  it('a file cut inside an element header, or inside a value', () => {
    const pixelsAt = valid.length - 60 - 12;
    for (const end of [140, 200, pixelsAt + 5, pixelsAt + 11]) {
      expect(refusal(valid.subarray(0, end))).toMatchObject({
        kind: 'invalid',
        problem: 'is cut off before its end; copy or export it again',
      });
    }
  });

  it('pixel data whose size is not what Rows × Columns × samples × bits × frames give', () => {
    for (const length of [58, 62, 30, 0]) {
      const file = dicomFile({
        dataset: [imageAttributes(EXPLICIT_LE, IMAGE), nativePixels(EXPLICIT_LE, IMAGE, length)],
      });
      expect(refusal(file)).toMatchObject({
        kind: 'invalid',
        technical: `pixel data (7FE0,0010) has ${length} bytes; 6×5×1×2×1 needs 60`,
      });
    }
    const frames = dicomFile({
      dataset: [imageAttributes(EXPLICIT_LE, { ...IMAGE, frames: 3 }), nativePixels(EXPLICIT_LE, IMAGE)],
    });
    expect(refusal(frames)?.technical).toBe('pixel data (7FE0,0010) has 60 bytes; 6×5×1×2×3 needs 180');
  });

  it('HTML or SVG appended after the pixel data', () => {
    for (const tail of ['<html><body>hi</body></html>', '<svg xmlns="http://www.w3.org/2000/svg"/>']) {
      for (const transferSyntax of [TS.explicitLittle, TS.implicitLittle]) {
        const enc = transferSyntax === TS.implicitLittle ? IMPLICIT_LE : EXPLICIT_LE;
        const file = concat([dicomFile({ transferSyntax, dataset: dicomImage(enc, IMAGE) }), ascii(tail)]);
        expect(refusal(file)?.kind).toBe('invalid');
      }
    }
  });

  it('no pixel data, or no size for it', () => {
    expect(refusal(dicomFile({ dataset: dicomImage(EXPLICIT_LE, IMAGE).slice(0, -2) }))).toMatchObject({
      problem: 'holds no image',
    });
    expect(refusal(dicomFile({ dataset: [nativePixels(EXPLICIT_LE, IMAGE)] }))).toMatchObject({
      problem: 'does not say the size of its image',
    });
    const zeroRows = dicomFile({ dataset: dicomImage(EXPLICIT_LE, { ...IMAGE, rows: 0 }) });
    expect(refusal(zeroRows)?.problem).toBe('describes an image of impossible size or format');
    const badBits = dicomFile({ dataset: dicomImage(EXPLICIT_LE, { ...IMAGE, bitsAllocated: 12 }) });
    expect(refusal(badBits)?.problem).toBe('describes an image of impossible size or format');
  });

  it('elements out of order (an image size given after the pixels it sizes)', () => {
    const file = dicomFile({
      dataset: [
        imageAttributes(EXPLICIT_LE, IMAGE),
        nativePixels(EXPLICIT_LE, IMAGE),
        element(EXPLICIT_LE, 0x00280010, 'US', Uint8Array.of(9, 0)),
      ],
    });
    expect(refusal(file)?.technical).toMatch(/\(0028,0010\) at byte \d+ is out of order/);
  });

  it('a sequence never closed, an item running past its sequence, a stray delimiter', () => {
    const open = concat([
      element(EXPLICIT_LE, 0x00081111, 'SQ', new Uint8Array(0), UNDEFINED),
      itemTag(EXPLICIT_LE, ITEM, 0),
    ]);
    expect(refusal(dicomFile({ dataset: [open] }))?.problem).toBe('is cut off before its end; copy or export it again');

    const items = concat([itemTag(EXPLICIT_LE, ITEM, 40), ...reference(EXPLICIT_LE, 1)]);
    const lying = element(EXPLICIT_LE, 0x00081111, 'SQ', items, 20); // shorter than its item
    expect(refusal(dicomFile({ dataset: [lying, ...dicomImage(EXPLICIT_LE, IMAGE).slice(4)] }))?.technical).toMatch(
      /runs past the end of its sequence/,
    );

    const stray = dicomFile({
      dataset: [itemTag(EXPLICIT_LE, SEQUENCE_DELIMITATION, 0), ...dicomImage(EXPLICIT_LE, IMAGE)],
    });
    expect(refusal(stray)?.technical).toMatch(/unexpected item or delimiter \(FFFE,E0DD\)/);
  });

  it('sequences nested too deep (memory stays bounded)', () => {
    let nested: Uint8Array = element(EXPLICIT_LE, REFERENCED_SOP_CLASS, 'UI', uid('1.2'));
    for (let depth = 0; depth < 40; depth++) {
      nested = sequence(EXPLICIT_LE, REFERENCED_STUDY, [[nested]], { undefinedLength: true, undefinedItems: true });
    }
    expect(refusal(dicomFile({ dataset: [nested] }))?.technical).toBe('sequences nested over 64 deep');
  });

  it('encapsulated pixel data without its delimiter, without fragments, or in an uncompressed syntax', () => {
    const attributes = imageAttributes(EXPLICIT_LE, IMAGE);
    const unclosed = dicomFile({
      transferSyntax: TS.jpegBaseline,
      dataset: [attributes, encapsulated([randomBytes(10, 1)], { delimiter: false })],
    });
    expect(refusal(unclosed)?.problem).toBe('is cut off before its end; copy or export it again');
    const empty = dicomFile({ transferSyntax: TS.jpegBaseline, dataset: [attributes, encapsulated([])] });
    expect(refusal(empty)?.technical).toBe('encapsulated pixel data has 0 fragments for 1 frames');
    const tooFew = dicomFile({
      transferSyntax: TS.jpegBaseline,
      dataset: [imageAttributes(EXPLICIT_LE, { ...IMAGE, frames: 3 }), encapsulated([randomBytes(10, 1)])],
    });
    expect(refusal(tooFew)?.technical).toBe('encapsulated pixel data has 1 fragments for 3 frames');
    const native = dicomFile({ dataset: [attributes, encapsulated([randomBytes(10, 1)])] });
    expect(refusal(native)?.technical).toBe('pixel data of undefined length in an uncompressed transfer syntax');
    const undefinedFragment = dicomFile({
      transferSyntax: TS.jpegBaseline,
      dataset: [
        attributes,
        concat([
          element(EXPLICIT_LE, PIXEL_DATA, 'OB', new Uint8Array(0), UNDEFINED),
          itemTag(EXPLICIT_LE, ITEM, 0),
          itemTag(EXPLICIT_LE, ITEM, UNDEFINED),
        ]),
      ],
    });
    expect(refusal(undefinedFragment)?.technical).toMatch(/fragment at byte \d+ has no length/);
  });

  it('a value representation that is not one', () => {
    const file = dicomFile({
      dataset: [
        element(EXPLICIT_LE, 0x00080060, 'C5' as string, text('DX')),
        ...dicomImage(EXPLICIT_LE, IMAGE).slice(2),
      ],
    });
    expect(refusal(file)?.technical).toMatch(/\(0008,0060\) at byte \d+ has no valid value representation/);
  });

  it('a transfer syntax the service does not take: deflated, private, none', () => {
    const deflated = dicomFile({ transferSyntax: TS.deflated, dataset: [randomBytes(100, 9)] });
    expect(refusal(deflated)).toMatchObject({
      kind: 'unsupported',
      message:
        'The DICOM file is compressed as a whole (deflated), which the service does not accept; export it uncompressed or JPEG-compressed.',
    });
    const vendor = dicomFile({ transferSyntax: '1.2.840.113619.5.2', dataset: dicomImage(IMPLICIT_LE, IMAGE) });
    expect(refusal(vendor)).toMatchObject({ kind: 'unsupported', technical: 'transfer syntax 1.2.840.113619.5.2' });
    const meta = dicomFile({ dataset: dicomImage(EXPLICIT_LE, IMAGE) });
    // The meta group without its transfer syntax element (the last one before the data set).
    const tsElement = element(EXPLICIT_LE, 0x00020010, 'UI', uid(TS.explicitLittle));
    const at = Buffer.from(meta).indexOf(Buffer.from(tsElement));
    const noTs = concat([meta.subarray(0, at), meta.subarray(at + tsElement.length)]);
    expect(refusal(noTs)?.technical).toBe('the file meta group names no transfer syntax');
  });
});

describe('DicomWalker: work bounded per part, whatever the parts', () => {
  const SMALL: Image = { rows: 2, columns: 2, bitsAllocated: 8 };
  const EMPTY_ITEM = itemTag(EXPLICIT_LE, ITEM, 0);
  const REQUEST_ATTRIBUTES = 0x00400275;
  /** Parts besides the items: 5 meta elements, 3 image attributes, the sequence, the pixel data. */
  const OTHER_PARTS = 10;

  /** A valid file whose one undefined-length sequence holds `body` (items). */
  const withSequence = (body: Uint8Array) =>
    dicomFile({
      dataset: [
        imageAttributes(EXPLICIT_LE, SMALL),
        element(EXPLICIT_LE, REQUEST_ATTRIBUTES, 'SQ', new Uint8Array(0), UNDEFINED),
        body,
        itemTag(EXPLICIT_LE, SEQUENCE_DELIMITATION, 0),
        nativePixels(EXPLICIT_LE, SMALL),
      ],
    });
  const emptyItems = (items: number) => withSequence(Buffer.alloc(items * EMPTY_ITEM.length, EMPTY_ITEM));

  /** Walked whole and in 1 MiB pieces (the server's segments): the refusal, the same both ways, or null. */
  function walkBig(bytes: Uint8Array) {
    const outcomes = [bytes.length, 1024 * 1024].map((size) => {
      const walker = new DicomWalker();
      try {
        for (let at = 0; at < bytes.length; at += size) walker.update(bytes.subarray(at, at + size));
        walker.end();
        return null;
      } catch (err) {
        if (!(err instanceof FileStructureError)) throw err;
        return { problem: err.problem, technical: err.technical };
      }
    });
    expect(outcomes[1]).toEqual(outcomes[0]);
    return outcomes[0];
  }

  it('a million empty items walk in milliseconds (one frame reused, nothing allocated per item)', () => {
    const file = emptyItems(1024 * 1024);
    const started = performance.now();
    expect(walkBig(file)).toBeNull();
    // About 50 ms at 200 MB/s; it took 5–8 s when every item allocated its container.
    expect(performance.now() - started).toBeLessThan(3000);
  });

  it(`passes ${MAX_DICOM_PARTS} data elements and items, refuses one more`, () => {
    expect(walkBig(emptyItems(MAX_DICOM_PARTS - OTHER_PARTS))).toBeNull();
    const over = emptyItems(MAX_DICOM_PARTS - OTHER_PARTS + 1);
    // The part one too many is the last: the pixel data (12 + 4 bytes) after the items.
    const pixelDataAt = over.length - 16;
    expect(walkBig(over)).toEqual({
      problem: 'is made of far more parts than any X-ray image has, so it cannot be accepted',
      technical: `over ${MAX_DICOM_PARTS} data elements and items, at byte ${pixelDataAt}`,
    });
  });

  it('counts data elements inside items too', () => {
    const emptyElement = element(EXPLICIT_LE, 0x00080060, 'CS', new Uint8Array(0));
    const elements = MAX_DICOM_PARTS - OTHER_PARTS; // with the one item: one part too many
    const body = concat([
      itemTag(EXPLICIT_LE, ITEM, UNDEFINED),
      Buffer.alloc(elements * emptyElement.length, emptyElement),
      itemTag(EXPLICIT_LE, ITEM_DELIMITATION, 0),
    ]);
    expect(walkBig(withSequence(body))?.technical).toMatch(/^over 2097152 data elements and items, at byte \d+$/);
  });

  it("an item's image attributes do not carry over to the next item (frames are reused, not shared)", () => {
    const icon: Image = { rows: 2, columns: 2, bitsAllocated: 8 };
    const file = dicomFile({
      dataset: [
        ...dicomImage(EXPLICIT_LE, IMAGE).slice(0, -1),
        sequence(EXPLICIT_LE, ICON_IMAGE, [
          [imageAttributes(EXPLICIT_LE, icon), nativePixels(EXPLICIT_LE, icon)],
          [nativePixels(EXPLICIT_LE, icon)],
        ]),
        nativePixels(EXPLICIT_LE, IMAGE),
      ],
    });
    expect(refusal(file)).toMatchObject({ problem: 'does not say the size of its image' });
  });
});
