import { unwrapKeyAesKw, wrapKeyAesKw } from '@xray/shared';
import type { EdgeDb } from '../db/edge.db.ts';
import { keyVaultFor, type KeyVault } from './key.vault.ts';

/**
 * The device key: an ECDH P-256 key pair. Each capture's data key is wrapped to its PUBLIC key
 * (ECDH-ES with a fresh ephemeral key per capture, HKDF-SHA-256, then AES-KW: the construction
 * of JWE's ECDH-ES+A256KW), and the public key is kept in the clear, so capturing needs no secret and works while the
 * device is locked; the PRIVATE key, which reading a capture back (the queue's names, the upload)
 * needs, is sealed in the key vault under the shift PIN or the OS keyring (key.vault.ts).
 *
 * On a device where no PIN has been set yet (a capture before the first sign-in), the private key
 * is kept as a CryptoKey in `keys` (its bytes on disk, as before key protection) and moved into
 * the vault when the PIN is set (`protectDeviceKeys`). Captures from before key protection, wrapped
 * with the old AES-KW key `device`, are re-wrapped to the public key then, and that key deleted.
 */
export const DEVICE_KEY_ID = 'device-ecdh';
export const DEVICE_PUBLIC_KEY_ID = 'device-ecdh.public';
export const DEVICE_PRIVATE_KEY_ID = 'device-ecdh.private';
/** The AES-KW device key of versions before key protection (its bytes are on disk). */
export const LEGACY_DEVICE_KEY_ID = 'device';

const DEVICE_KEY_ALGORITHM: EcKeyGenParams = { name: 'ECDH', namedCurve: 'P-256' };
/** An uncompressed P-256 point. */
const EPHEMERAL_BYTES = 65;
const HKDF_INFO = new TextEncoder().encode('xray-edge device-ecdh dek wrap v1');

/** The AES-KW key of one wrap: HKDF-SHA-256 of the ECDH secret, bound to the ephemeral key. */
async function wrapKeyOf(privateKey: CryptoKey, publicKey: CryptoKey, ephemeralRaw: Uint8Array): Promise<CryptoKey> {
  const secret = new Uint8Array(await crypto.subtle.deriveBits({ name: 'ECDH', public: publicKey }, privateKey, 256));
  try {
    const ikm = await crypto.subtle.importKey('raw', secret, 'HKDF', false, ['deriveKey']);
    const info = new Uint8Array(HKDF_INFO.length + ephemeralRaw.length);
    info.set(HKDF_INFO);
    info.set(ephemeralRaw, HKDF_INFO.length);
    return await crypto.subtle.deriveKey(
      { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info },
      ikm,
      { name: 'AES-KW', length: 256 },
      false,
      ['wrapKey', 'unwrapKey'],
    );
  } finally {
    secret.fill(0);
  }
}

/** ECDH-ES to the device's public key: ephemeral public key (65 bytes) ‖ AES-KW of the DEK (40 bytes). */
export async function wrapToDevicePublicKey(dek: CryptoKey, devicePublic: CryptoKey): Promise<Uint8Array> {
  const ephemeral = await crypto.subtle.generateKey(DEVICE_KEY_ALGORITHM, true, ['deriveBits']);
  const ephemeralRaw = new Uint8Array(await crypto.subtle.exportKey('raw', ephemeral.publicKey));
  const kek = await wrapKeyOf(ephemeral.privateKey, devicePublic, ephemeralRaw);
  const wrapped = await wrapKeyAesKw(dek, kek);
  const out = new Uint8Array(ephemeralRaw.length + wrapped.length);
  out.set(ephemeralRaw);
  out.set(wrapped, ephemeralRaw.length);
  return out;
}

export async function unwrapWithDevicePrivateKey(wrapped: Uint8Array, devicePrivate: CryptoKey): Promise<CryptoKey> {
  const ephemeralRaw = new Uint8Array(wrapped.subarray(0, EPHEMERAL_BYTES));
  const ephemeral = await crypto.subtle.importKey('raw', ephemeralRaw, DEVICE_KEY_ALGORITHM, false, []);
  const kek = await wrapKeyOf(devicePrivate, ephemeral, ephemeralRaw);
  return unwrapKeyAesKw(wrapped.subarray(EPHEMERAL_BYTES), kek);
}

/** Reading a capture needs the device unlocked. */
export class DeviceLockedError extends Error {
  override readonly name = 'DeviceLockedError';
  constructor() {
    super('Unlock the device with the shift PIN to read this capture.');
  }
}

/**
 * A non-extractable key kept in IndexedDB under `id`, made on first use. Its bytes end up in the
 * database's files: only for keys that may be read off the disk (use the key vault for secrets).
 */
export async function getOrCreateStoredKey(
  db: EdgeDb,
  id: string,
  algorithm: AesKeyGenParams,
  usages: KeyUsage[],
): Promise<CryptoKey> {
  const existing = await db.keys.get(id);
  if (existing) return existing.key;
  // Key generation is async WebCrypto work: done before the transaction, never inside it.
  const fresh = await crypto.subtle.generateKey(algorithm, false, usages);
  // Another tab may have won the race meanwhile: whichever key was stored first is the key.
  return db.transaction('rw', db.keys, async () => {
    const stored = await db.keys.get(id);
    if (stored) return stored.key;
    await db.keys.add({ id, key: fresh, createdAt: Date.now() });
    return fresh;
  });
}

/**
 * The device's public key, the key pair made on first use: its private half goes into the vault
 * when it is unlocked, otherwise (no PIN yet) into `keys` until `protectDeviceKeys`.
 */
export async function getOrCreateDevicePublicKey(db: EdgeDb): Promise<CryptoKey> {
  const existing = await db.keys.get(DEVICE_PUBLIC_KEY_ID);
  if (existing) return existing.key;
  const vault = keyVaultFor(db);
  const pair = await crypto.subtle.generateKey(DEVICE_KEY_ALGORITHM, true, ['deriveBits']);
  const sealed = vault.unlocked;
  const now = Date.now();
  const won = await db.transaction('rw', db.keys, async () => {
    const stored = await db.keys.get(DEVICE_PUBLIC_KEY_ID);
    if (stored) return stored.key;
    await db.keys.add({ id: DEVICE_PUBLIC_KEY_ID, key: pair.publicKey, createdAt: now });
    if (!sealed) await db.keys.put({ id: DEVICE_PRIVATE_KEY_ID, key: pair.privateKey, createdAt: now });
    return pair.publicKey;
  });
  if (won === pair.publicKey && sealed) await vault.put(DEVICE_PRIVATE_KEY_ID, pair.privateKey);
  return won;
}

/** Wraps a capture's DEK to the device's public key: no secret needed. */
export async function wrapWithDeviceKey(db: EdgeDb, dek: CryptoKey): Promise<{ wrapped: Uint8Array; keyId: string }> {
  return { wrapped: await wrapToDevicePublicKey(dek, await getOrCreateDevicePublicKey(db)), keyId: DEVICE_KEY_ID };
}

/** The DEK back, extractable so it can be re-wrapped for the server; needs the device unlocked. */
export async function unwrapWithDeviceKey(db: EdgeDb, wrapped: Uint8Array, keyId: string): Promise<CryptoKey> {
  if (keyId === LEGACY_DEVICE_KEY_ID) {
    const legacy = await db.keys.get(LEGACY_DEVICE_KEY_ID);
    if (legacy) return unwrapKeyAesKw(wrapped, legacy.key);
  } else if (keyId === DEVICE_KEY_ID) {
    const vault = keyVaultFor(db);
    const inVault = vault.get(DEVICE_PRIVATE_KEY_ID);
    if (inVault) return unwrapWithDevicePrivateKey(wrapped, inVault);
    const provisional = await db.keys.get(DEVICE_PRIVATE_KEY_ID);
    if (provisional) return unwrapWithDevicePrivateKey(wrapped, provisional.key);
    if (!vault.unlocked && (await vault.has(DEVICE_PRIVATE_KEY_ID))) throw new DeviceLockedError();
  }
  throw new Error(`device key ${keyId} is missing: this capture cannot be decrypted on this device`);
}

/**
 * Once the vault is unlocked: seals a private key still kept in `keys` (made before the PIN)
 * into the vault, makes the key pair if there is none, and re-wraps captures still under the
 * AES-KW key of older versions, then deletes that key. Idempotent.
 */
export async function protectDeviceKeys(db: EdgeDb, vault: KeyVault = keyVaultFor(db)): Promise<void> {
  const provisional = await db.keys.get(DEVICE_PRIVATE_KEY_ID);
  if (provisional) {
    if (!(await vault.has(DEVICE_PRIVATE_KEY_ID))) await vault.put(DEVICE_PRIVATE_KEY_ID, provisional.key);
    await db.keys.delete(DEVICE_PRIVATE_KEY_ID);
  }
  const publicKey = await getOrCreateDevicePublicKey(db);
  const legacy = await db.keys.get(LEGACY_DEVICE_KEY_ID);
  if (!legacy) return;
  // `keyId` is not indexed: the queue is small (sent captures keep only their record).
  const captures = (await db.captures.toArray()).filter((c) => c.keyId === LEGACY_DEVICE_KEY_ID);
  for (const c of captures) {
    const dek = await unwrapKeyAesKw(c.wrappedDek, legacy.key);
    const wrappedDek = await wrapToDevicePublicKey(dek, publicKey);
    await db.captures.update(c.id, { wrappedDek, keyId: DEVICE_KEY_ID });
  }
  await db.keys.delete(LEGACY_DEVICE_KEY_ID);
}
