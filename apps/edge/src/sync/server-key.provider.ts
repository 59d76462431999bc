import { UPLOAD_KEY_ENDORSEMENT_ALGORITHM, rsaJwkThumbprint, uploadKeyEndorsementMessage } from '@xray/shared';
import type { EdgeDb } from '../db/edge.db.ts';
import type { PinnedUploadKey, ServerKeySetting } from '../db/edge.records.ts';
import { getFromServer } from './server.get.ts';
import { UploadError } from './uploader.ts';

export interface ServerKey {
  kid: string;
  key: CryptoKey;
}

/**
 * The server's RSA-OAEP-256 public key that DEKs are wrapped for, cached in IndexedDB and pinned:
 * the first key set seen is trusted (trust on first use), and later a key is used only when it is
 * pinned or signed by a pinned key (the server's previous key endorses its current one during a
 * rotation). Anything else is refused, so a gateway in the middle cannot hand out its own key.
 */
export interface ServerKeyProvider {
  current(): Promise<ServerKey>;
  /** Fetches /keys/upload again (the server rotated its key). */
  refresh(): Promise<ServerKey>;
}

/** The key set is read again after this long, so a rotation is followed while its old key is still accepted. */
export const SERVER_KEY_MAX_AGE_MS = 60 * 60 * 1000;
/** Pins beyond these (the oldest) are forgotten: only recent keys can still endorse a new one. */
const MAX_PINS = 8;

export const UNTRUSTED_SERVER_KEY_MESSAGE =
  "The server's upload key changed unexpectedly; ask your administrator. Nothing was sent.";

interface OfferedKey {
  kid: string;
  thumbprint: string;
  jwk: PinnedUploadKey['jwk'];
}
interface Endorsement {
  by: string;
  for: string;
  sig: string;
}

const importKey = (jwk: JsonWebKey): Promise<CryptoKey> =>
  crypto.subtle.importKey(
    'jwk',
    { ...jwk, alg: 'RSA-OAEP-256', ext: true },
    { name: 'RSA-OAEP', hash: 'SHA-256' },
    false,
    ['wrapKey'],
  );

const fieldsOf = (v: unknown, names: string[]): unknown[] =>
  typeof v === 'object' && v !== null ? names.map((f) => Reflect.get(v, f)) : [];

async function parseKeySet(body: unknown): Promise<{ keys: OfferedKey[]; endorsements: Endorsement[] }> {
  const [keys, endorsements] = fieldsOf(body, ['keys', 'endorsements']);
  const offered: OfferedKey[] = [];
  for (const k of Array.isArray(keys) ? keys : []) {
    const [kty, n, e, alg, use, kid] = fieldsOf(k, ['kty', 'n', 'e', 'alg', 'use', 'kid']);
    if (
      kty === 'RSA' &&
      alg === 'RSA-OAEP-256' &&
      (use === undefined || use === 'enc') &&
      typeof n === 'string' &&
      typeof e === 'string' &&
      typeof kid === 'string'
    ) {
      offered.push({ kid, thumbprint: await rsaJwkThumbprint({ n, e }), jwk: { kty, n, e } });
    }
  }
  const signed: Endorsement[] = [];
  for (const x of Array.isArray(endorsements) ? endorsements : []) {
    const [by, forKid, sig] = fieldsOf(x, ['by', 'for', 'sig']);
    if (typeof by === 'string' && typeof forKid === 'string' && typeof sig === 'string')
      signed.push({ by, for: forKid, sig });
  }
  return { keys: offered, endorsements: signed };
}

function base64UrlBytes(s: string): Uint8Array<ArrayBuffer> | undefined {
  try {
    const bin = atob(s.replaceAll('-', '+').replaceAll('_', '/'));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/** Whether a pinned key signed `key` (its own thumbprint, as computed here, is what was signed). */
async function endorsedByPin(key: OfferedKey, endorsements: Endorsement[], pins: PinnedUploadKey[]): Promise<boolean> {
  for (const x of endorsements) {
    const pin = pins.find((p) => p.thumbprint === x.by);
    const sig = base64UrlBytes(x.sig);
    if (!pin || !sig || x.for !== key.thumbprint) continue;
    const verifier = await crypto.subtle.importKey(
      'jwk',
      pin.jwk,
      { name: UPLOAD_KEY_ENDORSEMENT_ALGORITHM.name, hash: 'SHA-256' },
      false,
      ['verify'],
    );
    if (
      await crypto.subtle.verify(
        UPLOAD_KEY_ENDORSEMENT_ALGORITHM,
        verifier,
        sig,
        uploadKeyEndorsementMessage(key.thumbprint),
      )
    )
      return true;
  }
  return false;
}

/** Pins of a stored setting; one from before pinning pins the key it holds. */
async function pinsOf(stored: ServerKeySetting | undefined): Promise<PinnedUploadKey[]> {
  if (!stored) return [];
  if (stored.pins) return stored.pins;
  const { n, e } = stored.jwk;
  return n && e ? [{ thumbprint: await rsaJwkThumbprint({ n, e }), jwk: { kty: 'RSA', n, e } }] : [];
}

/** The key to wrap for, current first: a pinned one, or one a pinned key endorsed (then pinned too). */
async function chooseTrusted(
  offered: { keys: OfferedKey[]; endorsements: Endorsement[] },
  pins: PinnedUploadKey[],
): Promise<{ key: OfferedKey; pins: PinnedUploadKey[] } | undefined> {
  const pinOf = (k: OfferedKey): PinnedUploadKey => ({ thumbprint: k.thumbprint, jwk: k.jwk });
  const [first] = offered.keys;
  if (pins.length === 0) return first ? { key: first, pins: [pinOf(first)] } : undefined;
  for (const k of offered.keys) {
    if (pins.some((p) => p.thumbprint === k.thumbprint)) return { key: k, pins };
    if (await endorsedByPin(k, offered.endorsements, pins))
      return { key: k, pins: [...pins, pinOf(k)].slice(-MAX_PINS) };
  }
  return undefined;
}

export function createServerKeyProvider(opts: {
  db: EdgeDb;
  baseUrl: string;
  fetch?: typeof fetch;
  now?: () => number;
}): ServerKeyProvider {
  const doFetch = opts.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const now = opts.now ?? Date.now;
  let cached: (ServerKey & { fetchedAt: number }) | undefined;

  async function refresh(): Promise<ServerKey> {
    const res = await getFromServer(
      doFetch,
      `${opts.baseUrl}/keys/upload`,
      { cache: 'no-store' },
      { path: '/keys/upload', unreachable: 'the server key could not be fetched' },
    );
    const offered = await parseKeySet(await res.json());
    if (!offered.keys.length)
      throw new UploadError({
        kind: 'http',
        method: 'GET',
        status: 502,
        message: 'the server published no RSA-OAEP-256 upload key',
      });
    const stored = await opts.db.serverKey();
    const trusted = await chooseTrusted(offered, await pinsOf(stored));
    // Never wrap a data key for a key this device has no reason to trust; keep the pins as they are.
    if (!trusted) throw new UploadError({ kind: 'untrusted-key', message: UNTRUSTED_SERVER_KEY_MESSAGE });
    const setting: ServerKeySetting = {
      kid: trusted.key.kid,
      jwk: trusted.key.jwk,
      fetchedAt: now(),
      pins: trusted.pins,
    };
    cached = { kid: setting.kid, key: await importKey(setting.jwk), fetchedAt: setting.fetchedAt };
    await opts.db.settings.put({ key: 'serverKey', value: setting });
    return cached;
  }

  return {
    async current() {
      if (cached && now() - cached.fetchedAt < SERVER_KEY_MAX_AGE_MS) return cached;
      const stored = await opts.db.serverKey();
      if (stored && now() - stored.fetchedAt < SERVER_KEY_MAX_AGE_MS) {
        cached = { kid: stored.kid, key: await importKey(stored.jwk), fetchedAt: stored.fetchedAt };
        return cached;
      }
      try {
        return await refresh();
      } catch (err) {
        // The key set could not be read (offline, server error): the stored, pinned key still serves.
        const untrusted = err instanceof UploadError && err.failure.kind === 'untrusted-key';
        if (!stored || untrusted) throw err;
        return { kid: stored.kid, key: await importKey(stored.jwk) };
      }
    },
    refresh,
  };
}
