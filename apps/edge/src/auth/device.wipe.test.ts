import { afterEach, describe, expect, it } from 'vitest';
import { EdgeDb } from '../db/edge.db.ts';
import type { CaptureRecord } from '../db/edge.records.ts';
import { wipeDevice } from './device.wipe.ts';
import { setUpPin, unlockWithPin } from './device.unlock.ts';
import { DPOP_PRIVATE_KEY_ID, dpopThumbprint, getDpopKey } from './dpop.key.ts';
import { keyVaultFor } from '../crypto/key.vault.ts';
import { createServerAuthorizer, isBound } from './server.authorizer.ts';

const part = (jwt: string, i: 0 | 1): Record<string, unknown> =>
  JSON.parse(Buffer.from(jwt.split('.')[i] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
const decodeProtectedHeader = (jwt: string) => part(jwt, 0);
const decodeJwt = (jwt: string) => part(jwt, 1);
const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const tokenWith = (claims: Record<string, unknown>) =>
  `${b64url({ alg: 'RS256', typ: 'at+jwt' })}.${b64url(claims)}.sig`;

let db: EdgeDb | undefined;
afterEach(async () => {
  await db?.delete();
  db = undefined;
});

describe('DPoP key and request authorization', () => {
  it('keeps one ES256 key pair per device, its private key sealed in the vault and not extractable in use', async () => {
    db = new EdgeDb(`dpop-${crypto.randomUUID()}`);
    keyVaultFor(db, { scrypt: { N: 2 ** 10, r: 8, p: 1 } });
    await setUpPin(db, '246810');
    const [a, b] = await Promise.all([getDpopKey(db), getDpopKey(db)]);
    expect(await dpopThumbprint(a)).toBe(await dpopThumbprint(b));
    expect(a.privateKey.extractable).toBe(false);
    // At rest: the private key only sealed (no CryptoKey row, whose bytes Chromium writes to disk).
    expect(await db.keys.get(DPOP_PRIVATE_KEY_ID)).toBeUndefined();
    expect(await keyVaultFor(db).has(DPOP_PRIVATE_KEY_ID)).toBe(true);
    keyVaultFor(db).lock();
    await expect(getDpopKey(db)).rejects.toMatchObject({ code: 'locked' });
    await unlockWithPin(db, '246810');
    expect(await dpopThumbprint(await getDpopKey(db))).toBe(await dpopThumbprint(a));
    expect(a.privateKey.algorithm).toMatchObject({ name: 'ECDSA', namedCurve: 'P-256' });
  });

  it('sends a bound token as DPoP with a fresh proof for the method and the URL without its query', async () => {
    db = new EdgeDb(`dpop-${crypto.randomUUID()}`);
    const key = await getDpopKey(db);
    const jkt = await dpopThumbprint(key);
    const token = tokenWith({ sub: 'p', cnf: { jkt } });
    expect(isBound(token)).toBe(true);
    const authorize = createServerAuthorizer(async () => key);
    const first = await authorize(token, 'patch', 'https://sync.example/uploads/u1?x=1#f');
    const second = await authorize(token, 'patch', 'https://sync.example/uploads/u1');
    expect(first.Authorization).toBe(`DPoP ${token}`);
    const header = decodeProtectedHeader(String(first.DPoP));
    expect(header).toMatchObject({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: 'EC', crv: 'P-256' } });
    expect(header.jwk).not.toHaveProperty('d');
    const claims = decodeJwt(String(first.DPoP));
    expect(claims).toMatchObject({ htm: 'PATCH', htu: 'https://sync.example/uploads/u1' });
    expect(typeof claims.ath).toBe('string');
    expect(decodeJwt(String(second.DPoP)).jti).not.toBe(claims.jti);
  });

  it('sends an unbound token as a bearer token', async () => {
    const authorize = createServerAuthorizer(() => Promise.reject(new Error('no key needed')));
    expect(await authorize(tokenWith({ sub: 'd' }), 'GET', 'https://sync.example/xrays')).toEqual({
      Authorization: `Bearer ${tokenWith({ sub: 'd' })}`,
    });
  });
});

describe('remote wipe', () => {
  it('deletes every key and record, counts the unsent captures, and reports with the key it held in memory', async () => {
    db = new EdgeDb(`wipe-${crypto.randomUUID()}`);
    const key = await getDpopKey(db);
    const jkt = await dpopThumbprint(key);
    await db.keys.put({ id: 'device-ecdh.public', key: key.publicKey, createdAt: 1 });
    await db.settings.put({ key: 'serverContact', value: { at: 1 } });
    const capture = (id: string, status: 'queued' | 'synced'): CaptureRecord => ({
      id,
      status,
      priority: 'routine',
      createdAt: 1,
      updatedAt: 1,
      contentType: 'image/png',
      plaintextSize: 8,
      ciphertextSize: 40,
      sha256: '0'.repeat(64),
      wrappedDek: new Uint8Array(40),
      keyId: 'device-ecdh',
      encryptedMetadata: new Uint8Array(40),
      attempts: 0,
    });
    await db.captures.bulkPut([capture('a', 'queued'), capture('b', 'synced'), capture('c', 'queued')]);
    await db.blobs.put({ captureId: 'a', ciphertext: new Blob([new Uint8Array(8)]) });

    const sent: { url: string; headers: Record<string, string>; body: unknown }[] = [];
    const notice = await wipeDevice({
      db,
      baseUrl: 'https://sync.example',
      reason: 'Stolen.',
      token: tokenWith({ sub: 'p', cnf: { jkt } }),
      fetch: async (input, init) => {
        const req = new Request(input, init);
        sent.push({ url: req.url, headers: Object.fromEntries(req.headers), body: await req.json() });
        return new Response(null, { status: 204 });
      },
    });

    expect(notice).toMatchObject({ reason: 'Stolen.', lostCaptures: 2, reported: true });
    expect(await db.keys.count()).toBe(0);
    expect(await db.captures.count()).toBe(0);
    expect(await db.blobs.count()).toBe(0);
    expect((await db.settings.toArray()).map((s) => s.key)).toEqual(['wiped']);
    // The report was signed by the device's (now deleted) key: the server knows it by its thumbprint.
    expect(sent).toHaveLength(1);
    expect(sent[0]?.url).toBe('https://sync.example/devices/self/wipe-report');
    expect(sent[0]?.body).toMatchObject({ unsentCaptures: 2 });
    const proofKey = decodeProtectedHeader(String(sent[0]?.headers.dpop)).jwk;
    expect(
      await crypto.subtle
        .importKey('jwk', proofKey as JsonWebKey, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify'])
        .then((k) => dpopThumbprint({ publicKey: k, privateKey: key.privateKey })),
    ).toBe(jkt);
  });

  it('still wipes when the server cannot be told', async () => {
    db = new EdgeDb(`wipe-${crypto.randomUUID()}`);
    const key = await getDpopKey(db);
    const notice = await wipeDevice({
      db,
      baseUrl: 'https://sync.example',
      reason: 'Revoked.',
      token: tokenWith({ sub: 'p', cnf: { jkt: await dpopThumbprint(key) } }),
      fetch: () => Promise.reject(new TypeError('offline')),
    });
    expect(notice).toMatchObject({ lostCaptures: 0, reported: false });
    expect(await db.keys.count()).toBe(0);
  });
});
