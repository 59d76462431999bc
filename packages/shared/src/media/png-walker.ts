import { crc32, type Crc32 } from './crc32.ts';
import { MAX_IMAGE_SIDE, PROBLEMS, StepWalker } from './format-walker.ts';

/**
 * Walks a PNG file (ISO/IEC 15948, PNG 3rd edition §5): the signature, then chunk by chunk —
 * length, type, data, CRC-32 over type and data — from IHDR to IEND, with nothing after IEND.
 * IHDR must describe a possible image; the critical chunks must come in their order (PLTE
 * before the IDATs, the IDATs together, at least one); an unknown critical chunk is refused as
 * a decoder must. Chunk data is counted over (only its CRC is computed), never inflated.
 *
 * `crc32` may be a faster implementation of the same function (node:zlib's, on the server), used
 * for chunk data of some length; the few bytes of a chunk's type (and short data) go through the
 * portable one, which costs less there than a native call. Nothing is allocated per chunk, and
 * a file of more than MAX_PNG_CHUNKS chunks is refused.
 */

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const MAX_CHUNK_LENGTH = 0x7fffffff;
const IHDR = 0x49484452;
const PLTE = 0x504c5445;
const IDAT = 0x49444154;
const IEND = 0x49454e44;
/**
 * Chunks a file may have. Encoders split the image data into IDAT chunks of 8 KiB (libpng) or
 * more, plus a few dozen others: a 1 GiB PNG has about 130,000. 2^20 leaves room for encoders
 * that write far smaller IDATs, and bounds the per-chunk work of a file of empty chunks (12 bytes
 * each) to 12 MiB of it.
 */
export const MAX_PNG_CHUNKS = 2 ** 20;
/** Data shorter than this has its CRC computed by the portable function (a native call costs more). */
const NATIVE_CRC_FROM = 64;
/** Bit depths allowed for each colour type (§11.2.1, Table 11.1). */
const BIT_DEPTHS: Readonly<Record<number, readonly number[]>> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

type State = 'signature' | 'chunk' | 'ihdr' | 'crc' | 'after-iend';

export class PngWalker extends StepWalker {
  #state: State = 'signature';
  /** The current chunk's type, its 4 letters as a big-endian number; 0 before the first. */
  #type = 0;
  #chunkStart = 0;
  #crc = 0;
  #chunks = 0;
  #colourType = -1;
  #palette = false;
  /** 0: no IDAT yet; 1: in the IDAT run; 2: the run is over. */
  #idat = 0;

  readonly #crc32: Crc32;

  constructor(options: { crc32?: Crc32 } = {}) {
    super('PNG', 8, 13);
    this.#crc32 = options.crc32 ?? crc32;
  }

  protected step(b: Uint8Array, at: number): void {
    switch (this.#state) {
      case 'signature':
        if (SIGNATURE.some((byte, i) => b[at + i] !== byte)) this.fail(PROBLEMS.damaged, 'no PNG signature');
        this.#state = 'chunk';
        this.need = 8;
        return;
      case 'chunk':
        return this.#chunk(b, at);
      case 'ihdr':
        this.#crc = crc32(b, this.#crc, at, at + 13);
        this.#ihdr(b, at);
        this.#state = 'crc';
        this.need = 4;
        return;
      case 'crc':
        return this.#checkCrc(b, at);
      case 'after-iend':
        this.fail(PROBLEMS.trailing, `bytes after IEND, from byte ${this.pos - 1}`);
    }
  }

  protected override skipped(b: Uint8Array, start: number, end: number): void {
    this.#crc = end - start < NATIVE_CRC_FROM ? crc32(b, this.#crc, start, end) : this.#crc32(b, this.#crc, start, end);
  }

  protected finish(): void {
    if (this.#state !== 'after-iend' || !this.atBoundary) {
      const where = this.#type === 0 ? 'its signature' : typeName(this.#type);
      this.fail(PROBLEMS.truncated, `the file ends in ${where} without an IEND chunk`);
    }
  }

  /** The current chunk, for messages (built only when one is needed). */
  #where(): string {
    return `${typeName(this.#type)} chunk at byte ${this.#chunkStart}`;
  }

  /** A chunk's length and type (8 bytes); its data follows, then its CRC. */
  #chunk(b: Uint8Array, at: number): void {
    this.#chunkStart = this.pos - 8;
    const length = u32be(b, at);
    const type = u32be(b, at + 4);
    this.#type = type;
    for (let i = 4; i < 8; i++) {
      const letter = b[at + i]! | 0x20;
      if (letter < 0x61 || letter > 0x7a)
        this.fail(PROBLEMS.damaged, `a chunk type that is not letters at byte ${this.#chunkStart}`);
    }
    if (length > MAX_CHUNK_LENGTH) this.fail(PROBLEMS.damaged, `${this.#where()} has length ${length}`);
    this.#chunks++;
    if (this.#chunks > MAX_PNG_CHUNKS) {
      this.fail(PROBLEMS.tooManyParts, `over ${MAX_PNG_CHUNKS} chunks, at byte ${this.#chunkStart}`);
    }
    if ((this.#chunks === 1) !== (type === IHDR)) {
      this.fail(PROBLEMS.damaged, `${this.#where()}: IHDR must be first, and once`);
    }
    if (type === IHDR && length !== 13) this.fail(PROBLEMS.damaged, `${this.#where()} has length ${length}`);
    if (type === IDAT) {
      if (this.#idat === 2) this.fail(PROBLEMS.damaged, `${this.#where()}: the IDAT chunks are not together`);
      if (this.#colourType === 3 && !this.#palette) this.fail(PROBLEMS.damaged, `${this.#where()}: no PLTE before it`);
      this.#idat = 1;
    } else if (this.#idat === 1) {
      this.#idat = 2;
    }
    if (type === PLTE) {
      if (this.#palette || this.#idat > 0 || this.#colourType === 0 || this.#colourType === 4) {
        this.fail(PROBLEMS.damaged, `${this.#where()} is not allowed there`);
      }
      if (length === 0 || length > 768 || length % 3 !== 0)
        this.fail(PROBLEMS.damaged, `${this.#where()} has length ${length}`);
      this.#palette = true;
    }
    if (type === IEND) {
      if (length !== 0) this.fail(PROBLEMS.damaged, `${this.#where()} has length ${length}`);
      if (this.#idat === 0) this.fail('holds no image', 'no IDAT chunk before IEND');
    }
    // Bit 5 of the first letter clear: a critical chunk, which a decoder must understand.
    if ((b[at + 4]! & 0x20) === 0 && type !== IHDR && type !== PLTE && type !== IDAT && type !== IEND) {
      this.fail(PROBLEMS.damaged, `${this.#where()} is an unknown critical chunk`);
    }
    this.#crc = crc32(b, 0, at + 4, at + 8);
    if (type === IHDR) {
      this.#state = 'ihdr';
      this.need = 13;
      return;
    }
    this.#state = 'crc';
    this.need = 4;
    this.skip = length;
  }

  #ihdr(b: Uint8Array, at: number): void {
    const width = u32be(b, at);
    const height = u32be(b, at + 4);
    const [depth, colour, compression, filter, interlace] = [
      b[at + 8]!,
      b[at + 9]!,
      b[at + 10]!,
      b[at + 11]!,
      b[at + 12]!,
    ];
    if (
      width < 1 ||
      height < 1 ||
      width > MAX_IMAGE_SIDE ||
      height > MAX_IMAGE_SIDE ||
      !(BIT_DEPTHS[colour]?.includes(depth) ?? false) ||
      compression !== 0 ||
      filter !== 0 ||
      interlace > 1
    ) {
      this.fail(
        PROBLEMS.impossibleImage,
        `IHDR: ${width}×${height}, bit depth ${depth}, colour type ${colour}, compression ${compression}, filter ${filter}, interlace ${interlace}`,
      );
    }
    this.#colourType = colour;
  }

  #checkCrc(b: Uint8Array, at: number): void {
    if (u32be(b, at) !== this.#crc) {
      this.fail('is damaged: one of its checksums does not match', `the CRC of the ${this.#where()} does not match`);
    }
    if (this.#type === IEND) {
      this.#state = 'after-iend';
      this.need = 1;
      return;
    }
    this.#state = 'chunk';
    this.need = 8;
  }
}

const typeName = (type: number): string =>
  String.fromCharCode(type >>> 24, (type >>> 16) & 0xff, (type >>> 8) & 0xff, type & 0xff);

const u32be = (b: Uint8Array, at: number): number =>
  ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
