import { decryptBytes, encryptBytes } from '@xray/shared';
import type { CaptureMetadata } from '../db/edge.records.ts';

/** A JSON value sealed as one small XRE1 object under a DEK (a random nonce prefix per object). */
export async function sealJson(dek: CryptoKey, value: unknown): Promise<Uint8Array> {
  return encryptBytes(dek, new TextEncoder().encode(JSON.stringify(value)));
}

/** The JSON value back (unchecked: the caller checks its shape). */
export async function openJson(dek: CryptoKey, sealed: Uint8Array): Promise<unknown> {
  return JSON.parse(new TextDecoder().decode(await decryptBytes(dek, sealed)));
}

/**
 * A capture's metadata is sealed as its own small XRE1 object under the capture's DEK: one
 * key per X-ray, one authenticated format, and a random nonce prefix per object.
 */
export const sealMetadata = (dek: CryptoKey, metadata: CaptureMetadata): Promise<Uint8Array> => sealJson(dek, metadata);

export async function openMetadata(dek: CryptoKey, sealed: Uint8Array): Promise<CaptureMetadata> {
  const parsed = await openJson(dek, sealed);
  if (!isCaptureMetadata(parsed)) throw new Error('decrypted capture metadata has an unexpected shape');
  return parsed;
}

function isCaptureMetadata(v: unknown): v is CaptureMetadata {
  if (typeof v !== 'object' || v === null || !('xray' in v)) return false;
  const xray: unknown = v.xray;
  return typeof xray === 'object' && xray !== null;
}
