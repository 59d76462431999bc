import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import {
  DICOM_HEADER_PREFIX_BYTES,
  DICOM_HEADER_TOO_LONG,
  DICOM_MAX_HEADER_BYTES,
  dicomTagsOf,
  DicomWalker,
  FileStructureError,
  formatWalkerFor,
  loadDicomReader,
  sniffContentType,
  type ContentType,
  type DicomHeader,
  type DicomReader,
  type DicomTags,
  type FormatWalker,
  type FormatWalkerOptions,
} from '@xray/shared';
import { DomainError } from '../errors.ts';

const SNIFF_BYTES = 132;

/** node:zlib's native CRC-32 for PNG chunks, about five times the portable one (Node 20.15+; else that one). */
const WALKER_OPTIONS: FormatWalkerOptions =
  typeof zlib.crc32 === 'function'
    ? { crc32: (bytes, previous, start, end) => zlib.crc32(bytes.subarray(start, end), previous) }
    : {};

/** What reads a DICOM header. */
export type DicomHeaderReader = Pick<DicomReader, 'readDicomHeader'>;

/** How to get the reader: the one loaded already (synchronously), or its load. */
export interface DicomReaderLoader {
  current(): DicomHeaderReader | undefined;
  load(): Promise<DicomHeaderReader>;
}

/**
 * The reader, or its loader: an inspection given a loader loads it only once the first bytes say
 * DICOM (a PNG or JPEG never needs dcmjs), and waits for it in `ready()`.
 */
export type DicomReaderSource = DicomHeaderReader | DicomReaderLoader;

let loadedReader: DicomHeaderReader | undefined;

/**
 * loadDicomReader for uploads. A failed load (the reader's chunk missing from an install) is the
 * server's fault, an internal error, never the upload's nor object storage's; it is not kept: the
 * next DICOM tries again.
 */
export const dicomReaderLoader: DicomReaderLoader = {
  current: () => loadedReader,
  load: () =>
    loadDicomReader().then(
      (reader) => (loadedReader = reader),
      (err: unknown) => {
        throw new DomainError(
          'internal',
          'The DICOM reader could not be loaded, so the file could not be inspected; nothing was stored.',
          undefined,
          { cause: err },
        );
      },
    ),
};

export interface InspectedContent {
  sha256: string;
  sizeBytes: number;
  contentType: ContentType;
  dicom: DicomTags | null;
  /** The DICOM header, read whole to its pixel data (dcmjs): the DICOMweb index is made from it. */
  dicomHeader?: DicomHeader | null;
}

/**
 * Learns what an X-ray is from its plaintext, chunk by chunk: counts and hashes it, enforces
 * the size limit, refuses unknown content after its first bytes, and walks the structure of
 * its type to the last byte (a polyglot, a truncated or damaged file is refused as soon as it
 * shows), so a wrong file never gets far. Synchronous, so it serves a stream (ContentInspector)
 * as well as a tus upload verified PATCH by PATCH. Keeps only the header in memory: a DICOM's
 * whole, to its pixel data (the patient tags may come late; a prefix would miss them), at most
 * DICOM_MAX_HEADER_BYTES (longer is refused); another type's first bytes.
 */
export class ContentInspection {
  private readonly hash = createHash('sha256');
  private bytesSeen = 0;
  private head: Buffer[] = [];
  private headLength = 0;
  private contentType: ContentType | null = null;
  private walker: FormatWalker | null = null;
  private ended = false;
  /**
   * The first refusal; every later call, result() included, throws it again. A stream stage's
   * error can go unseen downstream (emitted before the consumer attached): result() is the gate.
   */
  private failure: { error: unknown } | null = null;
  private reader: DicomHeaderReader | undefined;
  private readonly loader: DicomReaderLoader | undefined;
  /** The reader's load, started once the bytes say DICOM (a loader was given). */
  private loading: Promise<unknown> | undefined;
  private loadFailure: { error: unknown } | undefined;

  /**
   * `dicom` reads a DICOM file's header at the end: the reader, or its loader (dicomReaderLoader:
   * dcmjs is loaded only for a DICOM file, not at start nor for a PNG or JPEG).
   */
  constructor(
    private readonly maxBytes: number,
    dicom: DicomReaderSource,
  ) {
    if ('load' in dicom) this.loader = dicom;
    else this.reader = dicom;
  }

  /**
   * Resolves once result() can read a DICOM header (at once for another type, or when given the
   * reader); rejects with the reader's load failure.
   */
  async ready(): Promise<void> {
    if (this.loading) await this.loading;
    if (this.loadFailure) throw this.loadFailure.error;
  }

  /** Memory held between chunks (the header, the walker's buffer), for accounting. */
  get retainedBytes(): number {
    return this.headLength + (this.walker?.retainedBytes ?? 0);
  }

  /** Throws a DomainError once the bytes are too many, not an accepted type, or not what the type says. */
  update(chunk: Uint8Array): void {
    this.guard(() => this.take(chunk));
  }

  /** No more bytes: a file shorter than the sniff window is judged on what there is. */
  end(): void {
    this.guard(() => {
      const walker = this.walker ?? this.startWalking(this.bytesSeen);
      walk(() => walker.end());
      this.ended = true;
    });
  }

  private guard(work: () => void): void {
    if (this.failure) throw this.failure.error;
    try {
      work();
    } catch (error) {
      this.failure = { error };
      throw error;
    }
  }

  private take(chunk: Uint8Array): void {
    const from = this.bytesSeen;
    this.bytesSeen += chunk.length;
    if (this.bytesSeen > this.maxBytes) throw tooLarge(this.maxBytes);
    this.hash.update(chunk);
    // Until the type is known every byte is kept in the head: the walker starts from the first.
    if (this.contentType === null) this.keep(chunk, from, DICOM_HEADER_PREFIX_BYTES);
    const walker = this.walker ?? (this.headLength >= SNIFF_BYTES ? this.startWalking(from) : null);
    if (!walker) return;
    walk(() => walker.update(chunk));
    if (this.contentType === 'application/dicom') this.keepDicomHeader(chunk, from);
  }

  /** Appends the bytes of `chunk` (at offset `from` of the file) that extend the head up to `limit`. */
  private keep(chunk: Uint8Array, from: number, limit: number): void {
    if (this.headLength >= limit || this.headLength < from) return;
    const keep = chunk.subarray(this.headLength - from, limit - from);
    if (keep.length === 0) return;
    this.head.push(Buffer.from(keep));
    this.headLength += keep.length;
  }

  /**
   * A DICOM's head grows to where its pixel data's value starts (the walker says where), then
   * drops what it holds past that; a header that has not ended by DICOM_MAX_HEADER_BYTES is refused.
   */
  private keepDicomHeader(chunk: Uint8Array, from: number): void {
    const pixels = this.walker instanceof DicomWalker ? this.walker.pixelData : undefined;
    const end = pixels ? pixels.valueOffset : this.bytesSeen;
    if (end > DICOM_MAX_HEADER_BYTES) {
      throw new DomainError(
        'content_invalid',
        `The DICOM file ${DICOM_HEADER_TOO_LONG}. Nothing was stored. (` +
          (pixels
            ? `pixel data (7FE0,0010) starts at byte ${pixels.start}`
            : `no pixel data (7FE0,0010) in the first ${DICOM_MAX_HEADER_BYTES} bytes`) +
          `; the limit is ${DICOM_MAX_HEADER_BYTES})`,
      );
    }
    this.keep(chunk, from, pixels ? pixels.valueOffset : DICOM_MAX_HEADER_BYTES);
    if (pixels && this.headLength > pixels.valueOffset) {
      // A copy: a view would keep the whole chunk it came from.
      this.head = [Buffer.from(this.headBytes().subarray(0, pixels.valueOffset))];
      this.headLength = pixels.valueOffset;
    }
  }

  /** Tells the type from the head, and walks its first `bytes` bytes. */
  private startWalking(bytes: number): FormatWalker {
    this.contentType = sniffContentType(this.headBytes());
    if (this.contentType === null) throw unsupported();
    if (this.contentType === 'application/dicom' && !this.reader && this.loader) {
      this.reader = this.loader.current();
      // Else it loads while the rest of the file arrives; a failure is kept for ready() and result().
      if (!this.reader)
        this.loading = this.loader.load().then(
          (reader) => {
            this.reader = reader;
          },
          (error: unknown) => {
            this.loadFailure = { error };
          },
        );
    }
    const walker = formatWalkerFor(this.contentType, WALKER_OPTIONS);
    this.walker = walker;
    walk(() => walker.update(this.headBytes().subarray(0, bytes)));
    return walker;
  }

  private headBytes(): Buffer {
    if (this.head.length > 1) this.head = [Buffer.concat(this.head)];
    return this.head[0] ?? Buffer.alloc(0);
  }

  /** Valid once end() has returned; throws the refusal if there was one. */
  result(): InspectedContent {
    if (this.failure) throw this.failure.error;
    if (!this.ended || this.contentType === null) throw new Error('ContentInspection.result() before end()');
    let dicom: InspectedContent['dicom'] = null;
    let dicomHeader: InspectedContent['dicomHeader'] = null;
    if (this.contentType === 'application/dicom') {
      if (this.loadFailure) throw this.loadFailure.error;
      const reader = this.reader;
      if (!reader) throw new Error('ContentInspection.result() before ready(): the DICOM reader is still loading');
      try {
        dicomHeader = reader.readDicomHeader(this.headBytes());
        dicom = dicomTagsOf(dicomHeader);
      } catch (err) {
        throw new DomainError(
          'unsupported_media_type',
          'The file says it is DICOM but its header cannot be read.',
          undefined,
          {
            cause: err,
          },
        );
      }
    }
    return {
      sha256: this.hash.digest('hex'),
      sizeBytes: this.bytesSeen,
      contentType: this.contentType,
      dicom,
      dicomHeader,
    };
  }
}

/**
 * ContentInspection as a pass-through stream stage (the REST door). No field named `size`:
 * lib-storage reads `Body.size` as the total length of a stream.
 */
export class ContentInspector extends Transform {
  private readonly inspection: ContentInspection;

  constructor(maxBytes: number, dicom: DicomReaderSource) {
    super();
    this.inspection = new ContentInspection(maxBytes, dicom);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.inspection.update(chunk);
    } catch (err) {
      done(err as Error);
      return;
    }
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    try {
      this.inspection.end();
    } catch (err) {
      done(err as Error);
      return;
    }
    // A DICOM's reader, loaded once its first bytes said DICOM: result() reads the header with it.
    this.inspection.ready().then(
      () => done(null),
      (err: unknown) => done(err as Error),
    );
  }

  /** Valid once the stream has finished without error. */
  result(): InspectedContent {
    return this.inspection.result();
  }
}

export const tooLarge = (max: number) =>
  new DomainError('payload_too_large', `X-rays may be at most ${max} bytes (MAX_UPLOAD_BYTES).`);

/** A structural refusal as the API answers it: 422 when broken or a polyglot, 415 for an encoding not taken. */
function walk(work: () => void): void {
  try {
    work();
  } catch (err) {
    if (!(err instanceof FileStructureError)) throw err;
    const code = err.kind === 'unsupported' ? 'unsupported_media_type' : 'content_invalid';
    throw new DomainError(code, `${err.message} Nothing was stored. (${err.technical})`, undefined, { cause: err });
  }
}

const unsupported = () =>
  new DomainError('unsupported_media_type', 'Only DICOM (Part 10), PNG and JPEG images are accepted.');
