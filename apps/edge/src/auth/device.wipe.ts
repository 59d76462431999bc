import { keyVaultFor } from '../crypto/key.vault.ts';
import type { EdgeDb } from '../db/edge.db.ts';
import type { WipeNotice } from '../db/edge.records.ts';
import { getDpopKey } from './dpop.key.ts';
import { createServerApi } from '../sync/server.api.ts';
import { createServerAuthorizer } from './server.authorizer.ts';

export interface WipeOptions {
  db: EdgeDb;
  baseUrl: string;
  /** The server's reason (the device_revoked problem's detail). */
  reason: string;
  /** The access token still in memory, to report the wipe with; none: not reported. */
  token?: string | null | undefined;
  fetch?: typeof fetch;
}

/**
 * Remote wipe, when the server says this device is revoked: crypto-shredding. The device key,
 * the token key and the DPoP key are deleted with the key vault (the unsealed copies in memory
 * are dropped first), so every capture, roster and session record left anywhere is ciphertext
 * under a key that no longer exists; then every table is cleared. Captures not yet on the server
 * are lost by design: their number is kept (with the reason) for the screen to say so, and sent
 * to the server as the wipe report when it can be (signed with the DPoP key held in memory only
 * for that request). Returns what the screen shows.
 */
export async function wipeDevice(opts: WipeOptions): Promise<WipeNotice> {
  const { db } = opts;
  const lostCaptures = await db.captures.where('status').notEqual('synced').count();
  // The key that signs the report, kept in memory only: its stored copy goes with the rest.
  const dpopKey = opts.token ? await getDpopKey(db).catch(() => undefined) : undefined;
  keyVaultFor(db).lock();
  // Keys first, in their own transaction: whatever happens after, nothing can be decrypted.
  await db.transaction('rw', db.keys, db.settings, async () => {
    await db.keys.clear();
    await db.settings.clear();
  });
  await db.transaction('rw', db.tables, async () => {
    for (const table of db.tables) await table.clear();
  });
  const notice: WipeNotice = { at: Date.now(), reason: opts.reason, lostCaptures, reported: false };
  await db.settings.put({ key: 'wiped', value: notice });
  if (opts.token && dpopKey) {
    notice.reported = await report(opts, opts.token, dpopKey, notice).catch(() => false);
    await db.settings.put({ key: 'wiped', value: notice });
  }
  return notice;
}

async function report(opts: WipeOptions, token: string, key: CryptoKeyPair, notice: WipeNotice): Promise<boolean> {
  // Signed with the key held in memory: the stored one is gone (asking for it would make a new one).
  const authorize = createServerAuthorizer(async () => key);
  await createServerApi(opts).reportWipe(
    { unsentCaptures: notice.lostCaptures, wipedAt: new Date(notice.at).toISOString() },
    (method, url) => authorize(token, method, url),
  );
  return true;
}
