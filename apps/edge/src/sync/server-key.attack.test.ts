/**
 * Attacks on the edge's upload-key pinning (issue 16, "Upload key"). Each `it` that fails today is a
 * finding; the ones marked "holds" pin down attacks that were tried and refused.
 */
import {
  UPLOAD_KEY_ENDORSEMENT_ALGORITHM,
  UPLOAD_KEY_MIN_BITS,
  rsaJwkThumbprint,
  uploadKeyEndorsementMessage,
  type UploadJwk,
  type UploadJwks,
} from '@xray/shared';
import { beforeAll, describe, expect, it } from 'vitest';
import { SERVER_KEY_MAX_AGE_MS } from './server-key.provider.ts';
import { serverKeyRig, wrapsFor } from '../../test/fixtures.ts';

interface Pair {
  jwk: UploadJwk;
  privateKey: CryptoKey;
  signingKey: CryptoKey;
}

async function pair(bits = 3072, e = new Uint8Array([1, 0, 1])): Promise<Pair> {
  const p = await crypto.subtle.generateKey(
    { name: 'RSA-OAEP', modulusLength: bits, publicExponent: e, hash: 'SHA-256' },
    true,
    ['wrapKey', 'unwrapKey'],
  );
  const { n = '', e: ee = '' } = await crypto.subtle.exportKey('jwk', p.publicKey);
  const { alg: _a, key_ops: _o, ...priv } = await crypto.subtle.exportKey('jwk', p.privateKey);
  const signingKey = await crypto.subtle.importKey('jwk', priv, { name: 'RSA-PSS', hash: 'SHA-256' }, false, ['sign']);
  const jwk: UploadJwk = {
    kty: 'RSA',
    n,
    e: ee,
    alg: 'RSA-OAEP-256',
    use: 'enc',
    kid: await rsaJwkThumbprint({ n, e: ee }),
  };
  return { jwk, privateKey: p.privateKey, signingKey };
}

async function endorse(by: Pair, next: Pair, saltLength: number = UPLOAD_KEY_ENDORSEMENT_ALGORITHM.saltLength) {
  const sig = await crypto.subtle.sign(
    { name: 'RSA-PSS', saltLength },
    by.signingKey,
    uploadKeyEndorsementMessage(next.jwk.kid),
  );
  return { by: by.jwk.kid, for: next.jwk.kid, sig: Buffer.from(sig).toString('base64url') };
}

async function rig() {
  const server = { jwks: { keys: [] } as UploadJwks | Record<string, unknown> };
  return serverKeyRig(server, async () => Response.json(server.jwks));
}

let A: Pair;
let B: Pair;
let X: Pair;
beforeAll(async () => {
  [A, B, X] = await Promise.all([pair(), pair(), pair()]);
});

/** A device that pinned A, then followed a proper rotation A → B, then saw the grace period end ([B] alone). */
async function rotatedDevice() {
  const r = await rig();
  r.server.jwks = { keys: [A.jwk] };
  await r.provider.current();
  r.server.jwks = { keys: [B.jwk, A.jwk], endorsements: [await endorse(A, B)] };
  expect((await r.provider.refresh()).kid).toBe(B.jwk.kid);
  r.server.jwks = { keys: [B.jwk] };
  expect((await r.provider.refresh()).kid).toBe(B.jwk.kid);
  return r;
}

describe('upload key pinning under attack: findings', () => {
  // Finding 1: a retired key stays pinned forever (up to 8 pins), so rotating away from a
  // compromised key does not heal: whoever holds the old private key and sits in the path wins.
  it('after a completed rotation A → B, a gateway serving only the retired key A is refused (no rollback)', async () => {
    const { server, provider } = await rotatedDevice();
    server.jwks = { keys: [A.jwk] };
    const chosen = await provider.refresh().catch((err: unknown) => err);
    // Expected: refused (A was superseded by B, which the device already moved to).
    // Actual: the edge wraps the next data keys for A.
    expect(chosen).not.toMatchObject({ kid: A.jwk.kid });
  });

  it('after a completed rotation A → B, the retired key A cannot endorse an attacker key', async () => {
    const { server, provider, pins } = await rotatedDevice();
    server.jwks = { keys: [X.jwk], endorsements: [await endorse(A, X)] };
    const chosen = await provider.refresh().catch((err: unknown) => err);
    // Expected: untrusted-key. Actual: X is used and pinned.
    expect(chosen).toMatchObject({ failure: { kind: 'untrusted-key' } });
    expect(await pins()).not.toContain(X.jwk.kid);
  });

  it('during a rotation the edge wraps for the newest trusted key, whatever order the set lists them in', async () => {
    const { server, provider } = await rig();
    server.jwks = { keys: [A.jwk] };
    await provider.current();
    server.jwks = { keys: [B.jwk, A.jwk], endorsements: [await endorse(A, B)] };
    await provider.refresh();
    // A gateway reorders the (genuine) grace-period set: previous first.
    server.jwks = { keys: [A.jwk, B.jwk], endorsements: [await endorse(A, B)] };
    const chosen = await provider.refresh();
    expect(chosen.kid).toBe(B.jwk.kid);
  });

  // Finding 2: the kid the edge sends (and stores) is whatever the key set says, not the
  // thumbprint it checked; the pinned key relabelled as another key's kid passes.
  it('the kid sent with a wrap is the thumbprint of the key it was wrapped for, not a label from the key set', async () => {
    const { server, provider, db } = await rig();
    server.jwks = { keys: [A.jwk] };
    await provider.current();
    server.jwks = { keys: [{ ...A.jwk, kid: B.jwk.kid }] };
    const chosen = await provider.refresh().catch((err: unknown) => err);
    if (chosen instanceof Error) return; // refusing a relabelled key is fine too
    const { kid, key } = chosen as { kid: string; key: CryptoKey };
    expect(await wrapsFor(key, A)).toBe(true);
    expect(kid).toBe(A.jwk.kid);
    expect((await db.serverKey())?.kid).toBe(A.jwk.kid);
  });

  // Finding 3: the edge never checks the size of a key it pins (TOFU) or accepts by endorsement;
  // a stored pre-pinning key of any size is pinned as is.
  it(`refuses to pin (first use) an RSA key under ${UPLOAD_KEY_MIN_BITS} bits`, async () => {
    const small = await pair(2048);
    const { server, provider } = await rig();
    server.jwks = { keys: [small.jwk] };
    const first = await provider.current().catch((err: unknown) => err);
    expect(first).toBeInstanceOf(Error);
  });

  it(`does not move to an endorsed key under ${UPLOAD_KEY_MIN_BITS} bits`, async () => {
    const small = await pair(2048);
    const r = await rig();
    r.server.jwks = { keys: [A.jwk] };
    await r.provider.current();
    r.server.jwks = { keys: [small.jwk, A.jwk], endorsements: [await endorse(A, small)] };
    const endorsed = await r.provider.refresh();
    expect(endorsed.kid).toBe(A.jwk.kid);
  });

  it('a legacy (pre-pinning) stored key under 3072 bits is not pinned and used as is', async () => {
    const small = await pair(2048);
    const { db, provider, server, clock } = await rig();
    await db.settings.put({
      key: 'serverKey',
      value: { kid: small.jwk.kid, jwk: { kty: 'RSA', n: small.jwk.n, e: small.jwk.e }, fetchedAt: clock.now },
    });
    server.jwks = { keys: [small.jwk] };
    clock.now += SERVER_KEY_MAX_AGE_MS + 1;
    const chosen = await provider.current().catch((err: unknown) => err);
    expect(chosen).toBeInstanceOf(Error);
  });
});

describe('upload key pinning under attack: attacks that held', () => {
  it('holds: a bogus endorsement "by" the pin listed before the genuine one does not block the rotation', async () => {
    const { server, provider } = await rig();
    server.jwks = { keys: [A.jwk] };
    await provider.current();
    server.jwks = {
      keys: [B.jwk, A.jwk],
      endorsements: [
        { by: A.jwk.kid, for: B.jwk.kid, sig: 'AAAA' },
        { by: A.jwk.kid, for: B.jwk.kid, sig: '!!not base64!!' },
        { by: A.jwk.kid, for: B.jwk.kid, sig: Buffer.alloc(384, 1).toString('base64url') },
        await endorse(A, B),
      ],
    };
    expect((await provider.refresh()).kid).toBe(B.jwk.kid);
  });

  it('holds: an endorsement for X whose message is bound to another thumbprint, or signed with another salt length, is refused', async () => {
    const { server, provider } = await rig();
    server.jwks = { keys: [A.jwk] };
    await provider.current();
    // A genuine A → B signature presented as A → X.
    const ab = await endorse(A, B);
    server.jwks = { keys: [X.jwk], endorsements: [{ ...ab, for: X.jwk.kid }] };
    await expect(provider.refresh()).rejects.toMatchObject({ failure: { kind: 'untrusted-key' } });
    // A genuine A → X signature, but with a salt length other than the scheme's 32 bytes.
    server.jwks = { keys: [X.jwk], endorsements: [await endorse(A, X, 0)] };
    await expect(provider.refresh()).rejects.toMatchObject({ failure: { kind: 'untrusted-key' } });
    // X's n with A's e / A's kid label: thumbprint is recomputed, so not A.
    server.jwks = { keys: [{ ...X.jwk, kid: A.jwk.kid }], endorsements: [{ ...ab, for: A.jwk.kid }] };
    await expect(provider.refresh()).rejects.toMatchObject({ failure: { kind: 'untrusted-key' } });
    // Non-canonical n for A (leading zero byte): a different thumbprint, not pinned, refused.
    const nBytes = Buffer.from(A.jwk.n, 'base64url');
    const padded = Buffer.concat([Buffer.alloc(1), nBytes]).toString('base64url');
    server.jwks = { keys: [{ ...A.jwk, n: padded }] };
    await expect(provider.refresh()).rejects.toMatchObject({ failure: { kind: 'untrusted-key' } });
  });

  it('holds: extra JWK members (alg, key_ops, x5c) cannot steer the import; other algs are not offered', async () => {
    const { server, provider } = await rig();
    server.jwks = { keys: [A.jwk] };
    await provider.current();
    server.jwks = {
      keys: [
        { ...X.jwk, alg: 'RSA-OAEP' },
        { ...A.jwk, alg: 'RSA1_5' },
      ],
    };
    await expect(provider.refresh()).rejects.toMatchObject({ failure: { kind: 'http' } });
    server.jwks = { keys: [{ ...A.jwk, key_ops: ['encrypt'], x5c: ['MII'], ext: false }] };
    const chosen = await provider.refresh();
    expect(await wrapsFor(chosen.key, A)).toBe(true);
  });

  it('holds: offline or a broken key set falls back only to the stored (pinned) key; the pins are never overwritten', async () => {
    const { server, provider, pins, clock } = await rig();
    server.jwks = { keys: [A.jwk] };
    await provider.current();
    clock.now += SERVER_KEY_MAX_AGE_MS + 1;
    server.jwks = { keys: 'nope', endorsements: { by: A.jwk.kid } };
    const k = await provider.current();
    expect(await wrapsFor(k.key, A)).toBe(true);
    server.jwks = { keys: [X.jwk] };
    clock.now += SERVER_KEY_MAX_AGE_MS + 1;
    await expect(provider.current()).rejects.toMatchObject({ failure: { kind: 'untrusted-key' } });
    expect(await pins()).toEqual([A.jwk.kid]);
  });
});
