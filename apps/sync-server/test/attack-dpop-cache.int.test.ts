import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { athOf } from '../src/auth/dpop.proof.ts';
import { EnvSchema } from '../src/config/config.ts';
import { startTestServer, type TestServer } from './harness.ts';
import { SUBJECTS, startTestIssuer, type TestIssuer, type TokenForge } from './oidc-tokens.ts';
import { eventsOf as auditEventsOf } from './audit.support.ts';

// Over HTTP: the cache of embedded DPoP keys (by algorithm and exact JWK text) lets through no
// request the guard would refuse without it: another device's token, a doctor's or role-less
// token, a replayed proof, a revoked device, a key text that does not make a thumbprint.

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

interface Device {
  pair: CryptoKeyPair;
  jwk: JWK;
  jkt: string;
}

async function newDevice(): Promise<Device> {
  const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const { kty, crv, x, y } = await exportJWK(pair.publicKey);
  const jwk = { kty, crv, x, y } as JWK;
  return { pair, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

/** A proof built byte by byte, its header's jwk exactly as given. */
async function proofOf(
  privateKey: CryptoKey,
  o: { jwk: unknown; method: string; url: string; token: string; jti?: string },
): Promise<string> {
  const header = { typ: 'dpop+jwt', alg: 'ES256', jwk: o.jwk };
  const payload = {
    htm: o.method,
    htu: o.url,
    iat: Math.floor(Date.now() / 1000),
    jti: o.jti ?? randomUUID(),
    ath: athOf(o.token),
  };
  const input = `${b64(header)}.${b64(payload)}`;
  const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, new TextEncoder().encode(input));
  return `${input}.${Buffer.from(sig).toString('base64url')}`;
}

describe('the embedded DPoP key cache, over HTTP', () => {
  let issuer: TestIssuer;
  let server: TestServer;
  let forge: TokenForge;
  let one: Device;
  let two: Device;
  let tokenOne: string;
  let tokenTwo: string;
  let doctor: string;
  let admin: string;

  beforeAll(async () => {
    issuer = await startTestIssuer('dpop-cache');
    server = await startTestServer('fs', {
      ...issuer.env,
      AUTH_FAILURE_LIMIT: '100000',
      AUTH_FAILURE_WINDOW_MS: '1',
      DPOP_REQUIRED_ROLES: EnvSchema.shape.DPOP_REQUIRED_ROLES.parse(undefined),
      DPOP_IAT_WINDOW_S: '60',
    });
    forge = issuer.forge;
    one = await newDevice();
    two = await newDevice();
    const paramedic = (sub: string, jkt: string) =>
      forge.signed({ sub, name: sub, roles: ['paramedic'], cnf: { jkt } });
    tokenOne = await paramedic(SUBJECTS.owner, one.jkt);
    tokenTwo = await paramedic(SUBJECTS.other, two.jkt);
    ({ doctor, admin } = issuer.tokens);
  });
  afterAll(async () => {
    await server?.close();
    await issuer?.stop();
  });

  async function call(
    p: string,
    o: { token: string; scheme?: 'DPoP' | 'Bearer'; proof?: string; method?: string; body?: string },
  ) {
    const requestId = randomUUID();
    const res = await fetch(`${server.url}${p}`, {
      method: o.method ?? 'GET',
      headers: {
        Authorization: `${o.scheme ?? 'DPoP'} ${o.token}`,
        'X-Request-Id': requestId,
        ...(o.proof ? { DPoP: o.proof } : {}),
        ...(o.body ? { 'content-type': 'application/json' } : {}),
      },
      ...(o.body ? { body: o.body } : {}),
    });
    return { res, requestId };
  }

  /** A request as `device` (its key, its jwk text unless given) with `token`. */
  async function as(
    device: Device,
    token: string,
    p = '/xrays',
    o: { jwk?: unknown; jti?: string; method?: string; body?: string } = {},
  ) {
    const method = o.method ?? 'GET';
    const proof = await proofOf(device.pair.privateKey, {
      jwk: o.jwk ?? device.jwk,
      method,
      url: `${server.url}${p}`,
      token,
      ...(o.jti ? { jti: o.jti } : {}),
    });
    return { ...(await call(p, { token, proof, method, ...(o.body ? { body: o.body } : {}) })), proof };
  }

  const eventsOf = (requestId: string) => auditEventsOf(server.pool, requestId);

  async function expectRefused({ res, requestId }: { res: Response; requestId: string }, code: string) {
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect((await res.json()).code).toBe(code);
    expect((await eventsOf(requestId))[0]).toMatchObject({
      action: 'access.denied',
      outcome: 'denied',
      details: { error: code, status: 401 },
    });
  }

  it("serves each device with its own cached key, and never one device's key for the other's token", async () => {
    // Both keys imported and cached.
    for (let i = 0; i < 2; i++) {
      expect((await as(one, tokenOne)).res.status).toBe(200);
      expect((await as(two, tokenTwo)).res.status).toBe(200);
    }
    // Device two's token with device one's (cached) key and proof: its thumbprint is not the token's.
    await expectRefused(await as(one, tokenTwo), 'dpop_key_mismatch');
    // Device two's key named in the header, device one signing: the signature does not verify.
    await expectRefused(await as(one, tokenTwo, '/xrays', { jwk: two.jwk }), 'dpop_invalid');
    await expectRefused(await as(one, tokenTwo, '/xrays', { jwk: { ...two.jwk, kid: 'two' } }), 'dpop_invalid');
    // Device one's key in another text (members reordered, extra ones): the same thumbprint, served.
    const { kty, crv, x, y } = one.jwk;
    for (const jwk of [
      { y, x, crv, kty },
      { kty, crv, x, y, use: 'sig', alg: 'ES256', kid: 'tablet' },
    ]) {
      expect((await as(one, tokenOne, '/xrays', { jwk })).res.status).toBe(200);
      await expectRefused(await as(one, tokenTwo, '/xrays', { jwk }), 'dpop_key_mismatch');
    }
  });

  it('a doctor, a token with no role and a token bound to no key get nothing more from a cached key', async () => {
    const url = `${server.url}/xrays`;
    // A doctor's plain token, sent as DPoP with device one's valid proof: it is bound to no key.
    const forDoctor = await proofOf(one.pair.privateKey, { jwk: one.jwk, method: 'GET', url, token: doctor });
    await expectRefused(await call('/xrays', { token: doctor, proof: forDoctor }), 'dpop_invalid');
    expect((await call('/xrays', { token: doctor, scheme: 'Bearer' })).res.status).toBe(200);
    // A token with no role, bound to device one's key: its proof passes, its role does not.
    const noRole = await forge.signed({ sub: 'no-role', roles: [], cnf: { jkt: one.jkt } });
    const { res, requestId } = await as(one, noRole);
    expect(res.status).toBe(403);
    expect((await res.json()).code).toBe('forbidden');
    expect((await eventsOf(requestId))[0]).toMatchObject({ action: 'access.denied', outcome: 'denied' });
  });

  it('refuses a replay (same jti) of a proof whose key is cached, also when the jwk is sent in another text', async () => {
    const first = await as(one, tokenOne);
    expect(first.res.status).toBe(200);
    await expectRefused(await call('/xrays', { token: tokenOne, proof: first.proof }), 'dpop_replayed');
    await expectRefused(await call('/xrays', { token: tokenOne, proof: first.proof }), 'dpop_replayed');
    const jti = randomUUID();
    expect((await as(one, tokenOne, '/xrays', { jti })).res.status).toBe(200);
    const { kty, crv, x, y } = one.jwk;
    await expectRefused(await as(one, tokenOne, '/xrays', { jti, jwk: { y, x, crv, kty } }), 'dpop_replayed');
    await expectRefused(await as(one, tokenOne, '/xrays', { jti, jwk: { kty, crv, x, y, kid: 'z' } }), 'dpop_replayed');
  });

  it('a JWK whose members Web Crypto reads but the thumbprint refuses is a 401 dpop_invalid, not a server error', async () => {
    const { kty, crv, x, y } = one.jwk;
    for (const jwk of [
      { kty, crv, x: [x], y },
      { kty, crv, x, y: [y] },
    ]) {
      const refused = await as(one, tokenOne, '/xrays', { jwk });
      expect(refused.res.status).toBe(401);
      await expectRefused(refused, 'dpop_invalid');
    }
  });

  it('a revoked device is refused though its key stays cached, whatever text its key is sent in', async () => {
    const enrolled = await as(one, tokenOne, '/devices', {
      method: 'POST',
      body: JSON.stringify({ name: 'Cache attack tablet' }),
    });
    expect(enrolled.res.status).toBe(201);
    const device = await enrolled.res.json();
    expect(device.keyThumbprint).toBe(one.jkt);
    expect((await as(one, tokenOne)).res.status).toBe(200);
    const revoked = await call(`/admin/devices/${device.id}/revoke`, {
      token: admin,
      scheme: 'Bearer',
      method: 'POST',
      body: JSON.stringify({ reason: 'lost' }),
    });
    expect(revoked.res.status).toBe(200);
    const { kty, crv, x, y } = one.jwk;
    await expectRefused(await as(one, tokenOne), 'device_revoked');
    await expectRefused(await as(one, tokenOne, '/xrays', { jwk: { y, x, crv, kty } }), 'device_revoked');
    await expectRefused(
      await as(one, tokenOne, '/xrays', { jwk: { kty, crv, x, y, kid: 'new-text' } }),
      'device_revoked',
    );
    // The other device, not revoked, is still served.
    expect((await as(two, tokenTwo)).res.status).toBe(200);
  });
});
