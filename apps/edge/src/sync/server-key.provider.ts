import type { EdgeDb } from '../db/edge.db.ts';
import type { ServerKeySetting } from '../db/edge.records.ts';
import { getFromServer } from './server.get.ts';
import { UploadError } from './uploader.ts';

export interface ServerKey {
  kid: string;
  key: CryptoKey;
}

/** The server's RSA-OAEP-256 public key that DEKs are wrapped for, cached in IndexedDB. */
export interface ServerKeyProvider {
  current(): Promise<ServerKey>;
  /** Fetches /keys/upload again (the server rotated its key). */
  refresh(): Promise<ServerKey>;
}

const importKey = (jwk: JsonWebKey): Promise<CryptoKey> =>
  crypto.subtle.importKey('jwk', jwk, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['wrapKey']);

function pickUploadKey(body: unknown): { kid: string; jwk: JsonWebKey } | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const keys: unknown = Reflect.get(body, 'keys');
  if (!Array.isArray(keys)) return undefined;
  for (const k of keys) {
    if (typeof k !== 'object' || k === null) continue;
    const [kty, n, e, alg, use, kid]: unknown[] = ['kty', 'n', 'e', 'alg', 'use', 'kid'].map((f) => Reflect.get(k, f));
    if (
      kty === 'RSA' &&
      alg === 'RSA-OAEP-256' &&
      (use === undefined || use === 'enc') &&
      typeof n === 'string' &&
      typeof e === 'string' &&
      typeof kid === 'string'
    ) {
      return { kid, jwk: { kty, n, e, alg, ext: true } };
    }
  }
  return undefined;
}

export function createServerKeyProvider(opts: {
  db: EdgeDb;
  baseUrl: string;
  fetch?: typeof fetch;
}): ServerKeyProvider {
  const doFetch = opts.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  let cached: ServerKey | undefined;

  async function refresh(): Promise<ServerKey> {
    const res = await getFromServer(
      doFetch,
      `${opts.baseUrl}/keys/upload`,
      { cache: 'no-store' },
      { path: '/keys/upload', unreachable: 'the server key could not be fetched' },
    );
    const picked = pickUploadKey(await res.json());
    if (!picked)
      throw new UploadError({
        kind: 'http',
        method: 'GET',
        status: 502,
        message: 'the server published no RSA-OAEP-256 upload key',
      });
    const setting: ServerKeySetting = { kid: picked.kid, jwk: picked.jwk, fetchedAt: Date.now() };
    cached = { kid: picked.kid, key: await importKey(picked.jwk) };
    await opts.db.settings.put({ key: 'serverKey', value: setting });
    return cached;
  }

  return {
    async current() {
      if (cached) return cached;
      const stored = await opts.db.serverKey();
      if (stored) {
        cached = { kid: stored.kid, key: await importKey(stored.jwk) };
        return cached;
      }
      return refresh();
    },
    refresh,
  };
}
