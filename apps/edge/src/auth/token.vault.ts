import { keyVaultFor } from '../crypto/key.vault.ts';
import type { EdgeDb } from '../db/edge.db.ts';
import type { SealedSession } from '../db/edge.records.ts';

/** The token key in the key vault (AES-256-GCM, sealed under the PIN or keyring KEK). */
export const TOKEN_KEY_ID = 'token.aes';
/** The token key of versions before key protection: a CryptoKey in `keys`, its bytes on disk. */
export const LEGACY_TOKEN_KEY_ID = 'token';

/** What a sign-in leaves on the device, in the clear only in memory. */
export interface StoredSession {
  issuer: string;
  refreshToken: string;
  sub: string;
  name: string;
}

const AAD = new TextEncoder().encode('xray-edge session v1');

/**
 * A session signed in while the vault is locked (or before the first PIN): kept in memory only,
 * and stored once the vault is unlocked (`flushPendingSession`). Never written unsealed.
 */
const pending = new WeakMap<EdgeDb, StoredSession>();

/** The token key from the vault, made (and sealed) on first use; undefined while locked. */
async function tokenKey(db: EdgeDb): Promise<CryptoKey | undefined> {
  const vault = keyVaultFor(db);
  if (!vault.unlocked) return undefined;
  const key = vault.get(TOKEN_KEY_ID);
  if (key) return key;
  return vault.put(
    TOKEN_KEY_ID,
    await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt']),
  );
}

/**
 * Seals the refresh token (and who it is for) and stores it, replacing any earlier session. While
 * the vault is locked it is only remembered in memory; `flushPendingSession` stores it later.
 */
export async function saveSession(db: EdgeDb, session: StoredSession): Promise<void> {
  const key = await tokenKey(db);
  if (!key) {
    pending.set(db, session);
    return;
  }
  pending.delete(db);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const plain = new TextEncoder().encode(
    JSON.stringify({ refreshToken: session.refreshToken, sub: session.sub, name: session.name }),
  );
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: AAD }, key, plain));
  const value: SealedSession = { issuer: session.issuer, keyId: TOKEN_KEY_ID, iv, sealed, savedAt: Date.now() };
  await db.settings.put({ key: 'session', value });
}

/** Stores a session remembered while the vault was locked, and re-seals one under the legacy key. */
export async function flushPendingSession(db: EdgeDb): Promise<void> {
  const waiting = pending.get(db);
  if (waiting) await saveSession(db, waiting);
  const legacy = await db.keys.get(LEGACY_TOKEN_KEY_ID);
  if (!legacy || !keyVaultFor(db).unlocked) return;
  const old = waiting ? undefined : await loadSession(db);
  if (old) await saveSession(db, old);
  await db.keys.delete(LEGACY_TOKEN_KEY_ID);
}

/**
 * The stored session, opened; undefined when there is none, it cannot be opened any more, or
 * the vault is locked (then a session signed in meanwhile, held in memory, is returned).
 */
export async function loadSession(db: EdgeDb): Promise<StoredSession | undefined> {
  const row = await db.settings.get('session');
  if (row?.key !== 'session') return pending.get(db);
  const key =
    row.value.keyId === LEGACY_TOKEN_KEY_ID
      ? (await db.keys.get(LEGACY_TOKEN_KEY_ID))?.key
      : keyVaultFor(db).get(row.value.keyId);
  if (!key) return pending.get(db);
  try {
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: new Uint8Array(row.value.iv), additionalData: AAD },
      key,
      new Uint8Array(row.value.sealed),
    );
    const parsed: unknown = JSON.parse(new TextDecoder().decode(plain));
    const str = (k: string): string | undefined => {
      const v: unknown = typeof parsed === 'object' && parsed !== null ? Reflect.get(parsed, k) : undefined;
      return typeof v === 'string' ? v : undefined;
    };
    const refreshToken = str('refreshToken');
    const sub = str('sub');
    if (!refreshToken || !sub) return undefined;
    return { issuer: row.value.issuer, refreshToken, sub, name: str('name') ?? sub };
  } catch {
    // Tampered with, or sealed under a key that is gone: as good as signed out.
    return undefined;
  }
}

export async function clearSession(db: EdgeDb): Promise<void> {
  pending.delete(db);
  await db.settings.delete('session');
}
