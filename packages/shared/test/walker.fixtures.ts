import { crc32 as zlibCrc32, deflateSync } from 'node:zlib';
import { expect } from 'vitest';
import { FileStructureError, formatWalkerFor, type ContentType } from '../src/index.ts';

// Small files built byte by byte for the walkers' unit tests (@xray/testkit depends on this
// package, so these tests make their own; testkit's tests walk its full-size files and dcmtk's).

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export const ascii = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));

/** Deterministic bytes and split points (mulberry32). */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytes(length: number, seed: number): Uint8Array {
  const next = random(seed);
  return Uint8Array.from({ length }, () => Math.floor(next() * 256));
}

/** The file cut into pieces: whole, byte by byte, random sizes, and (small files) every two-piece split. */
function splitsOf(bytes: Uint8Array, seed: number): Uint8Array[][] {
  const out: Uint8Array[][] = [[bytes], Array.from(bytes, (_, i) => bytes.subarray(i, i + 1))];
  const next = random(seed);
  for (let round = 0; round < 20; round++) {
    const most = 1 + Math.floor(next() * (round < 10 ? 16 : 4096));
    const pieces: Uint8Array[] = [];
    for (let i = 0; i < bytes.length;) {
      const size = 1 + Math.floor(next() * most);
      pieces.push(bytes.subarray(i, i + size));
      i += size;
    }
    out.push(pieces);
  }
  if (bytes.length <= 2048) {
    for (let cut = 1; cut < bytes.length; cut++) out.push([bytes.subarray(0, cut), bytes.subarray(cut)]);
  }
  return out;
}

export interface Outcome {
  kind: string;
  problem: string;
  technical: string;
  message: string;
}

/**
 * Walks `bytes` as `contentType` in every split of splitsOf: all must end the same way (the
 * refusal, with the same words, or none). Returns that refusal, or null when the file passes.
 */
export function walk(contentType: ContentType, bytes: Uint8Array, seed = 1): Outcome | null {
  const outcomes = splitsOf(bytes, seed).map((pieces) => {
    const walker = formatWalkerFor(contentType);
    try {
      for (const piece of pieces) walker.update(piece);
      walker.end();
      return null;
    } catch (err) {
      if (!(err instanceof FileStructureError)) throw err;
      return { kind: err.kind, problem: err.problem, technical: err.technical, message: err.message };
    }
  });
  for (const outcome of outcomes) expect(outcome).toEqual(outcomes[0]);
  return outcomes[0] ?? null;
}

// ---- DICOM -----------------------------------------------------------------------------------

export interface Encoding {
  explicit: boolean;
  littleEndian: boolean;
}
export const EXPLICIT_LE: Encoding = { explicit: true, littleEndian: true };
export const IMPLICIT_LE: Encoding = { explicit: false, littleEndian: true };
export const EXPLICIT_BE: Encoding = { explicit: true, littleEndian: false };

export const TS = {
  implicitLittle: '1.2.840.10008.1.2',
  explicitLittle: '1.2.840.10008.1.2.1',
  explicitBig: '1.2.840.10008.1.2.2',
  deflated: '1.2.840.10008.1.2.1.99',
  jpegBaseline: '1.2.840.10008.1.2.4.50',
  rle: '1.2.840.10008.1.2.5',
} as const;

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
export const UNDEFINED = 0xffffffff;

function uint(value: number, bytes: 2 | 4, littleEndian: boolean): Uint8Array {
  const out = new Uint8Array(bytes);
  const view = new DataView(out.buffer);
  if (bytes === 2) view.setUint16(0, value, littleEndian);
  else view.setUint32(0, value, littleEndian);
  return out;
}

function tagBytes(tag: number, littleEndian: boolean): Uint8Array {
  return concat([uint(tag >>> 16, 2, littleEndian), uint(tag & 0xffff, 2, littleEndian)]);
}

/** A data element; `length` overrides the value's length (undefined length, or a lie). */
export function element(enc: Encoding, tag: number, vr: string, value: Uint8Array, length = value.length): Uint8Array {
  const le = enc.littleEndian;
  if (!enc.explicit) return concat([tagBytes(tag, le), uint(length, 4, le), value]);
  if (LONG_VRS.has(vr)) return concat([tagBytes(tag, le), ascii(vr), new Uint8Array(2), uint(length, 4, le), value]);
  return concat([tagBytes(tag, le), ascii(vr), uint(length, 2, le), value]);
}

export const text = (value: string, pad = ' '): Uint8Array => ascii(value.length % 2 ? value + pad : value);
export const uid = (value: string): Uint8Array => text(value, '\0');
export const us = (enc: Encoding, value: number): Uint8Array => uint(value, 2, enc.littleEndian);

/** Item, delimiters: a tag and a 4-byte length in every encoding. */
export function itemTag(enc: Encoding, tag: number, length: number): Uint8Array {
  return concat([tagBytes(tag, enc.littleEndian), uint(length, 4, enc.littleEndian)]);
}
export const ITEM = 0xfffee000;
export const ITEM_DELIMITATION = 0xfffee00d;
export const SEQUENCE_DELIMITATION = 0xfffee0dd;

export interface SequenceOptions {
  undefinedLength?: boolean;
  undefinedItems?: boolean;
  /** The VR in explicit encodings: SQ, or UN (whose undefined-length content is implicit VR LE). */
  vr?: 'SQ' | 'UN';
}

/** A sequence of items, each a list of encoded elements. */
export function sequence(enc: Encoding, tag: number, items: Uint8Array[][], opts: SequenceOptions = {}): Uint8Array {
  const inner = opts.vr === 'UN' ? IMPLICIT_LE : enc;
  const body = concat(
    items.map((elements) => {
      const content = concat(elements);
      return opts.undefinedItems
        ? concat([itemTag(inner, ITEM, UNDEFINED), content, itemTag(inner, ITEM_DELIMITATION, 0)])
        : concat([itemTag(inner, ITEM, content.length), content]);
    }),
  );
  if (opts.undefinedLength) {
    return concat([
      element(enc, tag, opts.vr ?? 'SQ', new Uint8Array(0), UNDEFINED),
      body,
      itemTag(inner, SEQUENCE_DELIMITATION, 0),
    ]);
  }
  return element(enc, tag, opts.vr ?? 'SQ', body);
}

export const PIXEL_DATA = 0x7fe00010;

/** Encapsulated pixel data: an empty offset table, then the fragments, then the delimiter. */
export function encapsulated(fragments: Uint8Array[], opts: { offsetTable?: boolean; delimiter?: boolean } = {}) {
  return concat([
    element(EXPLICIT_LE, PIXEL_DATA, 'OB', new Uint8Array(0), UNDEFINED),
    ...(opts.offsetTable === false ? [] : [itemTag(EXPLICIT_LE, ITEM, 0)]),
    ...fragments.map((f) => concat([itemTag(EXPLICIT_LE, ITEM, f.length), f])),
    ...(opts.delimiter === false ? [] : [itemTag(EXPLICIT_LE, SEQUENCE_DELIMITATION, 0)]),
  ]);
}

export interface Image {
  rows: number;
  columns: number;
  bitsAllocated: number;
  samplesPerPixel?: number;
  frames?: number;
}

/** Image Pixel module attributes, in tag order. */
export function imageAttributes(enc: Encoding, image: Image): Uint8Array {
  return concat([
    ...(image.samplesPerPixel === undefined ? [] : [element(enc, 0x00280002, 'US', us(enc, image.samplesPerPixel))]),
    ...(image.frames === undefined ? [] : [element(enc, 0x00280008, 'IS', text(String(image.frames)))]),
    element(enc, 0x00280010, 'US', us(enc, image.rows)),
    element(enc, 0x00280011, 'US', us(enc, image.columns)),
    element(enc, 0x00280100, 'US', us(enc, image.bitsAllocated)),
  ]);
}

export const pixelBytes = (image: Image): number =>
  Math.ceil(
    (image.rows * image.columns * (image.samplesPerPixel ?? 1) * (image.frames ?? 1) * image.bitsAllocated) / 8,
  );

/** Native pixel data of the size `image` needs (padded to even), or `length` bytes. */
export function nativePixels(enc: Encoding, image: Image, length = pixelBytes(image)): Uint8Array {
  const padded = length + (length % 2);
  return element(enc, PIXEL_DATA, image.bitsAllocated > 8 ? 'OW' : 'OB', randomBytes(padded, length));
}

export interface DicomFile {
  transferSyntax?: string;
  preamble?: Uint8Array;
  /** Encoded elements of the data set, in tag order. */
  dataset: Uint8Array[];
}

/** A DICOM Part 10 file: preamble, "DICM", the meta group (explicit VR LE), the data set. */
export function dicomFile({ transferSyntax = TS.explicitLittle, preamble, dataset }: DicomFile): Uint8Array {
  const meta = concat([
    element(EXPLICIT_LE, 0x00020001, 'OB', Uint8Array.of(0, 1)),
    element(EXPLICIT_LE, 0x00020002, 'UI', uid('1.2.840.10008.5.1.4.1.1.1.1')),
    element(EXPLICIT_LE, 0x00020003, 'UI', uid('1.2.3.4.5.6')),
    element(EXPLICIT_LE, 0x00020010, 'UI', uid(transferSyntax)),
  ]);
  const preambleBytes = new Uint8Array(128);
  if (preamble) preambleBytes.set(preamble);
  return concat([
    preambleBytes,
    ascii('DICM'),
    element(EXPLICIT_LE, 0x00020000, 'UL', uint(meta.length, 4, true)),
    meta,
    ...dataset,
  ]);
}

/** The usual patient and study elements, then an image. */
export function dicomImage(enc: Encoding, image: Image, extra: { before?: Uint8Array[]; after?: Uint8Array[] } = {}) {
  return [
    element(enc, 0x00080016, 'UI', uid('1.2.840.10008.5.1.4.1.1.1.1')),
    element(enc, 0x00080060, 'CS', text('DX')),
    ...(extra.before ?? []),
    element(enc, 0x00100010, 'PN', text('DOE^JANE')),
    element(enc, 0x00100020, 'LO', text('PAT-42')),
    imageAttributes(enc, image),
    nativePixels(enc, image),
    ...(extra.after ?? []),
  ];
}

// ---- PNG -------------------------------------------------------------------------------------

export const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

/** A chunk with its CRC as zlib computes it (an oracle independent of the walker's CRC). */
export function pngChunk(type: string, data: Uint8Array, crc?: number): Uint8Array {
  const typeAndData = concat([ascii(type), data]);
  return concat([uint(data.length, 4, false), typeAndData, uint(crc ?? zlibCrc32(typeAndData), 4, false)]);
}

export function ihdr(width: number, height: number, depth = 8, colour = 0, interlace = 0): Uint8Array {
  return pngChunk(
    'IHDR',
    concat([uint(width, 4, false), uint(height, 4, false), Uint8Array.of(depth, colour, 0, 0, interlace)]),
  );
}

/** A valid 8-bit grayscale PNG: IHDR, a tEXt, the image in `idats` IDAT chunks, IEND. */
export function png(width = 16, height = 8, idats = 2): Uint8Array {
  const raw = new Uint8Array((width + 1) * height);
  raw.set(randomBytes(raw.length, width * height));
  for (let y = 0; y < height; y++) raw[y * (width + 1)] = 0;
  const data = deflateSync(raw);
  const step = Math.ceil(data.length / idats);
  const parts = Array.from({ length: idats }, (_, i) => pngChunk('IDAT', data.subarray(i * step, (i + 1) * step)));
  return concat([
    PNG_SIGNATURE,
    ihdr(width, height),
    pngChunk('tEXt', ascii('Comment\0made for a test')),
    ...parts,
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}

// ---- JPEG ------------------------------------------------------------------------------------

export const segment = (code: number, body: Uint8Array): Uint8Array =>
  concat([Uint8Array.of(0xff, code), uint(body.length + 2, 2, false), body]);

export function sof(code: number, width: number, height: number, components = 1, precision = 8): Uint8Array {
  const parts = [Uint8Array.of(precision), uint(height, 2, false), uint(width, 2, false), Uint8Array.of(components)];
  for (let c = 1; c <= components; c++) parts.push(Uint8Array.of(c, 0x11, 0));
  return segment(code, concat(parts));
}

export function sos(components = 1): Uint8Array {
  const parts = [Uint8Array.of(components)];
  for (let c = 1; c <= components; c++) parts.push(Uint8Array.of(c, 0x00));
  parts.push(Uint8Array.of(0, 63, 0));
  return segment(0xda, concat(parts));
}

/** Entropy-coded bytes: random, every 0xFF stuffed with 0x00, a restart marker now and then. */
export function entropy(length: number, seed: number, restarts = true): Uint8Array {
  const next = random(seed);
  const out: number[] = [];
  let rst = 0;
  while (out.length < length) {
    const byte = Math.floor(next() * 256);
    out.push(byte);
    if (byte === 0xff) out.push(0x00);
    if (restarts && next() < 0.01) out.push(0xff, 0xd0 + (rst++ % 8));
  }
  return Uint8Array.from(out);
}

export const SOI = Uint8Array.of(0xff, 0xd8);
export const EOI = Uint8Array.of(0xff, 0xd9);

/**
 * A structurally valid baseline JPEG (its entropy data is not a real picture): JFIF, an APP1
 * whose bytes include 0xFFD9, DQT, SOF0, DHT, DRI, SOS and data, then EOI.
 */
export function jpeg(width = 64, height = 48, seed = 1): Uint8Array {
  return concat([
    SOI,
    segment(0xe0, concat([ascii('JFIF\0'), Uint8Array.of(1, 1, 0, 0, 1, 0, 1, 0, 0)])),
    segment(0xe1, concat([ascii('Exif\0\0'), Uint8Array.of(0xff, 0xd9, 0xff, 0xd8, 0xff)])),
    segment(0xdb, concat([Uint8Array.of(0), randomBytes(64, seed)])),
    sof(0xc0, width, height),
    segment(0xc4, concat([Uint8Array.of(0), new Uint8Array(16).fill(1), randomBytes(16, seed + 1)])),
    segment(0xdd, uint(8, 2, false)),
    sos(),
    entropy(600, seed),
    Uint8Array.of(0xff, 0xff), // fill bytes before the marker
    EOI,
  ]);
}
