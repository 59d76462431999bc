/**
 * Data keys (DEKs) and how they travel: wrapped with AES-KW by the device key or the server KEK,
 * and with the server's RSA-OAEP (SHA-256) public key for upload.
 */
import { Xre1Error } from './xre1.errors.ts';

const DEK_ALGORITHM = { name: 'AES-GCM', length: 256 } as const;
const DEK_USAGES: KeyUsage[] = ['encrypt', 'decrypt'];
const DEK_LENGTH = 32;

export interface UnwrapOptions {
  /** Extractable by default: a DEK must stay re-wrappable (for upload, for KEK rotation). */
  extractable?: boolean;
}

/** A fresh random AES-256-GCM key for one X-ray. */
export function generateDek(): Promise<CryptoKey> {
  return crypto.subtle.generateKey(DEK_ALGORITHM, true, DEK_USAGES);
}

/** Imports raw DEK bytes; the copy made for WebCrypto is zeroed after (the caller zeroes `raw` when done with it). */
export async function importDek(raw: Uint8Array, opts: UnwrapOptions = {}): Promise<CryptoKey> {
  if (raw.length !== DEK_LENGTH) throw new RangeError(`a DEK is ${DEK_LENGTH} bytes`);
  const copy = new Uint8Array(raw);
  try {
    return await crypto.subtle.importKey('raw', copy, DEK_ALGORITHM, opts.extractable ?? true, DEK_USAGES);
  } finally {
    copy.fill(0);
  }
}

/** AES-KW (RFC 3394): 40 bytes for a 256-bit DEK. */
export async function wrapKeyAesKw(dek: CryptoKey, kek: CryptoKey): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.wrapKey('raw', dek, kek, 'AES-KW'));
}

export async function unwrapKeyAesKw(
  wrapped: Uint8Array,
  kek: CryptoKey,
  opts: UnwrapOptions = {},
): Promise<CryptoKey> {
  return unwrapDek(wrapped, kek, 'AES-KW', opts);
}

export async function wrapKeyRsaOaep(dek: CryptoKey, publicKey: CryptoKey): Promise<Uint8Array<ArrayBuffer>> {
  assertRsaOaepSha256(publicKey);
  return new Uint8Array(await crypto.subtle.wrapKey('raw', dek, publicKey, { name: 'RSA-OAEP' }));
}

export async function unwrapKeyRsaOaep(
  wrapped: Uint8Array,
  privateKey: CryptoKey,
  opts: UnwrapOptions = {},
): Promise<CryptoKey> {
  assertRsaOaepSha256(privateKey);
  return unwrapDek(wrapped, privateKey, { name: 'RSA-OAEP' }, opts);
}

async function unwrapDek(
  wrapped: Uint8Array,
  unwrappingKey: CryptoKey,
  algorithm: AlgorithmIdentifier,
  opts: UnwrapOptions,
): Promise<CryptoKey> {
  try {
    return await crypto.subtle.unwrapKey(
      'raw',
      new Uint8Array(wrapped),
      unwrappingKey,
      algorithm,
      DEK_ALGORITHM,
      opts.extractable ?? true,
      DEK_USAGES,
    );
  } catch (cause) {
    throw new Xre1Error('unwrap_failed', 'the wrapped data key could not be unwrapped', { cause });
  }
}

/** OAEP's hash comes from the key; a SHA-1 key would silently produce incompatible wrapped keys. */
function assertRsaOaepSha256(key: CryptoKey): void {
  const algorithm = key.algorithm;
  const hash = 'hash' in algorithm ? algorithm.hash : undefined;
  const hashName = typeof hash === 'object' && hash !== null && 'name' in hash ? hash.name : undefined;
  if (algorithm.name !== 'RSA-OAEP' || hashName !== 'SHA-256') {
    throw new TypeError('expected an RSA-OAEP key with SHA-256');
  }
}
