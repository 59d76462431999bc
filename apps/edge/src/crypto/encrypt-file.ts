import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { createEncryptStream } from '@xray/shared';

/** Ciphertext is gathered into Blob parts of about this size, so the JS heap holds at most one. */
const BLOB_PART_BYTES = 8 * 1024 * 1024;

export interface EncryptedFile {
  ciphertext: Blob;
  /** Lowercase hex SHA-256 of the plaintext. */
  sha256: string;
  plaintextSize: number;
}

/**
 * One pass over the file: each chunk feeds the SHA-256 and the XRE1 encrypt stream, and the
 * ciphertext goes into a Blob built from bounded parts (the browser keeps large Blobs off the
 * JS heap, on disk if it must). Memory stays flat whatever the file's size.
 */
export async function hashAndEncrypt(file: Blob, dek: CryptoKey): Promise<EncryptedFile> {
  const hash = sha256.create();
  let plaintextSize = 0;
  const tap = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      hash.update(chunk);
      plaintextSize += chunk.length;
      controller.enqueue(chunk);
    },
  });
  const reader = file.stream().pipeThrough(tap).pipeThrough(createEncryptStream(dek)).getReader();
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
  blob = new Blob([blob, ...parts]);
  if (plaintextSize !== file.size) throw new Error(`read ${plaintextSize} of ${file.size} bytes of the file`);
  return { ciphertext: blob, sha256: bytesToHex(hash.digest()), plaintextSize };
}
