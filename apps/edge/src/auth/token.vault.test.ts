import { describe, expect, it } from 'vitest';
import { TOKEN_KEY_ID, clearSession, loadSession, saveSession } from './token.vault.ts';
import { keyVaultFor } from '../crypto/key.vault.ts';
import { freshDb } from '../../test/fixtures.ts';

const session = { issuer: 'https://idp.example', refreshToken: 'rt-SECRET-123', sub: 'demo-paramedic', name: 'Pat' };

describe('token vault', () => {
  it('keeps the refresh token sealed under the vault’s token key, and opens it again', async () => {
    const db = await freshDb();
    await saveSession(db, session);
    const row = await db.settings.get('session');
    if (row?.key !== 'session') throw new Error('no session row');
    const stored = JSON.stringify({ ...row.value, sealed: Buffer.from(row.value.sealed).toString('latin1') });
    expect(stored).not.toContain('rt-SECRET-123');
    expect(stored).not.toContain('demo-paramedic');
    // The token key is in the vault (sealed), not a CryptoKey in `keys`; in memory it is non-extractable.
    expect(await db.keys.get(TOKEN_KEY_ID)).toBeUndefined();
    expect(await keyVaultFor(db).has(TOKEN_KEY_ID)).toBe(true);
    expect(keyVaultFor(db).get(TOKEN_KEY_ID)?.extractable).toBe(false);
    expect(await loadSession(db)).toEqual(session);
    await clearSession(db);
    expect(await loadSession(db)).toBeUndefined();
  });

  it('treats a tampered or orphaned session as signed out', async () => {
    const db = await freshDb();
    await saveSession(db, session);
    const row = await db.settings.get('session');
    if (row?.key !== 'session') throw new Error('no session row');
    const sealed = new Uint8Array(row.value.sealed);
    sealed[3] = (sealed[3] ?? 0) ^ 1;
    await db.settings.put({ key: 'session', value: { ...row.value, sealed } });
    expect(await loadSession(db)).toBeUndefined();
    await saveSession(db, session);
    await keyVaultFor(db).remove(TOKEN_KEY_ID);
    expect(await loadSession(db)).toBeUndefined();
  });
});
