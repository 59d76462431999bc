import { hex4, MAX_IMAGE_SIDE, PROBLEMS, StepWalker } from './format-walker.ts';

/**
 * Walks a DICOM Part 10 file (PS3.10 §7, PS3.5 §7): the preamble, the file meta group, then every
 * element of the data set to its end, into sequences and items (defined or undefined length),
 * in the transfer syntax the meta group names. Pixel data must have the size the image's
 * attributes give for native (uncompressed) syntaxes, and be well-formed fragments closed by a
 * sequence delimiter for encapsulated (compressed) ones. Element values are counted over; only
 * the few it needs (transfer syntax, image size) are read.
 *
 * The preamble (128 bytes an application may use) must be all zero or, as PS3.10 allows for
 * dual-format files, begin with a TIFF header, and in either case hold no markup: anything else
 * there is another format's header riding in the first bytes every sniffer reads (an HTML page,
 * a script, a PDF) — a polyglot, refused.
 */

const PREAMBLE = 128;
const UNDEFINED = 0xffffffff;
const ITEM = 0xfffee000;
const ITEM_DELIMITATION = 0xfffee00d;
const SEQUENCE_DELIMITATION = 0xfffee0dd;
const PIXEL_DATA = 0x7fe00010;
const TRANSFER_SYNTAX_UID = 0x00020010;
const SAMPLES_PER_PIXEL = 0x00280002;
const NUMBER_OF_FRAMES = 0x00280008;
const ROWS = 0x00280010;
const COLUMNS = 0x00280011;
const BITS_ALLOCATED = 0x00280100;
/** Sequences nested deeper than this are refused (memory stays bounded). */
const MAX_DEPTH = 64;
/** Longest value read into memory: a UID (64 bytes). */
const MAX_READ_VALUE = 64;

const vrCode = (vr: string): number => (vr.charCodeAt(0) << 8) | vr.charCodeAt(1);
const VRS = new Set(
  'AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV'
    .split(' ')
    .map(vrCode),
);
/** VRs with a 2-byte reserved field and a 4-byte length in explicit VR (PS3.5 Table 7.1-1). */
const LONG_VRS = new Set('OB OD OF OL OV OW SQ SV UC UN UR UT UV'.split(' ').map(vrCode));
const SQ = vrCode('SQ');
const UN = vrCode('UN');
const OB = vrCode('OB');
const OW = vrCode('OW');

const IMPLICIT_LITTLE = '1.2.840.10008.1.2';
const EXPLICIT_LITTLE = '1.2.840.10008.1.2.1';
const EXPLICIT_BIG = '1.2.840.10008.1.2.2';
const DEFLATED = '1.2.840.10008.1.2.1.99';

interface Encoding {
  explicit: boolean;
  littleEndian: boolean;
  encapsulated: boolean;
}

/** How a transfer syntax encodes the data set; a string says why it is not accepted. */
function encodingOf(uid: string): Encoding | string {
  if (uid === IMPLICIT_LITTLE) return { explicit: false, littleEndian: true, encapsulated: false };
  if (uid === EXPLICIT_LITTLE) return { explicit: true, littleEndian: true, encapsulated: false };
  if (uid === EXPLICIT_BIG) return { explicit: true, littleEndian: false, encapsulated: false };
  if (uid === DEFLATED) return 'is compressed as a whole (deflated), which the service does not accept';
  // JPEG, JPEG-LS, JPEG 2000, HTJ2K, JPEG XL, MPEG (…1.2.4.*), RLE (…1.2.5), deflated frames (…1.2.8.*):
  // explicit VR little endian with encapsulated pixel data (PS3.5 §10, Annex A.4).
  if (/^1\.2\.840\.10008\.1\.2\.(4\.\d+|5|8\.\d+)$/.test(uid)) {
    return { explicit: true, littleEndian: true, encapsulated: true };
  }
  return 'uses an encoding (transfer syntax) the service does not know';
}

interface ImageAttributes {
  rows?: number;
  columns?: number;
  samplesPerPixel?: number;
  bitsAllocated?: number;
  frames?: number;
}

type ContainerKind = 'dataset' | 'sequence' | 'item' | 'fragments';

interface Container {
  kind: ContainerKind;
  /** Offset where it ends; Infinity when closed by a delimiter instead (undefined length). */
  end: number;
  /** The nearest end of it or of an enclosing container: nothing inside may cross it. */
  limit: number;
  explicit: boolean;
  littleEndian: boolean;
  /** Of a data set or item: the attributes its own pixel data is checked against. */
  image: ImageAttributes;
  /** The last tag of the top-level data set (elements must ascend); unused below it. */
  lastTag: number;
  /** Of encapsulated pixel data: items seen (the offset table, then fragments). */
  items: number;
}

type State = 'preamble' | 'header' | 'long-length' | 'value';

const CONTAINER_NAMES: Readonly<Record<ContainerKind, string>> = {
  dataset: 'data set',
  sequence: 'sequence',
  item: 'item',
  fragments: 'encapsulated pixel data',
};

const TOP: Omit<Container, 'image'> = {
  kind: 'dataset',
  end: Infinity,
  limit: Infinity,
  explicit: true,
  littleEndian: true,
  lastTag: -1,
  items: 0,
};

export class DicomWalker extends StepWalker {
  #state: State = 'preamble';
  /** The file meta group is read (always explicit VR little endian) until the first other group. */
  #inMeta = true;
  #encapsulated = false;
  #transferSyntax: string | undefined;
  readonly #stack: Container[] = [{ ...TOP, image: {} }];
  #pixelData = false;
  /** Counting over the top-level pixel data (to say so when the file stops inside it). */
  #inPixels: { start: number; length: number } | undefined;
  /** The element whose 4-byte length or value comes next. */
  #tag = 0;
  #vr = 0;
  #headerStart = 0;

  constructor() {
    super('DICOM', PREAMBLE + 4, PREAMBLE + 4);
  }

  protected step(b: Uint8Array, at: number): void {
    switch (this.#state) {
      case 'preamble':
        return this.#preamble(b, at);
      case 'header':
        return this.#header(b, at);
      case 'long-length':
        return this.#element(this.#tag, this.#vr, this.#u32(b, at));
      case 'value':
        return this.#value(b, at);
    }
  }

  protected finish(): void {
    if (this.skip > 0 && this.#inPixels) {
      const got = this.pos - this.#inPixels.start;
      this.fail(
        PROBLEMS.truncated,
        `pixel data (7FE0,0010) has ${got} of its ${this.#inPixels.length} bytes at the end of the file`,
      );
    }
    if (!this.atBoundary || this.#state !== 'header') {
      const at = this.#state === 'header' && this.skip === 0 ? this.pos : this.#headerStart;
      this.fail(PROBLEMS.truncated, `the file ends inside the element that starts at byte ${at}`);
    }
    this.#closeEnded(this.pos);
    if (this.#stack.length > 1) {
      const open = this.#top();
      this.fail(PROBLEMS.truncated, `the file ends inside an open ${CONTAINER_NAMES[open.kind]} (no delimiter)`);
    }
    if (!this.#pixelData) this.fail('holds no image', 'no Pixel Data (7FE0,0010) in the data set');
  }

  #preamble(b: Uint8Array, at: number): void {
    if (b[at + 128] !== 0x44 || b[at + 129] !== 0x49 || b[at + 130] !== 0x43 || b[at + 131] !== 0x4d) {
      this.fail(PROBLEMS.damaged, 'no "DICM" after the 128-byte preamble');
    }
    const verdict = judgePreamble(b.subarray(at, at + PREAMBLE));
    if (verdict === 'markup') {
      this.fail(
        'carries web page code (HTML, SVG or script) in its first bytes, so it cannot be accepted',
        'markup in the 128-byte preamble',
      );
    }
    if (verdict === 'other') {
      this.fail(
        'carries another kind of data in its first 128 bytes (the preamble, which must be empty), so it cannot be accepted',
        'the preamble is neither all zero nor a TIFF header',
      );
    }
    this.#state = 'header';
    this.need = 8;
  }

  /** 8 bytes: a tag and, by encoding, its VR and 2-byte length, its 4-byte length, or a VR whose length follows. */
  #header(b: Uint8Array, at: number): void {
    const start = this.pos - 8;
    this.#headerStart = start;
    this.#closeEnded(start);
    if (this.#inMeta && this.#u16le(b, at) !== 0x0002) this.#endMeta();
    const c = this.#top();
    if (start + 8 > c.limit) this.#overrun(c, start);
    const tag = ((this.#u16(b, at) << 16) | this.#u16(b, at + 2)) >>> 0;
    if (tag >>> 16 === 0xfffe) return this.#delimiter(tag, this.#u32(b, at + 4));
    if (!c.explicit) return this.#element(tag, 0, this.#u32(b, at + 4));
    const vr = (b[at + 4]! << 8) | b[at + 5]!;
    if (!VRS.has(vr)) {
      this.fail(PROBLEMS.damaged, `${describeTag(tag)} at byte ${start} has no valid value representation`);
    }
    if (LONG_VRS.has(vr)) {
      this.#tag = tag;
      this.#vr = vr;
      this.#state = 'long-length';
      this.need = 4;
      return;
    }
    this.#element(tag, vr, this.#u16(b, at + 6));
  }

  /** A data element whose header has been read; `vr` is 0 in implicit VR. */
  #element(tag: number, vr: number, length: number): void {
    this.#state = 'header';
    this.need = 8;
    const c = this.#top();
    if (c.kind !== 'dataset' && c.kind !== 'item') {
      this.fail(PROBLEMS.damaged, `${describeTag(tag)} at byte ${this.#headerStart} where an item should be`);
    }
    if (this.pos > c.limit) this.#overrun(c, this.#headerStart);
    if (c === this.#stack[0]) {
      if (tag <= c.lastTag) {
        this.fail(PROBLEMS.damaged, `${describeTag(tag)} at byte ${this.#headerStart} is out of order`);
      }
      c.lastTag = tag;
    }
    if (length === UNDEFINED) {
      if (tag === PIXEL_DATA) return this.#encapsulatedPixels(c, vr);
      if (c.explicit && vr !== SQ && vr !== UN) {
        this.fail(PROBLEMS.damaged, `${describeTag(tag)} at byte ${this.#headerStart} has an undefined length`);
      }
      // Undefined-length UN holds a sequence encoded in implicit VR little endian (PS3.5 §6.2.2).
      const implicitInside = c.explicit && vr === UN;
      return this.#push(c, {
        kind: 'sequence',
        end: Infinity,
        explicit: c.explicit && !implicitInside,
        littleEndian: implicitInside || c.littleEndian,
      });
    }
    const end = this.pos + length;
    if (end > c.limit) this.#overrun(c, this.#headerStart);
    if (vr === SQ) {
      return this.#push(c, { kind: 'sequence', end, explicit: c.explicit, littleEndian: c.littleEndian });
    }
    if (tag === PIXEL_DATA) return this.#nativePixels(c, length);
    if (isReadTag(tag, this.#inMeta)) {
      const max = tag === TRANSFER_SYNTAX_UID ? MAX_READ_VALUE : tag === NUMBER_OF_FRAMES ? 16 : 2;
      if (length > max || (max === 2 && length !== 2)) {
        this.fail(PROBLEMS.damaged, `${describeTag(tag)} has a value of ${length} bytes`);
      }
      if (length > 0) {
        this.#tag = tag;
        this.#state = 'value';
        this.need = length;
      }
      return;
    }
    this.skip = length;
  }

  /** A value the walk needs: the transfer syntax, or one of the image's attributes. */
  #value(b: Uint8Array, at: number): void {
    const tag = this.#tag;
    this.#state = 'header';
    const length = this.need;
    this.need = 8;
    if (tag === TRANSFER_SYNTAX_UID) {
      this.#transferSyntax = ascii(b, at, length).replace(/[\0 ]+$/, '');
      return;
    }
    const image = this.#top().image;
    if (tag === NUMBER_OF_FRAMES) {
      const text = ascii(b, at, length).replace(/^[\0 ]+|[\0 ]+$/g, '');
      if (!/^\+?\d{1,9}$/.test(text) || Number(text) < 1) {
        this.fail(PROBLEMS.impossibleImage, `Number of Frames is "${text}"`);
      }
      image.frames = Number(text);
      return;
    }
    const value = this.#u16(b, at);
    if (tag === ROWS) image.rows = value;
    else if (tag === COLUMNS) image.columns = value;
    else if (tag === SAMPLES_PER_PIXEL) image.samplesPerPixel = value;
    else image.bitsAllocated = value;
  }

  /** An item or delimiter (group FFFE, no VR in any encoding). */
  #delimiter(tag: number, length: number): void {
    const c = this.#top();
    const at = this.#headerStart;
    if (c.kind === 'sequence' && tag === ITEM) {
      if (length === UNDEFINED) {
        return this.#push(c, { kind: 'item', end: Infinity, explicit: c.explicit, littleEndian: c.littleEndian });
      }
      const end = this.pos + length;
      if (end > c.limit) this.#overrun(c, at);
      return this.#push(c, { kind: 'item', end, explicit: c.explicit, littleEndian: c.littleEndian });
    }
    if (c.kind === 'fragments' && tag === ITEM) {
      if (length === UNDEFINED) this.fail(PROBLEMS.damaged, `a pixel data fragment at byte ${at} has no length`);
      c.items++;
      this.skip = length;
      return;
    }
    const closes =
      (tag === SEQUENCE_DELIMITATION && (c.kind === 'sequence' || c.kind === 'fragments')) ||
      (tag === ITEM_DELIMITATION && c.kind === 'item');
    if (!closes || c.end !== Infinity) {
      this.fail(PROBLEMS.damaged, `an unexpected item or delimiter ${describeTag(tag)} at byte ${at}`);
    }
    if (length !== 0) this.fail(PROBLEMS.damaged, `the delimiter at byte ${at} has a length of ${length}`);
    if (c.kind === 'fragments') {
      // An offset table, then at least one fragment per frame (PS3.5 A.4).
      const fragments = c.items - 1;
      const frames = this.#stack[this.#stack.length - 2]?.image.frames ?? 1;
      if (fragments < Math.max(1, frames)) {
        this.fail(
          'does not hold the image its header describes; export it again from the device',
          `encapsulated pixel data has ${Math.max(0, fragments)} fragments for ${frames} frames`,
        );
      }
    }
    this.#stack.pop();
  }

  #nativePixels(c: Container, length: number): void {
    const { rows, columns, bitsAllocated, samplesPerPixel = 1, frames = 1 } = c.image;
    if (rows === undefined || columns === undefined || bitsAllocated === undefined) {
      this.fail(
        'does not say the size of its image',
        'Rows, Columns or Bits Allocated is missing before the pixel data',
      );
    }
    if (
      rows < 1 ||
      columns < 1 ||
      rows > MAX_IMAGE_SIDE ||
      columns > MAX_IMAGE_SIDE ||
      samplesPerPixel < 1 ||
      samplesPerPixel > 4 ||
      !(bitsAllocated === 1 || (bitsAllocated % 8 === 0 && bitsAllocated >= 8 && bitsAllocated <= 64))
    ) {
      this.fail(
        PROBLEMS.impossibleImage,
        `${rows}×${columns}, ${samplesPerPixel} samples per pixel, ${bitsAllocated} bits allocated`,
      );
    }
    const expected = Math.ceil((rows * columns * samplesPerPixel * frames * bitsAllocated) / 8);
    // Values have even length: an odd size is padded by one byte.
    if (length !== expected && length !== expected + (expected % 2)) {
      this.fail(
        'does not hold the image its header describes (its image data is the wrong size); export it again from the device',
        `pixel data (7FE0,0010) has ${length} bytes; ${rows}×${columns}×${samplesPerPixel}×${bitsAllocated / 8}×${frames} needs ${expected}`,
      );
    }
    if (c === this.#stack[0]) {
      this.#pixelData = true;
      this.#inPixels = { start: this.pos, length };
    }
    this.skip = length;
  }

  #encapsulatedPixels(c: Container, vr: number): void {
    if (!this.#encapsulated) {
      this.fail(PROBLEMS.damaged, `pixel data of undefined length in an uncompressed transfer syntax`);
    }
    if (c.explicit && vr !== OB && vr !== OW) this.fail(PROBLEMS.damaged, 'encapsulated pixel data is not OB');
    if (c === this.#stack[0]) this.#pixelData = true;
    this.#push(c, { kind: 'fragments', end: Infinity, explicit: c.explicit, littleEndian: c.littleEndian });
  }

  /** The meta group is over: the rest is in the transfer syntax it named. */
  #endMeta(): void {
    this.#inMeta = false;
    const uid = this.#transferSyntax;
    if (uid === undefined) this.fail(PROBLEMS.damaged, 'the file meta group names no transfer syntax');
    const encoding = encodingOf(uid);
    if (typeof encoding === 'string') {
      this.fail(`${encoding}; export it uncompressed or JPEG-compressed`, `transfer syntax ${uid}`, 'unsupported');
    }
    const top = this.#stack[0]!;
    top.explicit = encoding.explicit;
    top.littleEndian = encoding.littleEndian;
    this.#encapsulated = encoding.encapsulated;
  }

  #push(parent: Container, c: Pick<Container, 'kind' | 'end' | 'explicit' | 'littleEndian'>): void {
    if (this.#stack.length >= MAX_DEPTH) this.fail(PROBLEMS.damaged, `sequences nested over ${MAX_DEPTH} deep`);
    this.#stack.push({ ...c, limit: Math.min(c.end, parent.limit), image: {}, lastTag: -1, items: 0 });
    this.#inPixels = undefined;
  }

  /** Pops the containers whose defined length ends at `offset`. */
  #closeEnded(offset: number): void {
    this.#inPixels = undefined;
    for (let c = this.#top(); c.end === offset; c = this.#top()) this.#stack.pop();
  }

  #overrun(c: Container, at: number): never {
    this.fail(PROBLEMS.damaged, `the element at byte ${at} runs past the end of its ${CONTAINER_NAMES[c.kind]}`);
  }

  #top(): Container {
    return this.#stack[this.#stack.length - 1]!;
  }

  #littleEndian(): boolean {
    return this.#inMeta || this.#top().littleEndian;
  }

  #u16le(b: Uint8Array, at: number): number {
    return b[at]! | (b[at + 1]! << 8);
  }

  #u16(b: Uint8Array, at: number): number {
    return this.#littleEndian() ? b[at]! | (b[at + 1]! << 8) : (b[at]! << 8) | b[at + 1]!;
  }

  #u32(b: Uint8Array, at: number): number {
    return this.#littleEndian()
      ? (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0
      : ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
  }
}

function isReadTag(tag: number, inMeta: boolean): boolean {
  if (inMeta) return tag === TRANSFER_SYNTAX_UID;
  return (
    tag === ROWS || tag === COLUMNS || tag === BITS_ALLOCATED || tag === SAMPLES_PER_PIXEL || tag === NUMBER_OF_FRAMES
  );
}

const describeTag = (tag: number): string => `(${hex4(tag >>> 16)},${hex4(tag & 0xffff)})`;

function ascii(b: Uint8Array, at: number, length: number): string {
  let s = '';
  for (let i = at; i < at + length; i++) s += String.fromCharCode(b[i]!);
  return s;
}

/** `ok`: all zero, or a TIFF header (PS3.10 §7.1 dual-format files) without markup. */
export function judgePreamble(preamble: Uint8Array): 'ok' | 'markup' | 'other' {
  if (preamble.every((byte) => byte === 0)) return 'ok';
  if (hasMarkup(preamble)) return 'markup';
  const tiff =
    (preamble[0] === 0x49 && preamble[1] === 0x49 && preamble[2] === 0x2a && preamble[3] === 0x00) ||
    (preamble[0] === 0x4d && preamble[1] === 0x4d && preamble[2] === 0x00 && preamble[3] === 0x2a);
  return tiff ? 'ok' : 'other';
}

/** `<` opening a tag, comment, declaration or processing instruction: `<html`, `</`, `<!--`, `<?xml`. */
function hasMarkup(bytes: Uint8Array): boolean {
  for (let i = 0; i + 1 < bytes.length; i++) {
    if (bytes[i] !== 0x3c) continue;
    const next = bytes[i + 1]!;
    const letter = (next | 0x20) >= 0x61 && (next | 0x20) <= 0x7a;
    if (letter || next === 0x2f || next === 0x21 || next === 0x3f) return true;
  }
  return false;
}
