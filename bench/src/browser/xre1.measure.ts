/**
 * XRE1 against one-shot AES-256-GCM on the same bytes. Runs unchanged in Node and in Chromium
 * (bundled into the page): WebCrypto and Web Streams only.
 */
import { createDecryptStream, createEncryptStream, generateDek } from '@xray/shared';

/** What a file read yields at a time (Node's fs streams and Chromium's Blob streams both use 64 KiB). */
const READ_CHUNK = 64 * 1024;

export interface Xre1Run {
  xre1Encrypt: number;
  xre1Decrypt: number;
  oneShotEncrypt: number;
  oneShotDecrypt: number;
}

function chunked(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(offset, offset + READ_CHUNK));
      offset += READ_CHUNK;
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    size += value.length;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const mbps = (bytes: number, ms: number): number => bytes / 1e6 / (ms / 1000);

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const out = await fn();
  return [out, performance.now() - t0];
}

/** MB/s (of plaintext) for each of the four operations, `runs` times. */
export async function measureXre1(plaintext: Uint8Array<ArrayBuffer>, runs: number): Promise<Xre1Run[]> {
  const out: Xre1Run[] = [];
  for (let i = 0; i <= runs; i++) {
    const dek = await generateDek();
    const [ciphertext, encMs] = await timed(() => collect(chunked(plaintext).pipeThrough(createEncryptStream(dek))));
    const [decrypted, decMs] = await timed(() => collect(chunked(ciphertext).pipeThrough(createDecryptStream(dek))));
    if (decrypted.length !== plaintext.length) throw new Error('XRE1 round trip changed the length');
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const [sealed, oneEncMs] = await timed(() => crypto.subtle.encrypt({ name: 'AES-GCM', iv }, dek, plaintext));
    const [, oneDecMs] = await timed(() => crypto.subtle.decrypt({ name: 'AES-GCM', iv }, dek, sealed));
    // The first pass warms up (JIT, buffers) and is not kept.
    if (i > 0)
      out.push({
        xre1Encrypt: mbps(plaintext.length, encMs),
        xre1Decrypt: mbps(plaintext.length, decMs),
        oneShotEncrypt: mbps(plaintext.length, oneEncMs),
        oneShotDecrypt: mbps(plaintext.length, oneDecMs),
      });
  }
  return out;
}
