import { Readable } from 'node:stream';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import { createEncryptStream } from '@xray/shared';

/**
 * Node-stream adapters around the XRE1 format in @xray/shared (which is written on Web
 * Streams and WebCrypto so the edge app runs the very same code).
 */
const toWeb = (r: Readable): ReadableStream<Uint8Array> => Readable.toWeb(r) as unknown as ReadableStream<Uint8Array>;
const fromWeb = (r: ReadableStream<Uint8Array>): Readable =>
  Readable.fromWeb(r as unknown as NodeWebReadableStream<Uint8Array>);

export function encryptNode(plaintext: Readable, dek: CryptoKey): Readable {
  const out = fromWeb(toWeb(plaintext).pipeThrough(createEncryptStream(dek)));
  plaintext.once('error', (err) => out.destroy(err));
  return out;
}
