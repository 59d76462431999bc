import { calculateThumbprint } from 'dpop';
import { VaultError, keyVaultFor } from '../crypto/key.vault.ts';
import type { EdgeDb } from '../db/edge.db.ts';

/** The DPoP key pair (RFC 9449) this install proves on every request to the sync server. */
export const DPOP_PRIVATE_KEY_ID = 'dpop.private';
export const DPOP_PUBLIC_KEY_ID = 'dpop.public';

const DPOP_ALGORITHM: EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };

/**
 * The device's DPoP key: ES256, made on first use. Its tokens are bound to it (`cnf.jkt`), and
 * the server knows the device by its thumbprint. The public half is kept in `keys`; the private
 * half is sealed in the key vault (crypto/key.vault.ts: under the shift PIN or the OS keyring) and
 * used from memory, non-extractable. Made before any vault exists (Electron without a keyring
 * signing in first), it waits in `keys` until the PIN is set (auth/device.unlock.ts seals it).
 * While the vault is locked there is no key: sign-in and requests wait for the unlock.
 */
export function getDpopKey(db: EdgeDb): Promise<CryptoKeyPair> {
  // One at a time per database in this page: two first uses must not make two keys.
  const previous = making.get(db) ?? Promise.resolve();
  const next = previous.catch(() => undefined).then(() => loadOrMake(db));
  making.set(db, next);
  return next;
}

const making = new WeakMap<EdgeDb, Promise<CryptoKeyPair>>();

async function loadOrMake(db: EdgeDb): Promise<CryptoKeyPair> {
  const vault = keyVaultFor(db);
  const pub = (await db.keys.get(DPOP_PUBLIC_KEY_ID))?.key;
  if (pub) {
    const sealed = vault.get(DPOP_PRIVATE_KEY_ID);
    if (sealed) return { privateKey: sealed, publicKey: pub };
    const provisional = (await db.keys.get(DPOP_PRIVATE_KEY_ID))?.key;
    if (provisional) return { privateKey: provisional, publicKey: pub };
    if (await vault.has(DPOP_PRIVATE_KEY_ID))
      throw new VaultError('locked', 'Unlock the device with the shift PIN first.');
  }
  // Generated before the transaction: never await other work inside a Dexie transaction.
  // Extractable only so that the vault can seal its bytes; in use it is the vault's copy.
  const fresh = await crypto.subtle.generateKey(DPOP_ALGORITHM, true, ['sign', 'verify']);
  const now = Date.now();
  if (vault.unlocked) {
    const privateKey = await vault.put(DPOP_PRIVATE_KEY_ID, fresh.privateKey);
    await db.keys.put({ id: DPOP_PUBLIC_KEY_ID, key: fresh.publicKey, createdAt: now });
    return { privateKey, publicKey: fresh.publicKey };
  }
  return db.transaction('rw', db.keys, async () => {
    // Another tab may have won the race meanwhile: whichever pair was stored first is the key.
    const [priv, stored] = await db.keys.bulkGet([DPOP_PRIVATE_KEY_ID, DPOP_PUBLIC_KEY_ID]);
    if (priv && stored) return { privateKey: priv.key, publicKey: stored.key };
    await db.keys.bulkPut([
      { id: DPOP_PRIVATE_KEY_ID, key: fresh.privateKey, createdAt: now },
      { id: DPOP_PUBLIC_KEY_ID, key: fresh.publicKey, createdAt: now },
    ]);
    return fresh;
  });
}

/** RFC 7638 thumbprint of the key's public half: what the server and the token's `cnf.jkt` name. */
export const dpopThumbprint = (pair: CryptoKeyPair): Promise<string> => calculateThumbprint(pair.publicKey);
