import { unwrapKeyAesKw, wrapKeyAesKw } from '@xray/shared';
import type { EdgeDb } from '../db/edge.db.ts';

export const DEVICE_KEY_ID = 'device';

/**
 * A non-extractable key kept in IndexedDB under `id` (which stores the CryptoKey without ever
 * exposing its bytes to script), made on first use.
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

/** The device key: AES-KW, made on first run. It wraps each capture's DEK. */
export const getOrCreateDeviceKey = (db: EdgeDb): Promise<CryptoKey> =>
  getOrCreateStoredKey(db, DEVICE_KEY_ID, { name: 'AES-KW', length: 256 }, ['wrapKey', 'unwrapKey']);

export async function wrapWithDeviceKey(db: EdgeDb, dek: CryptoKey): Promise<{ wrapped: Uint8Array; keyId: string }> {
  return { wrapped: await wrapKeyAesKw(dek, await getOrCreateDeviceKey(db)), keyId: DEVICE_KEY_ID };
}

/** The DEK back, extractable so it can be re-wrapped for the server. */
export async function unwrapWithDeviceKey(db: EdgeDb, wrapped: Uint8Array, keyId: string): Promise<CryptoKey> {
  const row = await db.keys.get(keyId);
  if (!row) throw new Error(`device key ${keyId} is missing: this capture cannot be decrypted on this device`);
  return unwrapKeyAesKw(wrapped, row.key);
}
