import { createDecipheriv, createSecretKey, KeyObject } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import { createEncryptStream, NONCE_PREFIX_LENGTH, TAG_LENGTH, type Xre1Header } from '@xray/shared';

/**
 * XRE1 on Node: stream adapters around the format in @xray/shared (written on Web Streams and
 * WebCrypto so the edge app runs the very same code), and node:crypto segment opening for the
 * server's hot paths (tus verification, downloads).
 */
const toWeb = (r: Readable): ReadableStream<Uint8Array> => Readable.toWeb(r) as unknown as ReadableStream<Uint8Array>;
const fromWeb = (r: ReadableStream<Uint8Array>): Readable =>
  Readable.fromWeb(r as unknown as NodeWebReadableStream<Uint8Array>);

export function encryptNode(plaintext: Readable, dek: CryptoKey): Readable {
  const out = fromWeb(toWeb(plaintext).pipeThrough(createEncryptStream(dek)));
  plaintext.once('error', (err) => out.destroy(err));
  return out;
}

/** The raw bytes of an (extractable) data key. The caller zeroes them (`fill(0)`) once done. */
export async function rawDekBytes(dek: CryptoKey): Promise<Buffer> {
  return Buffer.from(await crypto.subtle.exportKey('raw', dek));
}

/** A data key as node:crypto can use it: raw bytes, a WebCrypto key (even non-extractable), or a KeyObject. */
export type DekMaterial = Uint8Array | CryptoKey | KeyObject;

/**
 * The key as a KeyObject: held by Node outside the JavaScript heap (the raw bytes given are
 * copied, and the caller can zero them at once); a CryptoKey converts without its bytes ever
 * reaching JavaScript.
 */
export const dekKeyObject = (dek: DekMaterial): KeyObject =>
  dek instanceof KeyObject ? dek : dek instanceof Uint8Array ? createSecretKey(dek) : KeyObject.from(dek);

/** What opening a segment needs of its object's header. */
export interface SegmentKey {
  key: KeyObject;
  /** The header JSON: every segment's additional data. */
  aad: Buffer;
  noncePrefix: Buffer;
}

/** The key for opening the segments of an object with this header. */
export const segmentKeyOf = (dek: DekMaterial, header: Xre1Header): SegmentKey => ({
  key: dekKeyObject(dek),
  aad: Buffer.from(header.json),
  noncePrefix: Buffer.from(header.noncePrefix),
});

/**
 * Opens sealed segment `index` on node:crypto (XRE1: nonce = prefix, u32 index, last flag; AAD =
 * the header JSON), or undefined when it does not authenticate. The plaintext is unauthenticated
 * until final() returns, so it is dropped, never returned, when final() throws.
 */
export function openSegment(k: SegmentKey, index: number, last: boolean, sealed: Uint8Array): Buffer | undefined {
  const nonce = Buffer.alloc(NONCE_PREFIX_LENGTH + 5);
  k.noncePrefix.copy(nonce);
  nonce.writeUInt32BE(index, NONCE_PREFIX_LENGTH);
  nonce[NONCE_PREFIX_LENGTH + 4] = last ? 1 : 0;
  const decipher = createDecipheriv('aes-256-gcm', k.key, nonce, { authTagLength: TAG_LENGTH });
  decipher.setAAD(k.aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH));
  const plain = decipher.update(sealed.subarray(0, sealed.length - TAG_LENGTH));
  try {
    decipher.final();
    return plain;
  } catch {
    return undefined;
  }
}
