import {
  UPLOAD_KEY_ENDORSEMENT_ALGORITHM,
  isUploadKeyStrong,
  rsaJwkThumbprint,
  uploadKeyEndorsementMessage,
} from '@xray/shared';
import type { EdgeDb } from '../db/edge.db.ts';
import type { PinnedUploadKey, ServerKeySetting } from '../db/edge.records.ts';
import { createServerApi } from './server.api.ts';
import { UploadError } from './uploader.ts';

export interface ServerKey {
  kid: string;
  key: CryptoKey;
}

/**
 * The server's RSA-OAEP-256 public key that DEKs are wrapped for, cached in IndexedDB and pinned:
 * the first key set seen is trusted (trust on first use), and later a key is used only when it is
 * pinned or signed by the newest pinned key (the server's previous key endorses its current one
 * during a rotation). Anything else is refused, so a gateway in the middle cannot hand out its own
 * key. The newest trusted key is used whatever order the set lists them in; once the device has
 * moved to a newer key, an older pin the key set no longer lists is retired (never used or trusted
 * to endorse again). Keys under 3072 bits or with e ≠ 65537 are neither pinned nor used, and the
 * kid sent is the RFC 7638 thumbprint of the key used (a set labelling a key otherwise is refused).
 */
export interface ServerKeyProvider {
  current(): Promise<ServerKey>;
  /** Fetches /keys/upload again (the server rotated its key). */
  refresh(): Promise<ServerKey>;
}

/** The key set is read again after this long, so a rotation is followed while its old key is still accepted. */
export const SERVER_KEY_MAX_AGE_MS = 60 * 60 * 1000;
/** Pins beyond these (the oldest) are forgotten. */
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

interface KeySet {
  keys: OfferedKey[];
  endorsements: Endorsement[];
  /** A usable key is listed under a kid other than its own thumbprint (our server never does that). */
  relabelled: boolean;
}

/** The usable keys of a key set: RSA-OAEP-256, at least 3072 bits, e = 65537. */
async function parseKeySet(body: unknown): Promise<KeySet> {
  const [keys, endorsements] = fieldsOf(body, ['keys', 'endorsements']);
  const offered: OfferedKey[] = [];
  let relabelled = false;
  for (const k of Array.isArray(keys) ? keys : []) {
    const [kty, n, e, alg, use, kid] = fieldsOf(k, ['kty', 'n', 'e', 'alg', 'use', 'kid']);
    if (
      kty === 'RSA' &&
      alg === 'RSA-OAEP-256' &&
      (use === undefined || use === 'enc') &&
      typeof n === 'string' &&
      typeof e === 'string' &&
      typeof kid === 'string' &&
      isUploadKeyStrong({ n, e })
    ) {
      const thumbprint = await rsaJwkThumbprint({ n, e });
      if (kid !== thumbprint) relabelled = true;
      offered.push({ kid, thumbprint, jwk: { kty, n, e } });
    }
  }
  const signed: Endorsement[] = [];
  for (const x of Array.isArray(endorsements) ? endorsements : []) {
    const [by, forKid, sig] = fieldsOf(x, ['by', 'for', 'sig']);
    if (typeof by === 'string' && typeof forKid === 'string' && typeof sig === 'string')
      signed.push({ by, for: forKid, sig });
  }
  return { keys: offered, endorsements: signed, relabelled };
}

function base64UrlBytes(s: string): Uint8Array<ArrayBuffer> | undefined {
  try {
    const bin = atob(s.replaceAll('-', '+').replaceAll('_', '/'));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/** Whether `pin` signed `key` (its own thumbprint, as computed here, is what was signed). */
async function endorsedBy(key: OfferedKey, endorsements: Endorsement[], pin: PinnedUploadKey): Promise<boolean> {
  for (const x of endorsements) {
    const sig = base64UrlBytes(x.sig);
    if (x.by !== pin.thumbprint || !sig || x.for !== key.thumbprint) continue;
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

/**
 * Pins of a stored setting, newest first, keys under 3072 bits (or e ≠ 65537) left out. Pins
 * stored without a time were kept oldest first. A setting from before pinning pins the key it
 * holds, unless that key is weak: the device then trusts on first use again.
 */
async function pinsOf(stored: ServerKeySetting | undefined): Promise<PinnedUploadKey[]> {
  if (!stored) return [];
  if (stored.pins) {
    const ordered = stored.pins.some((p) => p.pinnedAt !== undefined) ? stored.pins : [...stored.pins].reverse();
    return ordered.filter((p) => isUploadKeyStrong(p.jwk)).sort((a, b) => (b.pinnedAt ?? 0) - (a.pinnedAt ?? 0));
  }
  const { n, e } = stored.jwk;
  if (!n || !e || !isUploadKeyStrong({ n, e })) return [];
  return [{ thumbprint: await rsaJwkThumbprint({ n, e }), jwk: { kty: 'RSA', n, e }, pinnedAt: stored.fetchedAt }];
}

/** The stored key, if it is pinned (and strong): what serves while the key set cannot be read. */
async function storedTrusted(stored: ServerKeySetting | undefined): Promise<ServerKeySetting | undefined> {
  const { n, e } = stored?.jwk ?? {};
  if (!stored || !n || !e) return undefined;
  const thumbprint = await rsaJwkThumbprint({ n, e });
  const pins = await pinsOf(stored);
  return pins.some((p) => p.thumbprint === thumbprint) ? { ...stored, kid: thumbprint } : undefined;
}

/**
 * The key to wrap for: the newest trusted one, whatever the listed order. That is a key the newest
 * pin endorsed (then pinned too), else the newest pinned key the set lists. Pins older than the
 * chosen key that the set no longer lists are retired (a rotation has completed past them).
 */
async function chooseTrusted(
  offered: KeySet,
  pins: PinnedUploadKey[],
  now: number,
): Promise<{ key: OfferedKey; pins: PinnedUploadKey[] } | undefined> {
  const pinOf = (k: OfferedKey): PinnedUploadKey => ({ thumbprint: k.thumbprint, jwk: k.jwk, pinnedAt: now });
  const [first] = offered.keys;
  const [newest] = pins;
  if (!newest) return first ? { key: first, pins: [pinOf(first)] } : undefined;
  const pinned = (k: OfferedKey) => pins.some((p) => p.thumbprint === k.thumbprint);
  let key: OfferedKey | undefined;
  let next = pins;
  for (const k of offered.keys) {
    if (!pinned(k) && (await endorsedBy(k, offered.endorsements, newest))) {
      key = k;
      next = [pinOf(k), ...pins];
      break;
    }
  }
  key ??= pins.map((p) => offered.keys.find((k) => k.thumbprint === p.thumbprint)).find((k) => k !== undefined);
  if (!key) return undefined;
  const chosen = next.findIndex((p) => p.thumbprint === key.thumbprint);
  const listed = (p: PinnedUploadKey) => offered.keys.some((k) => k.thumbprint === p.thumbprint);
  return { key, pins: next.filter((p, i) => i <= chosen || listed(p)).slice(0, MAX_PINS) };
}

export function createServerKeyProvider(opts: {
  db: EdgeDb;
  baseUrl: string;
  fetch?: typeof fetch;
  now?: () => number;
}): ServerKeyProvider {
  const server = createServerApi(opts);
  const now = opts.now ?? Date.now;
  let cached: (ServerKey & { fetchedAt: number }) | undefined;

  async function refresh(): Promise<ServerKey> {
    const offered = await parseKeySet(await server.uploadKeys());
    if (!offered.keys.length)
      throw new UploadError({
        kind: 'http',
        method: 'GET',
        status: 502,
        message: 'the server published no RSA-OAEP-256 upload key',
      });
    // Our server's kids are thumbprints: a key listed under another key's kid is a tampered set.
    if (offered.relabelled) throw new UploadError({ kind: 'untrusted-key', message: UNTRUSTED_SERVER_KEY_MESSAGE });
    const stored = await opts.db.serverKey();
    const trusted = await chooseTrusted(offered, await pinsOf(stored), now());
    // Never wrap a data key for a key this device has no reason to trust; keep the pins as they are.
    if (!trusted) throw new UploadError({ kind: 'untrusted-key', message: UNTRUSTED_SERVER_KEY_MESSAGE });
    const setting: ServerKeySetting = {
      kid: trusted.key.thumbprint,
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
      // A stored key that is not pinned (a weak key from before pinning) is never used.
      const stored = await storedTrusted(await opts.db.serverKey());
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
