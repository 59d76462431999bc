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
 * dual-format files, a TIFF header and what TIFF puts there (see judgePreamble): anything else is
 * another format's header riding in the first bytes every sniffer reads (an HTML page, a script,
 * a PDF, an archive) — a polyglot, refused.
 *
 * Work and memory are bounded per byte and per part: the open sequences and items are a stack of
 * frames allocated once and reused (a million empty items allocate nothing), at most MAX_DEPTH
 * deep, and a file of more than MAX_DICOM_PARTS elements and items is refused.
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
/**
 * Data elements and items (sequence items and pixel data fragments) a file may have. An X-ray
 * has a few hundred. The largest real structures have up to about a million: an enhanced
 * multi-frame object's per-frame functional group item for each of tens of thousands of frames,
 * or pixel data in the smallest fragments dcmtk writes (1 KiB), a million in a 1 GiB file (the
 * most MAX_UPLOAD_BYTES takes). Past this the file is absurd rather than large, and refused: it
 * bounds the walk's per-part work (the rest of a file is bulk values counted over at memory
 * speed), and spares the viewers that later parse every element into an object. 2^21, so a file
 * of 2^20 empty items (8 MiB) still passes.
 */
export const MAX_DICOM_PARTS = 2 ** 21;
/** Longest value read into memory: a UID (64 bytes). */
const MAX_READ_VALUE = 64;

const vrCode = (vr: string): number => (vr.charCodeAt(0) << 8) | vr.charCodeAt(1);
const SHORT_VR = 1;
/** A 2-byte reserved field and a 4-byte length in explicit VR (PS3.5 Table 7.1-1). */
const LONG_VR = 2;
/** By the two bytes of a VR: 0 when not one, else SHORT_VR or LONG_VR. */
const VR_KINDS = (() => {
  const kinds = new Uint8Array(0x10000);
  for (const vr of 'AE AS AT CS DA DS DT FD FL IS LO LT PN SH SL SS ST TM UI UL US'.split(' ')) {
    kinds[vrCode(vr)] = SHORT_VR;
  }
  for (const vr of 'OB OD OF OL OV OW SQ SV UC UN UR UT UV'.split(' ')) kinds[vrCode(vr)] = LONG_VR;
  return kinds;
})();
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

type ContainerKind = 'dataset' | 'sequence' | 'item' | 'fragments';

/** Where the top-level Pixel Data element is: its header, its value, and the value's length (native only). */
export interface DicomPixelDataPlace {
  /** Offset of the element's tag. */
  start: number;
  /** Offset of its value (native pixels) or of its first item (encapsulated). */
  valueOffset: number;
  /** Bytes of native pixel data; undefined when encapsulated (undefined length). */
  length: number | undefined;
  encapsulated: boolean;
}

/** An image attribute not given. */
const NONE = -1;

/** An open container: the stack's frames are allocated once, then reused as containers open and close. */
class Frame {
  kind: ContainerKind = 'dataset';
  /** Offset where it ends; Infinity when closed by a delimiter instead (undefined length). */
  end = Infinity;
  /** The nearest end of it or of an enclosing container: nothing inside may cross it. */
  limit = Infinity;
  explicit = true;
  littleEndian = true;
  /** Of encapsulated pixel data: items seen (the offset table, then fragments). */
  items = 0;
  // Of a data set or item: the attributes its own pixel data is checked against (NONE: not given).
  rows = NONE;
  columns = NONE;
  samplesPerPixel = NONE;
  bitsAllocated = NONE;
  frames = NONE;

  open(kind: ContainerKind, end: number, limit: number, explicit: boolean, littleEndian: boolean): void {
    this.kind = kind;
    this.end = end;
    this.limit = limit;
    this.explicit = explicit;
    this.littleEndian = littleEndian;
    this.items = 0;
    this.rows = NONE;
    this.columns = NONE;
    this.samplesPerPixel = NONE;
    this.bitsAllocated = NONE;
    this.frames = NONE;
  }
}

type State = 'preamble' | 'header' | 'long-length' | 'value';

const CONTAINER_NAMES: Readonly<Record<ContainerKind, string>> = {
  dataset: 'data set',
  sequence: 'sequence',
  item: 'item',
  fragments: 'encapsulated pixel data',
};

/** The refusals a preamble can earn, in the words of the person holding the file. */
const PROBLEMS_PREAMBLE = {
  markup: 'carries web page code (HTML, SVG or script) in its first bytes, so it cannot be accepted',
  other:
    'carries another kind of data in its first 128 bytes (the preamble, which must be empty), so it cannot be accepted',
} as const;

export class DicomWalker extends StepWalker {
  #state: State = 'preamble';
  /** The file meta group is read (always explicit VR little endian) until the first other group. */
  #inMeta = true;
  #encapsulated = false;
  #transferSyntax: string | undefined;
  /** Open containers, the data set at 0; frames past `#depth` are spare, kept for reuse. */
  readonly #stack: Frame[] = [new Frame()];
  #depth = 0;
  /** The innermost open container, `#stack[#depth]`. */
  #c: Frame = this.#stack[0]!;
  /** The last tag of the top-level data set (its elements must ascend). */
  #lastTag = -1;
  /** Data elements and items so far (MAX_DICOM_PARTS). */
  #parts = 0;
  /** Where the TIFF header in the preamble puts its first directory, when that is past the preamble. */
  #tiffDirectory = 0;
  #pixelData = false;
  /** Counting over the top-level pixel data (to say so when the file stops inside it). */
  #inPixels: { start: number; length: number } | undefined;
  /** The element whose 4-byte length or value comes next. */
  #tag = 0;
  #vr = 0;
  #headerStart = 0;
  /** Where the last top-level element (meta group included) began: every byte before it is whole elements. */
  #topStart = 0;
  /** Where the top-level element being read ends, when it is a plain value (not a sequence, not pixels). */
  #topValueEnd = -1;
  #pixelDataAt: DicomPixelDataPlace | undefined;

  constructor() {
    super('DICOM', PREAMBLE + 4, PREAMBLE + 4);
  }

  /**
   * How many leading bytes of what was fed are whole top-level elements: a header prefix cut
   * there is safe to decode (a parser reading past a cut would return a shortened value as if
   * whole). 0 until the preamble is read.
   */
  get completeThrough(): number {
    if (this.#topValueEnd >= 0 && this.pos >= this.#topValueEnd && this.#depth === 0) return this.#topValueEnd;
    return this.#topStart;
  }

  /** The top-level Pixel Data element, once its header has been fed. */
  get pixelData(): DicomPixelDataPlace | undefined {
    return this.#pixelDataAt;
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
    if (this.#depth > 0) {
      this.fail(PROBLEMS.truncated, `the file ends inside an open ${CONTAINER_NAMES[this.#c.kind]} (no delimiter)`);
    }
    if (!this.#pixelData) this.fail('holds no image', 'no Pixel Data (7FE0,0010) in the data set');
    if (this.#tiffDirectory >= this.pos) {
      this.fail(
        PROBLEMS_PREAMBLE.other,
        `the TIFF header in the preamble puts its directory at byte ${this.#tiffDirectory}, past the end of the file`,
      );
    }
  }

  #preamble(b: Uint8Array, at: number): void {
    if (b[at + 128] !== 0x44 || b[at + 129] !== 0x49 || b[at + 130] !== 0x43 || b[at + 131] !== 0x4d) {
      this.fail(PROBLEMS.damaged, 'no "DICM" after the 128-byte preamble');
    }
    const preamble = b.subarray(at, at + PREAMBLE);
    const problem = preambleProblem(preamble);
    if (problem) this.fail(PROBLEMS_PREAMBLE[problem.verdict], problem.technical);
    const directory = tiffHeaderOf(preamble)?.directory ?? 0;
    if (directory >= PREAMBLE) this.#tiffDirectory = directory;
    this.#state = 'header';
    this.need = 8;
  }

  /** 8 bytes: a tag and, by encoding, its VR and 2-byte length, its 4-byte length, or a VR whose length follows. */
  #header(b: Uint8Array, at: number): void {
    const start = this.pos - 8;
    this.#headerStart = start;
    this.#closeEnded(start);
    if (this.#depth === 0) {
      this.#topStart = start;
      this.#topValueEnd = -1;
    }
    if (this.#inMeta && this.#u16le(b, at) !== 0x0002) this.#endMeta();
    const c = this.#c;
    if (start + 8 > c.limit) this.#overrun(c, start);
    const tag = ((this.#u16(b, at) << 16) | this.#u16(b, at + 2)) >>> 0;
    if (tag >>> 16 === 0xfffe) return this.#delimiter(tag, this.#u32(b, at + 4));
    if (!c.explicit) return this.#element(tag, 0, this.#u32(b, at + 4));
    const vr = (b[at + 4]! << 8) | b[at + 5]!;
    const vrKind = VR_KINDS[vr];
    if (vrKind !== SHORT_VR && vrKind !== LONG_VR) {
      this.fail(PROBLEMS.damaged, `${describeTag(tag)} at byte ${start} has no valid value representation`);
    }
    if (vrKind === LONG_VR) {
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
    const c = this.#c;
    if (c.kind !== 'dataset' && c.kind !== 'item') {
      this.fail(PROBLEMS.damaged, `${describeTag(tag)} at byte ${this.#headerStart} where an item should be`);
    }
    if (this.pos > c.limit) this.#overrun(c, this.#headerStart);
    this.#countPart();
    if (this.#depth === 0) {
      if (tag <= this.#lastTag) {
        this.fail(PROBLEMS.damaged, `${describeTag(tag)} at byte ${this.#headerStart} is out of order`);
      }
      this.#lastTag = tag;
    }
    if (length === UNDEFINED) {
      if (tag === PIXEL_DATA) return this.#encapsulatedPixels(c, vr);
      if (c.explicit && vr !== SQ && vr !== UN) {
        this.fail(PROBLEMS.damaged, `${describeTag(tag)} at byte ${this.#headerStart} has an undefined length`);
      }
      // Undefined-length UN holds a sequence encoded in implicit VR little endian (PS3.5 §6.2.2).
      const implicitInside = c.explicit && vr === UN;
      return this.#push('sequence', Infinity, c.explicit && !implicitInside, implicitInside || c.littleEndian);
    }
    const end = this.pos + length;
    if (end > c.limit) this.#overrun(c, this.#headerStart);
    if (this.#depth === 0 && vr !== SQ && tag !== PIXEL_DATA) this.#topValueEnd = end;
    if (vr === SQ) return this.#push('sequence', end, c.explicit, c.littleEndian);
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
    const image = this.#c;
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
    const c = this.#c;
    const at = this.#headerStart;
    if (c.kind === 'sequence' && tag === ITEM) {
      this.#countPart();
      if (length === UNDEFINED) return this.#push('item', Infinity, c.explicit, c.littleEndian);
      const end = this.pos + length;
      if (end > c.limit) this.#overrun(c, at);
      return this.#push('item', end, c.explicit, c.littleEndian);
    }
    if (c.kind === 'fragments' && tag === ITEM) {
      if (length === UNDEFINED) this.fail(PROBLEMS.damaged, `a pixel data fragment at byte ${at} has no length`);
      this.#countPart();
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
      const given = this.#stack[this.#depth - 1]!.frames;
      const frames = given === NONE ? 1 : given;
      if (fragments < Math.max(1, frames)) {
        this.fail(
          'does not hold the image its header describes; export it again from the device',
          `encapsulated pixel data has ${Math.max(0, fragments)} fragments for ${frames} frames`,
        );
      }
    }
    this.#pop();
  }

  #nativePixels(c: Frame, length: number): void {
    const { rows, columns, bitsAllocated } = c;
    const samplesPerPixel = c.samplesPerPixel === NONE ? 1 : c.samplesPerPixel;
    const frames = c.frames === NONE ? 1 : c.frames;
    if (rows === NONE || columns === NONE || bitsAllocated === NONE) {
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
    if (this.#depth === 0) {
      this.#pixelData = true;
      this.#inPixels = { start: this.pos, length };
      this.#pixelDataAt = { start: this.#headerStart, valueOffset: this.pos, length, encapsulated: false };
    }
    this.skip = length;
  }

  #encapsulatedPixels(c: Frame, vr: number): void {
    if (!this.#encapsulated) {
      this.fail(PROBLEMS.damaged, `pixel data of undefined length in an uncompressed transfer syntax`);
    }
    if (c.explicit && vr !== OB && vr !== OW) this.fail(PROBLEMS.damaged, 'encapsulated pixel data is not OB');
    if (this.#depth === 0) {
      this.#pixelData = true;
      this.#pixelDataAt = { start: this.#headerStart, valueOffset: this.pos, length: undefined, encapsulated: true };
    }
    this.#push('fragments', Infinity, c.explicit, c.littleEndian);
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

  /** Opens a container inside the current one, in the next frame of the stack (allocated once). */
  #push(kind: ContainerKind, end: number, explicit: boolean, littleEndian: boolean): void {
    const depth = this.#depth + 1;
    if (depth >= MAX_DEPTH) this.fail(PROBLEMS.damaged, `sequences nested over ${MAX_DEPTH} deep`);
    let frame = this.#stack[depth];
    if (frame === undefined) {
      frame = new Frame();
      this.#stack.push(frame);
    }
    frame.open(kind, end, Math.min(end, this.#c.limit), explicit, littleEndian);
    this.#depth = depth;
    this.#c = frame;
    this.#inPixels = undefined;
  }

  #pop(): void {
    this.#c = this.#stack[--this.#depth]!;
  }

  /** Pops the containers whose defined length ends at `offset`. */
  #closeEnded(offset: number): void {
    this.#inPixels = undefined;
    while (this.#c.end === offset) this.#pop();
  }

  #countPart(): void {
    if (++this.#parts > MAX_DICOM_PARTS) {
      this.fail(PROBLEMS.tooManyParts, `over ${MAX_DICOM_PARTS} data elements and items, at byte ${this.#headerStart}`);
    }
  }

  #overrun(c: Frame, at: number): never {
    this.fail(PROBLEMS.damaged, `the element at byte ${at} runs past the end of its ${CONTAINER_NAMES[c.kind]}`);
  }

  #littleEndian(): boolean {
    return this.#inMeta || this.#c.littleEndian;
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

export type PreambleVerdict = 'ok' | 'markup' | 'other';

/** Signatures of other formats that readers find anywhere in a file's first bytes, not only at its start. */
const FOREIGN_SIGNATURES: readonly (readonly [string, readonly number[]])[] = [
  ['a PDF header ("%PDF-")', [0x25, 0x50, 0x44, 0x46, 0x2d]],
  ['a ZIP local file header', [0x50, 0x4b, 0x03, 0x04]],
  ['a ZIP central directory', [0x50, 0x4b, 0x01, 0x02]],
  ['a ZIP end of central directory', [0x50, 0x4b, 0x05, 0x06]],
];

/** Bytes of one value of each TIFF 6.0 field type (§2, 1 BYTE … 12 DOUBLE); 0: not a type. */
const TIFF_TYPE_SIZES = [0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8];

/**
 * What the 128-byte preamble may hold: all zero; or, for a dual-format file (PS3.10 §7.1), a
 * TIFF header — byte order, 42 (or BigTIFF's 43, 8, 0), the offset of the first image file
 * directory (IFD) — and nothing but TIFF after it:
 * - the IFD offset is on a word boundary (TIFF 6.0 §2), past the header and not at "DICM";
 * - when the IFD starts inside the preamble (classic TIFF only) it fits there: its entries have
 *   TIFF field types, the values they place in the preamble fit there too, and the next IFD is
 *   not inside it;
 * - every byte that is neither the header, that IFD, nor one of those values is zero;
 * - and, TIFF values being free bytes, no markup and no other format's signature anywhere.
 * So real dual-format files pass — PixelMed's (the header alone, the IFD in the data set's
 * trailing padding, the tiles in the pixel data) as well as an IFD laid out in the preamble —
 * and another format has only TIFF's value fields left to hide in, where the signatures its
 * readers look for are refused. The walker also checks at the end that an IFD placed past the
 * preamble lies within the file.
 */
export function judgePreamble(preamble: Uint8Array): PreambleVerdict {
  return preambleProblem(preamble)?.verdict ?? 'ok';
}

function preambleProblem(p: Uint8Array): { verdict: 'markup' | 'other'; technical: string } | null {
  if (p.every((byte) => byte === 0)) return null;
  if (hasMarkup(p)) return { verdict: 'markup', technical: 'markup in the 128-byte preamble' };
  const header = tiffHeaderOf(p);
  if (!header) return { verdict: 'other', technical: 'the preamble is neither all zero nor a TIFF header' };
  for (const [name, signature] of FOREIGN_SIGNATURES) {
    const at = indexOf(p, signature);
    if (at >= 0) return { verdict: 'other', technical: `${name} at byte ${at} of the preamble, after a TIFF header` };
  }
  const tiff = (technical: string) => ({
    verdict: 'other' as const,
    technical: `TIFF header in the preamble: ${technical}`,
  });
  const { directory, length, bigEndian } = header;
  /** Past "DICM": in the data set (PixelMed's dual-personality files put it in the trailing padding). */
  const outside = directory >= PREAMBLE + 4;
  // A BigTIFF directory (PixelMed writes BigTIFF for large files) is only taken outside the preamble.
  if (directory % 2 !== 0 || !(outside || (length === 8 && directory >= 8 && directory < PREAMBLE))) {
    return tiff(`its first directory offset ${directory} is not a place for one`);
  }
  /** Bytes of the preamble that are TIFF structure or values: the rest must be zero. */
  const used = new Uint8Array(PREAMBLE);
  used.fill(1, 0, length);
  if (!outside) {
    const u16 = (at: number) => (bigEndian ? (p[at]! << 8) | p[at + 1]! : p[at]! | (p[at + 1]! << 8));
    const u32 = (at: number) => (bigEndian ? u16(at) * 0x10000 + u16(at + 2) : u16(at) + u16(at + 2) * 0x10000);
    const entries = directory + 2 <= PREAMBLE ? u16(directory) : 0;
    const end = directory + 2 + 12 * entries + 4;
    if (entries === 0 || end > PREAMBLE) {
      return tiff(`its directory at byte ${directory} (${entries} entries) does not fit in the preamble`);
    }
    used.fill(1, directory, end);
    for (let entry = directory + 2; entry < end - 4; entry += 12) {
      const type = u16(entry + 2);
      const unit = TIFF_TYPE_SIZES[type] ?? 0;
      if (unit === 0) return tiff(`the entry at byte ${entry} has no TIFF field type (${type})`);
      const size = unit * u32(entry + 4);
      if (size <= 4) continue; // the value is in the entry
      const value = u32(entry + 8);
      if (value >= PREAMBLE + 4) continue; // in the data set
      if (value < 8 || value + size > PREAMBLE) {
        return tiff(`the entry at byte ${entry} puts ${size} bytes of value at byte ${value}, outside the preamble`);
      }
      used.fill(1, value, value + size);
    }
    const next = u32(end - 4);
    if (next !== 0 && next < PREAMBLE + 4) return tiff(`a second directory inside the preamble (at byte ${next})`);
  }
  for (let i = length; i < PREAMBLE; i++) {
    if (used[i] === 0 && p[i] !== 0) return tiff(`byte ${i} of the preamble is neither TIFF structure nor zero`);
  }
  return null;
}

interface TiffHeader {
  /** The offset of the first image file directory. */
  directory: number;
  /** 8 (classic TIFF) or 16 (BigTIFF). */
  length: 8 | 16;
  bigEndian: boolean;
}

/** The TIFF or BigTIFF header at the start of `p`, in either byte order, if there is one. */
function tiffHeaderOf(p: Uint8Array): TiffHeader | null {
  const bigEndian = p[0] === 0x4d && p[1] === 0x4d;
  if (!bigEndian && !(p[0] === 0x49 && p[1] === 0x49)) return null;
  const u16 = (at: number) => (bigEndian ? (p[at]! << 8) | p[at + 1]! : p[at]! | (p[at + 1]! << 8));
  const u32 = (at: number) => (bigEndian ? u16(at) * 0x10000 + u16(at + 2) : u16(at) + u16(at + 2) * 0x10000);
  const version = u16(2);
  if (version === 42) return { directory: u32(4), length: 8, bigEndian };
  // BigTIFF: 43, offsets of 8 bytes, 0, then the 8-byte offset (past 2^53 it is in no file).
  if (version !== 43 || u16(4) !== 8 || u16(6) !== 0) return null;
  const high = bigEndian ? u32(8) : u32(12);
  const low = bigEndian ? u32(12) : u32(8);
  return { directory: high < 0x200000 ? high * 0x100000000 + low : Number.MAX_SAFE_INTEGER, length: 16, bigEndian };
}

function indexOf(bytes: Uint8Array, signature: readonly number[]): number {
  outer: for (let i = 0; i + signature.length <= bytes.length; i++) {
    for (let j = 0; j < signature.length; j++) if (bytes[i + j] !== signature[j]) continue outer;
    return i;
  }
  return -1;
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
