import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { calculateJwkThumbprint, decodeJwt, exportJWK, SignJWT, type JWK } from 'jose';
import { makePng } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { athOf } from '../src/auth/dpop.proof.ts';
import { EnvSchema } from '../src/config/config.ts';
import { signInAsDemoUser } from '../src/dev/dev-login.client.ts';
import { startDevIssuer, type DevIssuer } from '../src/dev/oidc-issuer.ts';
import { blobOf, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';
import { tokenForge, type TokenForge } from './oidc-tokens.ts';
import { encodeMeta, sealed } from './tus-client.ts';

const AUDIENCE = 'xray-api';

/** An edge device's DPoP key: ES256, private key not extractable (as in the browser). */
const newDeviceKey = (): Promise<CryptoKeyPair> =>
  crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);

interface ProofOptions {
  method: string;
  url: string;
  token?: string;
  iat?: number;
  jti?: string;
  ath?: string;
  typ?: string;
}

async function proofBy(key: CryptoKeyPair, o: ProofOptions): Promise<string> {
  const { kty, crv, x, y } = await exportJWK(key.publicKey);
  const payload = {
    htm: o.method,
    htu: o.url,
    iat: o.iat ?? Math.floor(Date.now() / 1000),
    jti: o.jti ?? randomUUID(),
    ...(o.ath !== undefined ? { ath: o.ath } : o.token ? { ath: athOf(o.token) } : {}),
  };
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'ES256', typ: o.typ ?? 'dpop+jwt', jwk: { kty, crv, x, y } as JWK })
    .sign(key.privateKey);
}

describe('device-bound tokens (DPoP, RFC 9449), enrollment and revocation, two instances on one database', () => {
  let issuerDir: string;
  let dev: DevIssuer;
  let a: TestServer;
  let b: TestServer;
  let forge: TokenForge;
  let deviceKey: CryptoKeyPair;
  let jkt: string;
  let bound: string;
  let plainParamedic: string;
  let doctor: string;
  let admin: string;

  beforeAll(async () => {
    issuerDir = await mkdtemp(path.join(tmpdir(), 'xray-dpop-'));
    dev = await startDevIssuer({ port: 0, dataDir: issuerDir, audience: AUDIENCE });
    const env = {
      AUTH_DISABLED: 'false',
      OIDC_ISSUER: dev.issuer,
      OIDC_AUDIENCE: AUDIENCE,
      AUTH_FAILURE_LIMIT: '100000',
      // Each failure its own window, so each is audited as its own event (not aggregated).
      AUTH_FAILURE_WINDOW_MS: '1',
      // The default (the harness turns it off for other tests).
      DPOP_REQUIRED_ROLES: EnvSchema.shape.DPOP_REQUIRED_ROLES.parse(undefined),
      DPOP_IAT_WINDOW_S: '60',
    };
    a = await startTestServer('fs', env);
    b = await startTestServer('fs', { ...env, DATABASE_URL: a.env.DATABASE_URL ?? '' });
    forge = await tokenForge({ dataDir: issuerDir, issuer: dev.issuer, audience: AUDIENCE });
    deviceKey = await newDeviceKey();
    jkt = await calculateJwkThumbprint(await exportJWK(deviceKey.publicKey));
    bound = await signInAsDemoUser({ issuer: dev.issuer, user: 'paramedic', dpop: deviceKey });
    plainParamedic = await dev.mintToken('paramedic');
    doctor = await dev.mintToken('doctor');
    admin = await dev.mintToken('admin');
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await dev?.stop();
    await rm(issuerDir, { recursive: true, force: true });
  });

  /** A request with the bound token and a fresh proof by `key` (the device's unless said). */
  async function withProof(
    server: TestServer,
    p: string,
    init: RequestInit & { key?: CryptoKeyPair; proof?: Partial<ProofOptions>; token?: string } = {},
  ): Promise<{ res: Response; requestId: string }> {
    const method = init.method ?? 'GET';
    const url = `${server.url}${p}`;
    const token = init.token ?? bound;
    const proof = await proofBy(init.key ?? deviceKey, { method, url, token, ...init.proof });
    const requestId = randomUUID();
    const res = await fetch(url, {
      ...init,
      method,
      headers: {
        Authorization: `DPoP ${token}`,
        DPoP: proof,
        'X-Request-Id': requestId,
        ...(typeof init.body === 'string' ? { 'content-type': 'application/json' } : {}),
        ...init.headers,
      },
    });
    return { res, requestId };
  }

  async function send(server: TestServer, p: string, headers: Record<string, string>, init: RequestInit = {}) {
    const requestId = randomUUID();
    const res = await fetch(`${server.url}${p}`, {
      ...init,
      headers: { 'X-Request-Id': requestId, ...(init.body ? { 'content-type': 'application/json' } : {}), ...headers },
    });
    return { res, requestId };
  }

  async function eventsOf(requestId: string) {
    const { rows } = await a.pool.query<{ action: string; outcome: string; details: Record<string, unknown> }>(
      'SELECT action, outcome, details FROM audit_events WHERE request_id = $1 ORDER BY id',
      [requestId],
    );
    return rows;
  }

  /** 401 with this problem code, and the refusal in the audit trail as access.denied with it. */
  async function expectRefused({ res, requestId }: { res: Response; requestId: string }, code: string) {
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect((await res.json()).code).toBe(code);
    const [event] = await eventsOf(requestId);
    expect(event).toMatchObject({ action: 'access.denied', outcome: 'denied', details: { error: code, status: 401 } });
  }

  async function expectForbidden({ res, requestId }: { res: Response; requestId: string }) {
    expect(res.status).toBe(403);
    expect((await res.json()).code).toBe('forbidden');
    expect((await eventsOf(requestId))[0]).toMatchObject({ action: 'access.denied', outcome: 'denied' });
  }

  let deviceId: string;

  it('the development issuer binds the token to the device key (cnf.jkt)', () => {
    expect(decodeJwt(bound).cnf).toEqual({ jkt });
    expect(decodeJwt(plainParamedic).cnf).toBeUndefined();
  });

  it('enrolls the device on first sign-in, once per key, audited', async () => {
    const body = JSON.stringify({ name: 'Ambulance 12 tablet', appVersion: '1.4.0' });
    const first = await withProof(a, '/devices', { method: 'POST', body });
    expect(first.res.status).toBe(201);
    const device = await first.res.json();
    expect(device).toMatchObject({
      name: 'Ambulance 12 tablet',
      enrolledBy: 'demo-paramedic',
      appVersion: '1.4.0',
      keyThumbprint: jkt,
      revoked: null,
      wipe: null,
    });
    expect(device.publicKey.d).toBeUndefined();
    deviceId = device.id;
    expect(await eventsOf(first.requestId)).toMatchObject([
      { action: 'device.enroll', outcome: 'success', details: { deviceId, keyThumbprint: jkt } },
    ]);
    // Again (from the other instance): the same device.
    const again = await withProof(b, '/devices', { method: 'POST', body });
    expect(again.res.status).toBe(200);
    expect((await again.res.json()).id).toBe(deviceId);
    expect(await eventsOf(again.requestId)).toMatchObject([
      { action: 'device.enroll', outcome: 'success', details: { deviceId, alreadyEnrolled: true } },
    ]);
    // Enrolling needs the key: an admin's plain bearer token enrolls nothing; a doctor's system is no device.
    await expectRefused(
      await send(a, '/devices', { Authorization: `Bearer ${admin}` }, { method: 'POST', body }),
      'dpop_required',
    );
    await expectForbidden(await send(a, '/devices', { Authorization: `Bearer ${doctor}` }, { method: 'POST', body }));
  });

  it("the device doors refuse a token with no role, no token, a doctor, and another paramedic's key (audited)", async () => {
    const noRole = await forge.signed({ sub: 'no-role', roles: [] });
    const enroll = { method: 'POST', body: JSON.stringify({ name: 'Not a device' }) };
    await expectForbidden(await send(a, '/devices', { Authorization: `Bearer ${noRole}` }, enroll));
    await expectRefused(await send(a, '/devices', {}, enroll), 'unauthenticated');

    const wipe = { method: 'POST', body: JSON.stringify({ unsentCaptures: 0, wipedAt: new Date().toISOString() }) };
    for (const token of [doctor, noRole])
      await expectForbidden(await send(a, '/devices/self/wipe-report', { Authorization: `Bearer ${token}` }, wipe));
    await expectRefused(await send(a, '/devices/self/wipe-report', {}, wipe), 'unauthenticated');
    await expectRefused(
      await send(a, '/devices/self/wipe-report', { Authorization: `Bearer ${plainParamedic}` }, wipe),
      'dpop_required',
    );
    // Another paramedic, on a tablet of their own, cannot report this device wiped: its key is no device.
    const otherKey = await newDeviceKey();
    const other = await signInAsDemoUser({ issuer: dev.issuer, user: 'paramedic2', dpop: otherKey });
    const foreign = await withProof(a, '/devices/self/wipe-report', { ...wipe, key: otherKey, token: other });
    expect(foreign.res.status).toBe(404);
    expect(await eventsOf(foreign.requestId)).toMatchObject([{ action: 'device.wipe', outcome: 'failed' }]);
    const listed = await (await send(a, '/admin/devices', { Authorization: `Bearer ${admin}` })).res.json();
    expect(listed.items.find((d: { id: string }) => d.id === deviceId).wipe).toBeNull();
  });

  it('serves the device with a fresh proof on every request, on either instance', async () => {
    for (const server of [a, b]) {
      const { res } = await withProof(server, '/xrays?limit=5');
      expect(res.status).toBe(200);
    }
    // Query strings are not part of htu: a proof for /xrays serves /xrays?limit=5.
    const { res } = await withProof(a, '/xrays?limit=1', { proof: { url: `${a.url}/xrays` } });
    expect(res.status).toBe(200);
  });

  it('refuses a copied access token without its proof: as DPoP with no proof header, or as a bearer token', async () => {
    await expectRefused(await send(a, '/xrays', { Authorization: `DPoP ${bound}` }), 'dpop_required');
    await expectRefused(await send(a, '/xrays', { Authorization: `Bearer ${bound}` }), 'dpop_required');
  });

  it('refuses a proof for another URL or another method', async () => {
    await expectRefused(await withProof(a, '/xrays', { proof: { url: `${a.url}/audit` } }), 'dpop_invalid');
    await expectRefused(await withProof(a, '/xrays', { proof: { url: `${b.url}/xrays` } }), 'dpop_invalid');
    await expectRefused(await withProof(a, '/xrays', { proof: { method: 'POST' } }), 'dpop_invalid');
  });

  it('refuses a replayed proof (same jti), on the same instance and on another one', async () => {
    const url = `${a.url}/xrays`;
    const proof = await proofBy(deviceKey, { method: 'GET', url, token: bound });
    const headers = { Authorization: `DPoP ${bound}`, DPoP: proof };
    expect((await send(a, '/xrays', headers)).res.status).toBe(200);
    await expectRefused(await send(a, '/xrays', headers), 'dpop_replayed');
    // The second instance sees the same URL when a load balancer sends it there.
    const jti = randomUUID();
    const first = await withProof(a, '/xrays', { proof: { jti } });
    expect(first.res.status).toBe(200);
    await expectRefused(await withProof(b, '/xrays', { proof: { jti } }), 'dpop_replayed');
  });

  it('refuses a proof signed by another key than the token is bound to', async () => {
    await expectRefused(await withProof(a, '/xrays', { key: await newDeviceKey() }), 'dpop_key_mismatch');
  });

  it('refuses a stale or future iat, a wrong ath, a wrong typ and an unsigned-looking proof', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectRefused(await withProof(a, '/xrays', { proof: { iat: now - 120 } }), 'dpop_invalid');
    await expectRefused(await withProof(a, '/xrays', { proof: { iat: now + 120 } }), 'dpop_invalid');
    await expectRefused(await withProof(a, '/xrays', { proof: { ath: athOf(doctor) } }), 'dpop_invalid');
    await expectRefused(await withProof(a, '/xrays', { proof: { typ: 'JWT' } }), 'dpop_invalid');
    await expectRefused(
      await send(a, '/xrays', { Authorization: `DPoP ${bound}`, DPoP: 'not.a.proof' }),
      'dpop_invalid',
    );
  });

  it("refuses a paramedic's plain bearer token (edge devices must use DPoP); doctors' systems keep bearer tokens", async () => {
    await expectRefused(await send(a, '/xrays', { Authorization: `Bearer ${plainParamedic}` }), 'dpop_required');
    expect((await send(a, '/xrays', { Authorization: `Bearer ${doctor}` })).res.status).toBe(200);
    // An unbound token sent with the DPoP scheme claims a binding it does not have.
    const proof = await proofBy(deviceKey, { method: 'GET', url: `${a.url}/xrays`, token: doctor });
    await expectRefused(await send(a, '/xrays', { Authorization: `DPoP ${doctor}`, DPoP: proof }), 'dpop_invalid');
  });

  it('admin endpoints refuse a paramedic, a doctor and a token with no role (403, audited)', async () => {
    const noRole = await forge.signed({ sub: 'no-role', roles: [] });
    const revoke = { method: 'POST', body: JSON.stringify({ reason: 'test' }) };
    await expectForbidden(await withProof(a, '/admin/devices'));
    await expectForbidden(await withProof(a, `/admin/devices/${deviceId}/revoke`, revoke));
    for (const token of [doctor, noRole]) {
      await expectForbidden(await send(a, '/admin/devices', { Authorization: `Bearer ${token}` }));
      await expectForbidden(
        await send(a, `/admin/devices/${deviceId}/revoke`, { Authorization: `Bearer ${token}` }, revoke),
      );
    }
    const listed = await send(a, '/admin/devices', { Authorization: `Bearer ${admin}` });
    expect(listed.res.status).toBe(200);
    expect((await listed.res.json()).items.map((d: { id: string }) => d.id)).toContain(deviceId);
    const unknown = await send(
      a,
      `/admin/devices/${randomUUID()}/revoke`,
      { Authorization: `Bearer ${admin}` },
      revoke,
    );
    expect(unknown.res.status).toBe(404);
    const noReason = await send(
      a,
      `/admin/devices/${deviceId}/revoke`,
      { Authorization: `Bearer ${admin}` },
      { method: 'POST', body: '{}' },
    );
    expect(noReason.res.status).toBe(400);
    expect((await noReason.res.json()).errors[0].field).toBe('reason');
  });

  it('revoking a device refuses its requests everywhere, ends its open uploads and keeps its X-rays; it reports its wipe', async () => {
    // Delivered before the revocation: stays.
    const xrayId = randomUUID();
    const url = `${a.url}/xrays`;
    const delivered = await postXray(
      a.url,
      validMetadata({ id: xrayId, patientId: 'P-DPOP-1' }),
      blobOf(makePng({ seed: 71 })),
      {
        Authorization: `DPoP ${bound}`,
        DPoP: await proofBy(deviceKey, { method: 'POST', url, token: bound }),
      },
    );
    expect(delivered.status).toBe(201);
    // Begun, not finished: ended by the revocation.
    const plain = Buffer.from(makePng({ seed: 72 }));
    const { body, metadata } = await sealed(a.url, plain);
    const created = await withProof(a, '/uploads', {
      method: 'POST',
      headers: {
        'Tus-Resumable': '1.0.0',
        'Upload-Length': String(body.length),
        'Upload-Metadata': encodeMeta(metadata),
      },
    });
    expect(created.res.status).toBe(201);
    const uploadId = String(created.res.headers.get('location')).split('/').pop();
    const open = await a.pool.query('SELECT device_id FROM tus_uploads WHERE id = $1', [uploadId]);
    expect(open.rows[0]?.device_id).toBe(deviceId);

    const revoked = await send(
      a,
      `/admin/devices/${deviceId}/revoke`,
      { Authorization: `Bearer ${admin}` },
      { method: 'POST', body: JSON.stringify({ reason: 'Tablet stolen from ambulance 12' }) },
    );
    expect(revoked.res.status).toBe(200);
    const result = await revoked.res.json();
    expect(result).toMatchObject({
      endedUploads: 1,
      device: { id: deviceId, revoked: { by: 'demo-admin', reason: 'Tablet stolen from ambulance 12' } },
    });
    expect(await eventsOf(revoked.requestId)).toMatchObject([
      { action: 'device.revoke', outcome: 'success', details: { deviceId, endedUploads: 1 } },
    ]);
    expect((await a.pool.query('SELECT 1 FROM tus_uploads WHERE id = $1', [uploadId])).rowCount).toBe(0);

    // Refused on both instances, whatever it asks.
    await expectRefused(await withProof(a, '/xrays'), 'device_revoked');
    await expectRefused(await withProof(b, `/xrays/${xrayId}`), 'device_revoked');
    await expectRefused(
      await withProof(b, `/uploads/${uploadId}`, {
        method: 'PATCH',
        headers: { 'Tus-Resumable': '1.0.0', 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
        body: new Uint8Array(body.subarray(0, 16)),
      }),
      'device_revoked',
    );
    // What it delivered is the hospital's.
    const kept = await send(a, `/xrays/${xrayId}`, { Authorization: `Bearer ${doctor}` });
    expect(kept.res.status).toBe(200);

    // It may still say that it wiped itself.
    const wipedAt = new Date().toISOString();
    const report = await withProof(b, '/devices/self/wipe-report', {
      method: 'POST',
      body: JSON.stringify({ unsentCaptures: 3, wipedAt }),
    });
    expect(report.res.status).toBe(204);
    expect(await eventsOf(report.requestId)).toMatchObject([
      { action: 'device.wipe', outcome: 'success', details: { deviceId, unsentCaptures: 3, revoked: true } },
    ]);
    const listed = await (await send(a, '/admin/devices', { Authorization: `Bearer ${admin}` })).res.json();
    const device = listed.items.find((d: { id: string }) => d.id === deviceId);
    expect(device.wipe).toMatchObject({ unsentCaptures: 3 });
    expect(device.revoked).not.toBeNull();
  });
});
