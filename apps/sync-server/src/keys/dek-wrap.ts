import { hkdfSync, randomBytes } from 'node:crypto';

/**
 * How an X-ray's data key (DEK) is stored: wrapped by a KEK, and bound to the X-ray.
 *
 * Bound wrap, version 1 (61 bytes):
 *
 *   0x01 | nonce (12) | AES-256-GCM(wrapKey, nonce, DEK (32), AAD) ciphertext (32) | tag (16)
 *
 *   AAD     = UTF-8 JSON ["xray/dek-wrap", 1, kekId, xrayId, objectKey]
 *   wrapKey = HKDF-SHA256(KEK, salt = "", info = WRAP_KEY_INFO), 32 bytes
 *
 * The tag authenticates the X-ray id, the object key and the KEK id: a wrap copied to another
 * row (or a row pointed at another object, or relabelled with another KEK id) does not open.
 * Legacy wraps are plain AES-KW (RFC 3394) of the DEK under the raw KEK: 40 bytes, no version
 * byte, bound to nothing; they are still read, and `rotate-kek` replaces them with bound ones.
 * The length tells the two apart (a bound wrap is never 40 bytes).
 */
export const BOUND_WRAP_VERSION = 1;
export const BOUND_WRAP_LENGTH = 1 + 12 + 32 + 16;
export const LEGACY_AES_KW_LENGTH = 40;
const NONCE_LENGTH = 12;

/** Subkeys of a KEK, each for one purpose (HKDF info strings; changing one changes every wrap). */
const WRAP_KEY_INFO = 'xray kek v1: data-key wrap, AES-256-GCM';
const CHECK_VALUE_INFO = 'xray kek v1: key check value';

/** What a data-key wrap is bound to. */
export interface DekBinding {
  xrayId: string;
  objectKey: string;
}

export type WrapFormat = 'bound-v1' | 'aes-kw' | 'unknown';

export function wrapFormatOf(wrapped: Uint8Array): WrapFormat {
  if (wrapped.length === BOUND_WRAP_LENGTH && wrapped[0] === BOUND_WRAP_VERSION) return 'bound-v1';
  if (wrapped.length === LEGACY_AES_KW_LENGTH) return 'aes-kw';
  return 'unknown';
}

/** The associated data of a bound wrap: JSON of an array of strings is unambiguous (no field can run into the next). */
export const wrapAad = (kekId: string, b: DekBinding): Buffer =>
  Buffer.from(JSON.stringify(['xray/dek-wrap', BOUND_WRAP_VERSION, kekId, b.xrayId, b.objectKey]), 'utf8');

const GCM = (iv: Uint8Array, aad: Buffer): AesGcmParams => ({
  name: 'AES-GCM',
  iv: new Uint8Array(iv),
  additionalData: new Uint8Array(aad),
  tagLength: 128,
});
const DEK_ALGORITHM = { name: 'AES-GCM', length: 256 } as const;

/** Seals an (extractable) DEK for `binding`; WebCrypto takes the key bytes from `dek` internally. */
export async function sealBoundWrap(
  dek: CryptoKey,
  wrapKey: CryptoKey,
  kekId: string,
  binding: DekBinding,
): Promise<Uint8Array<ArrayBuffer>> {
  const nonce = randomBytes(NONCE_LENGTH);
  const sealed = new Uint8Array(await crypto.subtle.wrapKey('raw', dek, wrapKey, GCM(nonce, wrapAad(kekId, binding))));
  const out = new Uint8Array(BOUND_WRAP_LENGTH);
  out[0] = BOUND_WRAP_VERSION;
  out.set(nonce, 1);
  out.set(sealed, 1 + NONCE_LENGTH);
  return out;
}

/** Opens a bound wrap straight into a CryptoKey (the DEK's bytes never pass through JavaScript); rejects when it does not authenticate. */
export function openBoundWrap(
  wrapped: Uint8Array,
  wrapKey: CryptoKey,
  kekId: string,
  binding: DekBinding,
  extractable: boolean,
): Promise<CryptoKey> {
  const nonce = wrapped.subarray(1, 1 + NONCE_LENGTH);
  return crypto.subtle.unwrapKey(
    'raw',
    new Uint8Array(wrapped.subarray(1 + NONCE_LENGTH)),
    wrapKey,
    GCM(nonce, wrapAad(kekId, binding)),
    DEK_ALGORITHM,
    extractable,
    ['encrypt', 'decrypt'],
  );
}

const derive = (kek: Uint8Array, info: string): Uint8Array<ArrayBuffer> =>
  new Uint8Array(hkdfSync('sha256', kek, new Uint8Array(0), info, 32));

/**
 * The GCM wrapping subkey of a raw KEK, imported non-extractable. The derived bytes are zeroed
 * once imported; the CryptoKey itself cannot be (WebCrypto keeps its own copy, freed with it).
 */
export const importWrapKey = (kek: Uint8Array): Promise<CryptoKey> =>
  importSubkey(kek, WRAP_KEY_INFO, ['wrapKey', 'unwrapKey']);

/** The AES-256-GCM subkey of a raw KEK under label `info`, imported non-extractable (derived bytes zeroed). */
async function importSubkey(kek: Uint8Array, info: string, usages: KeyUsage[]): Promise<CryptoKey> {
  const raw = derive(kek, info);
  try {
    return await crypto.subtle.importKey('raw', raw, 'AES-GCM', false, usages);
  } finally {
    raw.fill(0);
  }
}

/**
 * The key check value of KEK `kekId`: 32 bytes of HKDF output under their own label, so it
 * says whether a configured KEK is the one stored X-rays were wrapped with, and tells nothing
 * about the KEK or its wrapping subkey.
 */
export const kekCheckValue = (kek: Uint8Array, kekId: string): Buffer =>
  Buffer.from(derive(kek, `${CHECK_VALUE_INFO}\0${kekId}`).buffer);

/**
 * The recovery record of an X-ray (xrays/xray-record.ts): its row, wrapped data key included, sealed
 * with AES-256-GCM under a subkey of its own label, so a stored object can be given back its row
 * after a restore that lost it. AAD = UTF-8 JSON ["xray/record", 1, kekId, xrayId, objectKey]: a
 * record copied beside another object, or relabelled with another KEK id, does not open.
 */
const RECORD_KEY_INFO = 'xray kek v1: recovery record, AES-256-GCM';
const RECORD_VERSION = 1;

const recordAad = (kekId: string, b: DekBinding): Buffer =>
  Buffer.from(JSON.stringify(['xray/record', RECORD_VERSION, kekId, b.xrayId, b.objectKey]), 'utf8');

/** The record-sealing subkey of a raw KEK, imported non-extractable (derived bytes zeroed). */
export const importRecordKey = (kek: Uint8Array): Promise<CryptoKey> =>
  importSubkey(kek, RECORD_KEY_INFO, ['encrypt', 'decrypt']);

/** nonce (12) | ciphertext | tag (16). */
export async function sealRecordBytes(
  plaintext: Uint8Array,
  recordKey: CryptoKey,
  kekId: string,
  binding: DekBinding,
): Promise<Uint8Array> {
  const nonce = randomBytes(NONCE_LENGTH);
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt(GCM(nonce, recordAad(kekId, binding)), recordKey, new Uint8Array(plaintext)),
  );
  const out = new Uint8Array(NONCE_LENGTH + sealed.length);
  out.set(nonce, 0);
  out.set(sealed, NONCE_LENGTH);
  return out;
}

/** Opens what sealRecordBytes made; rejects when it does not authenticate for this KEK id and binding. */
export async function openRecordBytes(
  sealed: Uint8Array,
  recordKey: CryptoKey,
  kekId: string,
  binding: DekBinding,
): Promise<Uint8Array> {
  const nonce = sealed.subarray(0, NONCE_LENGTH);
  return new Uint8Array(
    await crypto.subtle.decrypt(
      GCM(nonce, recordAad(kekId, binding)),
      recordKey,
      new Uint8Array(sealed.subarray(NONCE_LENGTH)),
    ),
  );
}
