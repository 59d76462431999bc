import dicomParser from 'dicom-parser';
import { describe, expect, it } from 'vitest';
import { judgePreamble } from '../src/index.ts';
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
    const parsed = dicomParser.parseDicom(file);
    expect(parsed.uint16('x00280010')).toBe(6);
    expect(parsed.elements.x7fe00010?.length).toBe(60);
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
    expect(judgePreamble(concat([ascii('MM\0*'), new Uint8Array(124)]))).toBe('ok');
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
    for (const other of ['%PDF-1.7\n', 'PK\u0003\u0004', 'GIF89a', '#!/bin/sh\n', 'MZ']) {
      const outcome = refusal(dicomFile({ preamble: ascii(other), dataset: dicomImage(EXPLICIT_LE, IMAGE) }));
      expect(outcome).toMatchObject({
        kind: 'invalid',
        technical: 'the preamble is neither all zero nor a TIFF header',
      });
    }
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
