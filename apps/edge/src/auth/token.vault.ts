import { getOrCreateStoredKey } from '../crypto/device-key.ts';
import type { EdgeDb } from '../db/edge.db.ts';
import type { SealedSession } from '../db/edge.records.ts';

export const TOKEN_KEY_ID = 'token';

/** What a sign-in leaves on the device, in the clear only in memory. */
export interface StoredSession {
  issuer: string;
  refreshToken: string;
  sub: string;
  name: string;
}

/**
 * The token key: AES-GCM, non-extractable, made on first use and kept in IndexedDB beside the
 * device key (the browser stores the CryptoKey without ever handing its bytes to script).
 */
const tokenKey = (db: EdgeDb): Promise<CryptoKey> =>
  getOrCreateStoredKey(db, TOKEN_KEY_ID, { name: 'AES-GCM', length: 256 }, ['encrypt', 'decrypt']);

const AAD = new TextEncoder().encode('xray-edge session v1');

/** Seals the refresh token (and who it is for) and stores it, replacing any earlier session. */
export async function saveSession(db: EdgeDb, session: StoredSession): Promise<void> {
  const key = await tokenKey(db);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const plain = new TextEncoder().encode(
    JSON.stringify({ refreshToken: session.refreshToken, sub: session.sub, name: session.name }),
  );
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: AAD }, key, plain));
  const value: SealedSession = { issuer: session.issuer, keyId: TOKEN_KEY_ID, iv, sealed, savedAt: Date.now() };
  await db.settings.put({ key: 'session', value });
}

/** The stored session, opened; undefined when there is none or it cannot be opened any more. */
export async function loadSession(db: EdgeDb): Promise<StoredSession | undefined> {
  const row = await db.settings.get('session');
  if (row?.key !== 'session') return undefined;
  const keyRow = await db.keys.get(row.value.keyId);
  if (!keyRow) return undefined;
  try {
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: new Uint8Array(row.value.iv), additionalData: AAD },
      keyRow.key,
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
  await db.settings.delete('session');
}
