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
 * A pass-through that learns what an X-ray is while it streams: counts and hashes the
 * plaintext, enforces the size limit, and refuses unknown content after its first bytes,
 * so a wrong file never gets far. Keeps only the header prefix in memory.
 */
export class ContentInspector extends Transform {
  private readonly hash = createHash('sha256');
  // Not `size`: lib-storage reads `Body.size` as the total length of a stream.
  private bytesSeen = 0;
  private head: Buffer[] = [];
  private headLength = 0;
  private contentType: ContentType | null = null;

  constructor(private readonly maxBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytesSeen += chunk.length;
    if (this.bytesSeen > this.maxBytes) {
      done(tooLarge(this.maxBytes));
      return;
    }
    this.hash.update(chunk);
    if (this.headLength < DICOM_HEADER_PREFIX_BYTES) {
      const keep = chunk.subarray(0, DICOM_HEADER_PREFIX_BYTES - this.headLength);
      this.head.push(Buffer.from(keep));
      this.headLength += keep.length;
    }
    if (this.contentType === null && this.headLength >= SNIFF_BYTES) {
      this.contentType = sniffContentType(this.headBytes());
      if (this.contentType === null) {
        done(unsupported());
        return;
      }
    }
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.contentType === null) this.contentType = sniffContentType(this.headBytes());
    done(this.contentType === null ? unsupported() : null);
  }

  private headBytes(): Buffer {
    if (this.head.length > 1) this.head = [Buffer.concat(this.head)];
    return this.head[0] ?? Buffer.alloc(0);
  }

  /** Valid once the stream has finished without error. */
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

export const tooLarge = (max: number) =>
  new DomainError('payload_too_large', `X-rays may be at most ${max} bytes (MAX_UPLOAD_BYTES).`);

const unsupported = () =>
  new DomainError('unsupported_media_type', 'Only DICOM (Part 10), PNG and JPEG images are accepted.');
