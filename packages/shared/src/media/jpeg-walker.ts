import { PROBLEMS, StepWalker } from './format-walker.ts';

/**
 * Walks a JPEG file (ITU-T T.81 Annex B; T.87 for JPEG-LS) marker by marker: SOI, the tables
 * and application segments (each skipped by its length), one SOF giving a possible image
 * (dimensions, precision, components), then each SOS with its entropy-coded data (scanned for
 * the next marker, stuffed bytes and restart markers passed over) up to EOI.
 *
 * After EOI only another complete JPEG may follow, walked the same way: that is how a camera
 * stores a Multi-Picture (MPF) file's further images, such as an Ultra HDR gain map. Anything
 * else after EOI — HTML, SVG, an archive, padding — is refused.
 *
 * Nothing is allocated per segment, entropy-coded data is scanned a byte at a time only near
 * 0xFF (stuffing, restart markers) and by indexOf between, and a file of more than
 * MAX_JPEG_SEGMENTS markers outside entropy-coded data is refused.
 */

type State = 'soi' | 'marker' | 'length' | 'sof' | 'sos' | 'after-eoi' | 'next-soi';

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;
const DNL = 0xdc;
const DRI = 0xdd;
const SOF55 = 0xf7; // JPEG-LS
/** The largest SOF segment: 255 components. */
const MAX_SOF = 6 + 3 * 255;
/**
 * Markers (segments, SOI, EOI) a file may have outside entropy-coded data. A JPEG has tens:
 * tables, a frame, a scan or a dozen (progressive), APPn metadata (an ICC profile in at most 255
 * APP2 segments), and a few images more in a Multi-Picture file. 2^16 is generous for all that,
 * and bounds a file of empty segments (4 bytes each) to 256 KiB of per-segment work.
 */
export const MAX_JPEG_SEGMENTS = 2 ** 16;
/** Bytes looked at one by one for the next 0xFF before handing the search to indexOf. */
const LOOK_AHEAD = 16;

const isSof = (code: number): boolean =>
  (code >= 0xc0 && code <= 0xcf && code !== 0xc4 && code !== 0xc8 && code !== 0xcc) || code === SOF55;
const isLossless = (code: number): boolean => code === 0xc3 || code === 0xc7 || code === 0xcb || code === 0xcf;
/** Segments this walker passes over by their length: APPn, DQT, DHT, DAC, DHP, EXP, COM, JPGn, LSE. */
const isSkippedSegment = (code: number): boolean =>
  (code >= 0xe0 && code <= 0xef) ||
  code === 0xdb ||
  code === 0xc4 ||
  code === 0xcc ||
  code === 0xde ||
  code === 0xdf ||
  code === 0xfe ||
  (code >= 0xf0 && code <= 0xfd && code !== SOF55);

export class JpegWalker extends StepWalker {
  #state: State = 'soi';
  #code = 0;
  #markerAt = 0;
  #frame = false;
  #jpegLs = false;
  #scans = 0;
  /** While scanning: in entropy-coded data (else between segments, reading a marker's code). */
  #entropy = false;
  /** While scanning: the last byte was 0xFF. */
  #afterFf = false;
  #images = 0;
  #segments = 0;

  constructor() {
    super('JPEG', 2, MAX_SOF);
  }

  protected step(b: Uint8Array, at: number): void {
    const byte = b[at]!;
    switch (this.#state) {
      case 'soi':
        if (byte !== 0xff || b[at + 1] !== SOI) this.fail(PROBLEMS.damaged, `no SOI marker at byte ${this.pos - 2}`);
        this.#countSegment(this.pos - 2);
        return this.#expectMarker();
      case 'marker': {
        if (byte !== 0xff) this.fail(PROBLEMS.damaged, `byte ${this.pos - 2} is not a marker`);
        const code = b[at + 1]!;
        if (code !== 0xff) return this.#marker(code, this.pos - 2);
        // Fill bytes before the code: scanned, not stepped, so a long run costs no more than data.
        this.#entropy = false;
        this.#afterFf = true;
        this.scanning = true;
        return;
      }
      case 'length':
        return this.#length((byte << 8) | b[at + 1]!);
      case 'sof':
        return this.#sof(b, at);
      case 'sos':
        return this.#sos(b, at);
      case 'after-eoi':
        if (byte !== 0xff) this.fail(PROBLEMS.trailing, `bytes after EOI, from byte ${this.pos - 1}`);
        this.#state = 'next-soi';
        return;
      case 'next-soi':
        if (byte !== SOI) this.fail(PROBLEMS.trailing, `bytes after EOI, from byte ${this.pos - 2}`);
        this.#countSegment(this.pos - 2);
        this.#frame = false;
        this.#jpegLs = false;
        this.#scans = 0;
        return this.#expectMarker();
    }
  }

  protected finish(): void {
    if (this.#state === 'next-soi') this.fail(PROBLEMS.trailing, `a byte after EOI`);
    if (this.#state !== 'after-eoi' || !this.atBoundary || this.scanning) {
      this.fail(PROBLEMS.truncated, `the file ends without an EOI marker (image ${this.#images + 1})`);
    }
  }

  /**
   * A marker's code after its 0xFF and any fill (0xFF, T.81 B.1.1.2); in entropy-coded data,
   * everything up to a marker other than a restart marker or a stuffed 0xFF00.
   */
  protected override scan(b: Uint8Array, at: number): number {
    const n = b.length;
    const entropy = this.#entropy;
    const jpegLs = this.#jpegLs;
    let afterFf = this.#afterFf;
    let i = at;
    for (;;) {
      if (!afterFf) {
        // The next 0xFF: a few bytes looked at here (stuffing comes in runs), then indexOf.
        const stop = Math.min(n, i + LOOK_AHEAD);
        while (i < stop && b[i] !== 0xff) i++;
        if (i === stop) {
          i = stop === n ? -1 : b.indexOf(0xff, stop);
          if (i < 0) {
            this.#afterFf = false;
            return n;
          }
        }
        i++;
        afterFf = true;
      }
      while (i < n && b[i] === 0xff) i++;
      if (i === n) {
        this.#afterFf = afterFf;
        return n;
      }
      const code = b[i++]!;
      afterFf = false;
      // 0x00 is a stuffed 0xFF, RSTn restart the coder; in JPEG-LS any byte under 0x80 is stuffing.
      if (entropy && (code === 0x00 || (code >= 0xd0 && code <= 0xd7) || (jpegLs && code < 0x80))) continue;
      this.#afterFf = false;
      this.scanning = false;
      this.#marker(code, this.pos + (i - at) - 2);
      return i;
    }
  }

  #expectMarker(): void {
    this.#state = 'marker';
    this.need = 2;
  }

  #countSegment(at: number): void {
    if (++this.#segments > MAX_JPEG_SEGMENTS) {
      this.fail(PROBLEMS.tooManyParts, `over ${MAX_JPEG_SEGMENTS} markers, at byte ${at}`);
    }
  }

  /** A marker whose 0xFF is at byte `at`. */
  #marker(code: number, at: number): void {
    this.#countSegment(at);
    this.#code = code;
    this.#markerAt = at;
    if (code === EOI) {
      if (!this.#frame || this.#scans === 0)
        this.fail('holds no image', `EOI at byte ${this.#markerAt} before any scan`);
      this.#images++;
      this.#state = 'after-eoi';
      this.need = 1;
      return;
    }
    if (code === 0x01) return this.#expectMarker(); // TEM: no length
    if (isSof(code) || code === SOS || code === DNL || code === DRI || isSkippedSegment(code)) {
      this.#state = 'length';
      this.need = 2;
      return;
    }
    this.fail(PROBLEMS.damaged, `marker 0xFF${code.toString(16).toUpperCase()} at byte ${this.#markerAt}`);
  }

  /** The current segment, for messages (built only when one is needed). */
  #where(): string {
    return `segment 0xFF${this.#code.toString(16).toUpperCase()} at byte ${this.#markerAt}`;
  }

  #length(length: number): void {
    const code = this.#code;
    if (length < 2) this.fail(PROBLEMS.damaged, `${this.#where()} has length ${length}`);
    const body = length - 2;
    if (isSof(code)) {
      if (this.#frame) this.fail(PROBLEMS.damaged, `${this.#where()}: a second frame header`);
      if (body < 6 || body > MAX_SOF) this.fail(PROBLEMS.damaged, `${this.#where()} has length ${length}`);
      this.#state = 'sof';
      this.need = body;
      return;
    }
    if (code === SOS) {
      if (!this.#frame) this.fail(PROBLEMS.damaged, `${this.#where()}: a scan before the frame header`);
      if (body < 4 || body > 12) this.fail(PROBLEMS.damaged, `${this.#where()} has length ${length}`);
      this.#state = 'sos';
      this.need = body;
      return;
    }
    if ((code === DNL || code === DRI) && length !== 4) {
      this.fail(PROBLEMS.damaged, `${this.#where()} has length ${length}`);
    }
    this.#expectMarker();
    this.skip = body;
  }

  /** SOF: precision, height, width, components (T.81 B.2.2; T.87 C.2.2). */
  #sof(b: Uint8Array, at: number): void {
    const code = this.#code;
    const precision = b[at]!;
    const height = (b[at + 1]! << 8) | b[at + 2]!;
    const width = (b[at + 3]! << 8) | b[at + 4]!;
    const components = b[at + 5]!;
    const lossless = isLossless(code) || code === SOF55;
    const precisionOk = lossless ? precision >= 2 && precision <= 16 : precision === 8 || precision === 12;
    // Height 0 (to be given by a DNL segment later) is refused with the rest: the size must be known.
    if (!precisionOk || height < 1 || width < 1 || components < 1) {
      this.fail(
        PROBLEMS.impossibleImage,
        `frame header at byte ${this.#markerAt}: ${width}×${height}, precision ${precision}, ${components} components`,
      );
    }
    if (this.need !== 6 + 3 * components) {
      this.fail(PROBLEMS.damaged, `frame header at byte ${this.#markerAt} does not fit its ${components} components`);
    }
    for (let i = 0; i < components; i++) {
      const sampling = b[at + 7 + 3 * i]!;
      const h = sampling >> 4;
      const v = sampling & 0x0f;
      if (h < 1 || h > 4 || v < 1 || v > 4) {
        this.fail(PROBLEMS.impossibleImage, `frame header at byte ${this.#markerAt}: sampling factors ${h}×${v}`);
      }
    }
    this.#frame = true;
    this.#jpegLs = code === SOF55;
    this.#expectMarker();
  }

  /** SOS: the scan's components, then its entropy-coded data. */
  #sos(b: Uint8Array, at: number): void {
    const components = b[at]!;
    if (components < 1 || components > 4 || this.need !== 4 + 2 * components) {
      this.fail(PROBLEMS.damaged, `scan header at byte ${this.#markerAt} does not fit its ${components} components`);
    }
    this.#scans++;
    this.#entropy = true;
    this.#afterFf = false;
    this.scanning = true;
  }
}
