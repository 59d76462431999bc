import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import {
  DICOM_HEADER_PREFIX_BYTES,
  extractDicomTags,
  sniffContentType,
  type ContentType,
  type DicomTags,
} from '@xray/shared';
import { DomainError } from '../errors.ts';

const SNIFF_BYTES = 132;

export interface InspectedContent {
  sha256: string;
  sizeBytes: number;
  contentType: ContentType;
  dicom: DicomTags | null;
}

/**
 * Learns what an X-ray is from its plaintext, chunk by chunk: counts and hashes it, enforces
 * the size limit, and refuses unknown content after its first bytes, so a wrong file never gets
 * far. Synchronous, so it serves a stream (ContentInspector) as well as a tus upload verified
 * PATCH by PATCH. Keeps only the header prefix in memory.
 */
export class ContentInspection {
  private readonly hash = createHash('sha256');
  private bytesSeen = 0;
  private head: Buffer[] = [];
  private headLength = 0;
  private contentType: ContentType | null = null;

  constructor(private readonly maxBytes: number) {}

  /** Memory held between chunks (the header prefix), for accounting. */
  get retainedBytes(): number {
    return this.headLength;
  }

  /** Throws a DomainError once the bytes are too many or not an accepted type. */
  update(chunk: Uint8Array): void {
    this.bytesSeen += chunk.length;
    if (this.bytesSeen > this.maxBytes) throw tooLarge(this.maxBytes);
    this.hash.update(chunk);
    if (this.headLength < DICOM_HEADER_PREFIX_BYTES) {
      const keep = chunk.subarray(0, DICOM_HEADER_PREFIX_BYTES - this.headLength);
      this.head.push(Buffer.from(keep));
      this.headLength += keep.length;
    }
    if (this.contentType === null && this.headLength >= SNIFF_BYTES) {
      this.contentType = sniffContentType(this.headBytes());
      if (this.contentType === null) throw unsupported();
    }
  }

  /** No more bytes: a file shorter than the sniff window is judged on what there is. */
  end(): void {
    if (this.contentType === null) this.contentType = sniffContentType(this.headBytes());
    if (this.contentType === null) throw unsupported();
  }

  private headBytes(): Buffer {
    if (this.head.length > 1) this.head = [Buffer.concat(this.head)];
    return this.head[0] ?? Buffer.alloc(0);
  }

  /** Valid once end() has returned. */
  result(): InspectedContent {
    if (this.contentType === null) throw unsupported();
    let dicom: InspectedContent['dicom'] = null;
    if (this.contentType === 'application/dicom') {
      try {
        dicom = extractDicomTags(this.headBytes());
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
    return { sha256: this.hash.digest('hex'), sizeBytes: this.bytesSeen, contentType: this.contentType, dicom };
  }
}

/**
 * ContentInspection as a pass-through stream stage (the REST door). No field named `size`:
 * lib-storage reads `Body.size` as the total length of a stream.
 */
export class ContentInspector extends Transform {
  private readonly inspection: ContentInspection;

  constructor(maxBytes: number) {
    super();
    this.inspection = new ContentInspection(maxBytes);
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
    done(null);
  }

  /** Valid once the stream has finished without error. */
  result(): InspectedContent {
    return this.inspection.result();
  }
}

export const tooLarge = (max: number) =>
  new DomainError('payload_too_large', `X-rays may be at most ${max} bytes (MAX_UPLOAD_BYTES).`);

const unsupported = () =>
  new DomainError('unsupported_media_type', 'Only DICOM (Part 10), PNG and JPEG images are accepted.');
