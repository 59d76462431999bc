/**
 * The structure of an X-ray file, checked while its bytes stream past: each format's walker is
 * a small state machine fed chunk by chunk (any split), keeping only a header's worth of bytes
 * between chunks and counting over the bulk (pixel data, compressed data) without copying it.
 * The same walkers run on the server (every upload) and in the edge app (at capture).
 */

/** `invalid`: broken, cut off or carrying something else; `unsupported`: valid but an encoding we do not take. */
export type FileStructureErrorKind = 'invalid' | 'unsupported';

export type FileStructureErrorCode = 'FILE_STRUCTURE_INVALID' | 'FILE_FORMAT_UNSUPPORTED';

/** Largest width or height accepted: DICOM's own limit (Rows and Columns are 16-bit), and JPEG's. */
export const MAX_IMAGE_SIDE = 0xffff;

/** A file that is not what its type says, structurally. */
export class FileStructureError extends Error {
  override readonly name = 'FileStructureError';
  readonly code: FileStructureErrorCode;

  /**
   * @param problem what is wrong, as a clause a paramedic understands, to follow the file's name
   *   ("is cut off before its end; copy or export it again")
   * @param technical what the walker found and where, for whoever looks into it
   */
  constructor(
    readonly kind: FileStructureErrorKind,
    readonly format: string,
    readonly problem: string,
    readonly technical: string,
  ) {
    super(`The ${format} file ${problem}.`);
    this.code = kind === 'invalid' ? 'FILE_STRUCTURE_INVALID' : 'FILE_FORMAT_UNSUPPORTED';
  }
}

/** Problems every format can have, in the words the person holding the file reads. */
export const PROBLEMS = {
  truncated: 'is cut off before its end; copy or export it again',
  trailing: 'has other data hidden after the end of the image, so it cannot be accepted',
  damaged: 'is damaged and cannot be read',
  impossibleImage: 'describes an image of impossible size or format',
  tooManyParts: 'is made of far more parts than any X-ray image has, so it cannot be accepted',
  pdf: 'carries a PDF document in its first bytes, so it cannot be accepted',
} as const;

/**
 * PDF readers take a file as PDF when "%PDF-" appears anywhere in its first 1024 bytes (not
 * only at byte 0), so no X-ray may carry it there: not in a DICOM preamble or meta group, not
 * in a PNG text chunk or a JPEG comment. By chance in compressed or pixel data it is about one
 * file in a billion.
 */
const PDF_HEADER_WINDOW = 1024;
const PDF_HEADER = [0x25, 0x50, 0x44, 0x46, 0x2d]; // "%PDF-"
/** A header starting in the window may end just past it. */
const PDF_SCAN_END = PDF_HEADER_WINDOW + PDF_HEADER.length - 1;

/** Offset just past the first "%PDF-" in `bytes` (its first `matched` bytes ended the bytes before), or -1. */
function findPdfHeader(bytes: Uint8Array, end: number, matched: { n: number }): number {
  let n = matched.n;
  for (let i = 0; i < end; i++) {
    const byte = bytes[i];
    if (byte === PDF_HEADER[n]) n++;
    else n = byte === PDF_HEADER[0] ? 1 : 0;
    if (n === PDF_HEADER.length) return i + 1;
  }
  matched.n = n;
  return -1;
}

/** Checks one file's structure, fed its bytes in order. Throws FileStructureError. */
export interface FormatWalker {
  update(chunk: Uint8Array): void;
  /** No more bytes: throws unless the file ended exactly where its structure does. */
  end(): void;
  /** Memory kept between chunks. */
  readonly retainedBytes: number;
}

/**
 * The chunking a walker needs: `step` gets the next `need` bytes contiguous (from the chunk when
 * they are there, else gathered across chunks into a small buffer), `skip` bytes are counted
 * over (shown to `skipped`, e.g. for a CRC), and while `scanning` the walker's `scan` takes
 * bytes itself (JPEG entropy-coded data). After the first refusal every call throws it again.
 */
export abstract class StepWalker implements FormatWalker {
  /** Offset in the file of the next byte not yet taken (in `step`: just past its bytes). */
  protected pos = 0;
  /** Bytes the next `step` needs (at least 1, at most the buffer size given to the constructor). */
  protected need: number;
  /** Bytes to pass over before the next step. */
  protected skip = 0;
  protected scanning = false;
  readonly #hold: Uint8Array;
  #held = 0;
  #failure: FileStructureError | undefined;
  /** Bytes received so far (counted up to the end of the PDF header window); how much of "%PDF-" ended them. */
  #received = 0;
  readonly #pdfMatched = { n: 0 };

  protected constructor(
    protected readonly format: string,
    firstNeed: number,
    maxNeed: number,
  ) {
    this.need = firstNeed;
    this.#hold = new Uint8Array(maxNeed);
  }

  get retainedBytes(): number {
    return this.#hold.length;
  }

  update(chunk: Uint8Array): void {
    this.#guard(() => this.#consume(chunk));
  }

  end(): void {
    this.#guard(() => this.finish());
  }

  #guard(work: () => void): void {
    if (this.#failure) throw this.#failure;
    try {
      work();
    } catch (err) {
      if (err instanceof FileStructureError) this.#failure = err;
      throw err;
    }
  }

  /**
   * Within the first PDF_HEADER_WINDOW bytes, a "%PDF-" is refused once the structure up to its
   * last byte has been walked: a file split any way is refused the same way.
   */
  #consume(chunk: Uint8Array): void {
    if (this.#received < PDF_SCAN_END) {
      const window = Math.min(chunk.length, PDF_SCAN_END - this.#received);
      const found = findPdfHeader(chunk, window, this.#pdfMatched);
      if (found >= 0) {
        this.#walk(chunk.subarray(0, found));
        const at = this.#received + found - PDF_HEADER.length;
        this.fail(PROBLEMS.pdf, `a PDF header ("%PDF-") at byte ${at}, within the first ${PDF_HEADER_WINDOW} bytes`);
      }
      this.#received += window;
    }
    this.#walk(chunk);
  }

  #walk(chunk: Uint8Array): void {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.skip > 0) {
        const k = Math.min(this.skip, n - i);
        this.skipped(chunk, i, i + k);
        this.skip -= k;
        this.pos += k;
        i += k;
      } else if (this.scanning) {
        const j = this.scan(chunk, i);
        this.pos += j - i;
        i = j;
      } else {
        const need = this.need;
        if (this.#held === 0 && n - i >= need) {
          this.pos += need;
          i += need;
          this.step(chunk, i - need);
        } else {
          const k = Math.min(need - this.#held, n - i);
          this.#hold.set(chunk.subarray(i, i + k), this.#held);
          this.#held += k;
          i += k;
          if (this.#held === need) {
            this.#held = 0;
            this.pos += need;
            this.step(this.#hold, 0);
          }
        }
      }
    }
  }

  /** True between steps: no partial step gathered, nothing left to pass over. */
  protected get atBoundary(): boolean {
    return this.#held === 0 && this.skip === 0;
  }

  /** The next `need` bytes, at `bytes[at]`; the view is only valid during the call. */
  protected abstract step(bytes: Uint8Array, at: number): void;

  /** Checks the walk is complete once the bytes have ended. */
  protected abstract finish(): void;

  protected skipped(_bytes: Uint8Array, _start: number, _end: number): void {}

  /** Takes bytes from `at` while `scanning`; returns where it stopped. */
  protected scan(_bytes: Uint8Array, at: number): number {
    return at;
  }

  protected fail(problem: string, technical: string, kind: FileStructureErrorKind = 'invalid'): never {
    throw new FileStructureError(kind, this.format, problem, technical);
  }
}

export const hex4 = (n: number): string => n.toString(16).toUpperCase().padStart(4, '0');
