import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { DEFAULT_SEGMENT_SIZE, createEncryptStream } from '@xray/shared';

/** Ciphertext is gathered into Blob parts of about this size, so the JS heap holds at most one. */
const BLOB_PART_BYTES = 8 * 1024 * 1024;

/**
 * Files up to this size are read whole, so WebCrypto hashes them natively while they are
 * encrypted, instead of a JavaScript SHA-256 on the main thread: for 18 MB in Chromium ~20 ms
 * instead of ~200 ms, which was the largest part of Save → "queued". WebCrypto has no streaming
 * digest, so larger files (rare: a DR image is 10–60 MB) are streamed and memory stays flat for
 * them; a whole read holds the file about twice (WebCrypto copies its input).
 */
export const WHOLE_FILE_MAX_BYTES = 64 * 1024 * 1024;

export interface EncryptedFile {
  ciphertext: Blob;
  /** Lowercase hex SHA-256 of the plaintext. */
  sha256: string;
  plaintextSize: number;
}

export interface HashAndEncryptOptions {
  /** Files up to this size are read whole (native digest); larger ones are streamed. */
  wholeFileMaxBytes?: number;
  /**
   * Lets the page handle input and draw between segments (work done ahead of Save, while the
   * paramedic types). Chromium's WebCrypto answers at once, so otherwise the whole file is sealed
   * in one task that blocks the page.
   */
  yieldBetweenSegments?: boolean;
  /** Stops reading and sealing (work ahead of Save for a file no longer wanted). */
  signal?: AbortSignal;
}

/**
 * The file's SHA-256 and its XRE1 ciphertext (a Blob built from bounded parts: the browser
 * keeps large Blobs off the JS heap, on disk if it must), in one read of the file.
 */
export async function hashAndEncrypt(
  file: Blob,
  dek: CryptoKey,
  { wholeFileMaxBytes = WHOLE_FILE_MAX_BYTES, yieldBetweenSegments = false, signal }: HashAndEncryptOptions = {},
): Promise<EncryptedFile> {
  return file.size <= wholeFileMaxBytes
    ? hashAndEncryptWhole(file, dek, yieldBetweenSegments, signal)
    : hashAndEncryptStreamed(file, dek, signal);
}

/** A macrotask boundary: input events and frames get their turn. */
const nextTask = (): Promise<void> =>
  new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(undefined);
  });

/** Read at once; the native digest runs while the segments are sealed. */
async function hashAndEncryptWhole(
  file: Blob,
  dek: CryptoKey,
  yieldBetweenSegments: boolean,
  signal?: AbortSignal,
): Promise<EncryptedFile> {
  signal?.throwIfAborted();
  const bytes = new Uint8Array(await file.arrayBuffer());
  signal?.throwIfAborted();
  if (bytes.length !== file.size) throw new Error(`read ${bytes.length} of ${file.size} bytes of the file`);
  // WebCrypto copies its input when called: the digest and the encryption share one read.
  const digest = crypto.subtle.digest('SHA-256', bytes);
  let offset = 0;
  // Handed on a segment at a time (views of the one read, no copies).
  const plaintext = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (yieldBetweenSegments && offset > 0) await nextTask();
        signal?.throwIfAborted();
        const end = Math.min(bytes.length, offset + DEFAULT_SEGMENT_SIZE);
        controller.enqueue(bytes.subarray(offset, end));
        offset = end;
        if (offset >= bytes.length) controller.close();
      },
    },
    { highWaterMark: 0 },
  );
  const [ciphertext, hash] = await Promise.all([collectBlob(plaintext.pipeThrough(createEncryptStream(dek))), digest]);
  return { ciphertext, sha256: bytesToHex(new Uint8Array(hash)), plaintextSize: bytes.length };
}

/**
 * One pass over the file: each chunk feeds the SHA-256 and the XRE1 encrypt stream. Memory
 * stays flat whatever the file's size.
 */
async function hashAndEncryptStreamed(file: Blob, dek: CryptoKey, signal?: AbortSignal): Promise<EncryptedFile> {
  const hash = sha256.create();
  let plaintextSize = 0;
  const tap = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      hash.update(chunk);
      plaintextSize += chunk.length;
      controller.enqueue(chunk);
    },
  });
  const ciphertext = await collectBlob(
    file
      .stream()
      .pipeThrough(tap, signal ? { signal } : {})
      .pipeThrough(createEncryptStream(dek)),
  );
  if (plaintextSize !== file.size) throw new Error(`read ${plaintextSize} of ${file.size} bytes of the file`);
  return { ciphertext, sha256: bytesToHex(hash.digest()), plaintextSize };
}

/** A stream's bytes as one Blob, gathered in parts of about BLOB_PART_BYTES. */
async function collectBlob(stream: ReadableStream<Uint8Array<ArrayBuffer>>): Promise<Blob> {
  const reader = stream.getReader();
  let blob = new Blob([]);
  let parts: Uint8Array<ArrayBuffer>[] = [];
  let pending = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    pending += value.length;
    if (pending >= BLOB_PART_BYTES) {
      blob = new Blob([blob, ...parts]);
      parts = [];
      pending = 0;
    }
  }
  return new Blob([blob, ...parts]);
}
