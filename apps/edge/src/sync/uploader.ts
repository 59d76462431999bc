import type { UploadFailure } from './upload.failure.ts';

/** One upload of a capture's ciphertext, as the sync engine asks for it. */
export interface UploadRequest {
  captureId: string;
  ciphertext: Blob;
  /** tus Upload-Metadata. */
  metadata: Record<string, string>;
  chunkSize: number;
  /** Asked before every request, so a token refreshed mid-upload is used at once. */
  token: () => Promise<string | null>;
  /** Bytes sent (including in flight) of `total`. */
  onProgress: (sent: number, total: number) => void;
  /** The server accepted a chunk: the attempt made progress. */
  onChunkAccepted: (accepted: number, total: number) => void;
  signal: AbortSignal;
  /**
   * Asked at every chunk boundary (a chunk accepted, more to send): true stops the upload there,
   * with nothing in flight (UploadAbortedError); the next attempt resumes from the server's offset.
   */
  shouldPause?: () => boolean;
}

/** What the server said about the finished upload (headers of the final response, or of a HEAD/re-create). */
export interface UploadResult {
  xrayId: string | null;
  sha256: string | null;
}

/** Raised by an uploader: the attempt failed for this reason. */
export class UploadError extends Error {
  override readonly name = 'UploadError';
  readonly failure: UploadFailure;

  constructor(failure: UploadFailure, options?: ErrorOptions) {
    super(failure.message, options);
    this.failure = failure;
  }
}

/** Raised when the engine stopped an upload (stop, offline, a pause): not a failure of the capture. */
export class UploadAbortedError extends Error {
  override readonly name = 'UploadAbortedError';
}

/** Sends a capture to the server; resumes where an earlier attempt left off. The tus adapter is the real one. */
export interface Uploader {
  upload(request: UploadRequest): Promise<UploadResult>;
}
