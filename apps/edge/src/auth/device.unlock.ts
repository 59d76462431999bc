import { protectDeviceKeys } from '../crypto/device-key.ts';
import { keyVaultFor, type KeyringProtector } from '../crypto/key.vault.ts';
import type { EdgeDb } from '../db/edge.db.ts';
import { DPOP_PRIVATE_KEY_ID } from './dpop.key.ts';
import { flushPendingSession } from './token.vault.ts';

/**
 * Unlocking the device for a shift. After the vault opens, keys made before it existed are moved
 * into it (device-key.ts) and a sign-in made while it was locked is stored sealed (token.vault.ts).
 */
async function afterUnlock(db: EdgeDb): Promise<void> {
  await protectDeviceKeys(db);
  // A DPoP private key made before the vault existed: sealed now, its unsealed row deleted.
  const dpop = await db.keys.get(DPOP_PRIVATE_KEY_ID);
  if (dpop?.key.extractable) {
    const vault = keyVaultFor(db);
    if (!(await vault.has(DPOP_PRIVATE_KEY_ID))) await vault.put(DPOP_PRIVATE_KEY_ID, dpop.key);
    await db.keys.delete(DPOP_PRIVATE_KEY_ID);
  }
  await flushPendingSession(db);
}

/** First sign-in in the browser: the shift PIN is chosen. */
export async function setUpPin(db: EdgeDb, pin: string): Promise<void> {
  await keyVaultFor(db).setUpWithPin(pin);
  await afterUnlock(db);
}

/** Start of a shift in the browser; throws a VaultError (`wrong_pin`, `rate_limited`). */
export async function unlockWithPin(db: EdgeDb, pin: string): Promise<void> {
  await keyVaultFor(db).unlockWithPin(pin);
  await afterUnlock(db);
}

/** Electron: the OS keyring opens the vault at start (and sets it up on first start). */
export async function unlockWithKeyring(db: EdgeDb, keyring: KeyringProtector): Promise<void> {
  const vault = keyVaultFor(db);
  const state = await vault.state();
  if (state === 'none') await vault.setUpWithKeyring(keyring);
  else if (state === 'locked') await vault.unlockWithKeyring(keyring);
  await afterUnlock(db);
}
