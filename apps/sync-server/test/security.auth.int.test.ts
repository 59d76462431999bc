import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { makePng } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIssuer, type DevIssuer } from '../src/dev/oidc-issuer.ts';
import { blobOf, countRows, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';
import { tokenForge, type TokenForge } from './oidc-tokens.ts';

/**
 * Hostile authentication, with a real issuer (oidc-provider), real PostgreSQL and the real server:
 * every forged kind of token on every route family, the RFC 9068 `typ` and `iat` checks, and a
 * flood of bad tokens from one address that is throttled (429) and audited as one aggregated
 * event while valid users are served. TRUST_PROXY=loopback lets X-Forwarded-For stand for the
 * client address, so each part of the test comes from addresses of its own.
 */

const AUDIENCE = 'xray-api';
const WINDOW_MS = 5_000;
const LIMIT = 20;
const now = () => Math.floor(Date.now() / 1000);

interface Call {
  method: string;
  path: string;
  token?: string;
  from: string;
}

interface DeniedRow {
  client_ip: string;
  request_id: string | null;
  details: Record<string, unknown>;
}

/** Runs `n` calls `size` at a time. */
async function inBatches<T>(n: number, size: number, call: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let start = 0; start < n; start += size) {
    const batch = Array.from({ length: Math.min(size, n - start) }, (_, k) => call(start + k));
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

describe('authentication under attack (real issuer, real PostgreSQL)', () => {
  let issuerDir: string;
  let dev: DevIssuer;
  let server: TestServer;
  let forge: TokenForge;
  let doctor: string;
  let admin: string;
  let xrayId: string;

  /** One request from `from` (X-Forwarded-For), with every header a route family needs. */
  async function send({ method, path: p, token, from }: Call): Promise<Response> {
    const headers: Record<string, string> = { 'X-Forwarded-For': from, 'Tus-Resumable': '1.0.0' };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (method === 'POST' && p === '/xrays') {
      const form = new FormData();
      form.append('metadata', JSON.stringify(validMetadata({ patientId: 'P-SEC-1' })));
      form.append('file', blobOf(makePng({ seed: 1501 })), 'image.png');
      return fetch(`${server.url}${p}`, { method, headers, body: form });
    }
    if (method === 'POST' && p === '/uploads') headers['Upload-Length'] = '1024';
    if (method === 'PATCH') {
      headers['Content-Type'] = 'application/json';
      return fetch(`${server.url}${p}`, { method, headers, body: JSON.stringify({ notes: 'forged' }) });
    }
    return fetch(`${server.url}${p}`, { method, headers });
  }

  /** Audit rows from these client addresses (other parts of this file write their own). */
  const rowsFrom = async (...clients: string[]): Promise<number> =>
    (
      await server.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_events WHERE client_ip = ANY($1)', [
        clients,
      ])
    ).rows[0]?.n ?? 0;

  const deniedFrom = async (client: string): Promise<DeniedRow[]> =>
    (
      await server.pool.query<DeniedRow>(
        `SELECT client_ip, request_id, details FROM audit_events
          WHERE action = 'access.denied' AND client_ip = $1 ORDER BY id`,
        [client],
      )
    ).rows;

  beforeAll(async () => {
    issuerDir = await mkdtemp(path.join(tmpdir(), 'xray-oidc-sec-'));
    dev = await startDevIssuer({ port: 0, dataDir: issuerDir, audience: AUDIENCE });
    server = await startTestServer('fs', {
      AUTH_DISABLED: 'false',
      OIDC_ISSUER: dev.issuer,
      OIDC_AUDIENCE: AUDIENCE,
      TRUST_PROXY: 'loopback',
      AUTH_FAILURE_LIMIT: String(LIMIT),
      AUTH_FAILURE_WINDOW_MS: String(WINDOW_MS),
    });
    forge = await tokenForge({ dataDir: issuerDir, issuer: dev.issuer, audience: AUDIENCE });
    [doctor, admin] = [await dev.mintToken('doctor'), await dev.mintToken('admin')];
    const created = await postXray(
      server.url,
      validMetadata({ patientId: 'P-SEC-1' }),
      blobOf(makePng({ seed: 1500 })),
      { Authorization: `Bearer ${await dev.mintToken('paramedic')}` },
    );
    expect(created.status).toBe(201);
    xrayId = ((await created.json()) as { id: string }).id;
  });
  afterAll(async () => {
    await server?.close();
    await dev?.stop();
    await rm(issuerDir, { recursive: true, force: true });
  });

  describe('RFC 9068 access tokens: typ and iat', () => {
    const from = '198.51.100.200';

    it('typ "JWT", or no typ: 401 invalid_token saying why', async () => {
      for (const typ of ['JWT', null]) {
        const res = await send({ method: 'GET', path: '/xrays', token: await forge.signed({}, { typ }), from });
        expect(res.status, String(typ)).toBe(401);
        expect(res.headers.get('content-type')).toContain('application/problem+json');
        expect(res.headers.get('www-authenticate')).toMatch(
          /error="invalid_token", error_description="[^"]*typ[^"]*at\+jwt/,
        );
        expect((await res.json()).code).toBe('unauthenticated');
      }
    });

    it('"application/at+jwt" is the same type as "at+jwt"', async () => {
      const token = await forge.signed({}, { typ: 'application/at+jwt' });
      expect((await send({ method: 'GET', path: '/xrays', token, from })).status).toBe(200);
    });

    it('iat in the future beyond the clock tolerance: 401; inside it: accepted; none: 401', async () => {
      const future = await send({
        method: 'GET',
        path: '/xrays',
        token: await forge.signed({ iat: now() + 120 }),
        from,
      });
      expect(future.status).toBe(401);
      expect(future.headers.get('www-authenticate')).toMatch(/issued in the future/);
      const skewed = await forge.signed({ iat: now() + 10 });
      expect((await send({ method: 'GET', path: '/xrays', token: skewed, from })).status).toBe(200);
      const noIat = await send({ method: 'GET', path: '/xrays', token: await forge.signed({ iat: undefined }), from });
      expect(noIat.status).toBe(401);
      expect(noIat.headers.get('www-authenticate')).toMatch(/issue time/);
    });
  });

  describe('forged tokens × route families', () => {
    const routes = (id: string): [string, string][] => [
      ['GET', '/xrays'],
      ['POST', '/xrays'],
      ['GET', `/xrays/${id}`],
      ['GET', `/xrays/${id}/download`],
      ['PATCH', `/xrays/${id}`],
      ['DELETE', `/xrays/${id}`],
      ['GET', '/audit'],
      ['GET', '/admin/outbox'],
      ['POST', '/uploads'],
      ['HEAD', `/uploads/${randomUUID()}`],
    ];
    // Each forgery claims the admin role: a token that slipped through could do anything.
    const forgeries: [string, () => Promise<string>, RegExp][] = [
      ['alg none', async () => forge.unsigned({ roles: ['admin'] }), /malformed|algorithm/],
      ['HS256 with the public key', () => forge.hs256WithPublicKey({ roles: ['admin'] }), /algorithm/],
      ['unknown key', () => forge.unknownKey({ roles: ['admin'] }), /key the issuer does not publish/],
      ['expired', () => forge.signed({ roles: ['admin'], iat: now() - 3600, exp: now() - 120 }), /expired/],
      ['wrong audience', () => forge.signed({ roles: ['admin'], aud: 'another-api' }), /audience/],
      ['wrong issuer', () => forge.signed({ roles: ['admin'], iss: 'https://evil.example' }), /issuer/],
      ['typ JWT', () => forge.signed({ roles: ['admin'] }, { typ: 'JWT' }), /typ/],
      ['iat in the future', () => forge.signed({ roles: ['admin'], iat: now() + 600 }), /future/],
    ];

    it('every forged kind on every route family: 401 problem+json, nothing stored or changed', async () => {
      const xraysBefore = await countRows(server);
      const uploadsBefore = await countRows(server, 'tus_uploads');
      const results = await Promise.all(
        forgeries.map(async ([kind, make, why], k) => {
          const token = await make();
          // One address per kind: the matrix is about the answers, not the limit.
          const from = `198.51.100.${k + 1}`;
          return Promise.all(
            routes(xrayId).map(async ([method, p]) => ({
              kind,
              why,
              route: `${method} ${p}`,
              res: await send({ method, path: p, token, from }),
            })),
          );
        }),
      );
      for (const { kind, why, route, res } of results.flat()) {
        const where = `${kind}: ${route}`;
        expect(res.status, where).toBe(401);
        expect(res.headers.get('content-type'), where).toContain('application/problem+json');
        const challenge = res.headers.get('www-authenticate') ?? '';
        expect(challenge, where).toMatch(/^Bearer realm="xray", error="invalid_token", error_description="[^"]+"$/);
        expect(challenge, where).toMatch(why);
        // A genuine token past its exp has its own code (the client refreshes); every forgery is unauthenticated.
        const code = kind === 'expired' ? 'token_expired' : 'unauthenticated';
        if (!route.startsWith('HEAD')) expect((await res.json()).code, where).toBe(code);
      }
      expect(await countRows(server)).toBe(xraysBefore);
      expect(await countRows(server, 'tus_uploads')).toBe(uploadsBefore);
      const read = await send({ method: 'GET', path: `/xrays/${xrayId}`, token: doctor, from: '198.51.100.99' });
      expect(read.status).toBe(200);
      expect((await read.json()).notes ?? null).not.toBe('forged');
    });
  });

  describe('a flood of bad tokens from one address', () => {
    const flooder = '203.0.113.66';
    const neighbour = '203.0.113.10';

    it('is throttled (429 + Retry-After) and audited in a handful of rows with the count, while valid users are served', async () => {
      const badToken = await forge.signed({ roles: ['admin'], iat: now() - 3600, exp: now() - 120 });
      const deniedBefore = (await deniedFrom(flooder)).length;
      const rowsBefore = await rowsFrom(flooder, neighbour);

      // The valid users' requests run in the same seconds as the flood.
      let flooding = true;
      const valid: number[] = [];
      const neighbourLoop = (async () => {
        while (flooding) {
          valid.push((await send({ method: 'GET', path: '/xrays?limit=1', token: doctor, from: neighbour })).status);
        }
      })();
      const flood = await inBatches(500, 50, async () => {
        const res = await send({ method: 'GET', path: '/xrays', token: badToken, from: flooder });
        await res.arrayBuffer();
        return res;
      });
      // Same address, while it is throttled: a token that verifies is still served (a shared NAT),
      // a request without one is refused at once.
      const sameAddressValid = await send({ method: 'GET', path: '/xrays?limit=1', token: admin, from: flooder });
      const sameAddressAnonymous = await send({ method: 'GET', path: '/xrays', from: flooder });
      flooding = false;
      await neighbourLoop;

      const statuses = flood.map((r) => r.status);
      expect(statuses.filter((s) => s === 401)).toHaveLength(LIMIT);
      expect(statuses.filter((s) => s === 429)).toHaveLength(500 - LIMIT);
      const throttled = flood.find((r) => r.status === 429);
      expect(Number(throttled?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(throttled?.headers.get('retry-after'))).toBeLessThanOrEqual(WINDOW_MS / 1000);
      expect(throttled?.headers.get('content-type')).toContain('application/problem+json');
      expect(throttled?.headers.get('www-authenticate')).toBeNull();

      expect(valid.length).toBeGreaterThan(0);
      expect(new Set(valid)).toEqual(new Set([200]));
      expect(sameAddressValid.status).toBe(200);
      expect(sameAddressAnonymous.status).toBe(429);
      expect(await sameAddressAnonymous.json()).toMatchObject({ status: 429, code: 'too_many_requests' });
      expect(Number(sameAddressAnonymous.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

      // Until the window closes, the flood has left one row: its first failure.
      const whileOpen = await deniedFrom(flooder);
      expect(whileOpen.length - deniedBefore).toBe(1);
      // When it closes, one more with the count.
      let after = whileOpen;
      for (let waited = 0; after.length - deniedBefore < 2 && waited < WINDOW_MS + 5_000; waited += 250) {
        await sleep(250);
        after = await deniedFrom(flooder);
      }
      const added = after.slice(deniedBefore);
      expect(added.length).toBeLessThanOrEqual(3);
      const [first, aggregate] = added;
      expect(first?.request_id).toBeTruthy();
      expect(first?.details).toMatchObject({ error: 'token_expired', status: 401 });
      expect(aggregate?.details).toMatchObject({
        reason: 'authentication_failed',
        count: 501,
        throttled: 481,
        limit: LIMIT,
        firstRequestId: first?.request_id,
        reasons: { 'The access token has expired.': 500 },
      });
      // All the audit trail gained from 500 bad tokens: a handful of rows, beside the valid users' reads.
      const rowsAfter = await rowsFrom(flooder, neighbour);
      expect(rowsAfter - rowsBefore - valid.length - 1).toBeLessThanOrEqual(3);
    });

    it('after the window closes the address is served 401s again (not locked out)', async () => {
      const res = await send({ method: 'GET', path: '/xrays', from: flooder });
      expect(res.status).toBe(401);
    });
  });
});

describe('OIDC_ACCEPT_JWT_TYP and failures still open at shutdown', () => {
  let issuerDir: string;
  let dev: DevIssuer;
  let server: TestServer;
  let forge: TokenForge;

  beforeAll(async () => {
    issuerDir = await mkdtemp(path.join(tmpdir(), 'xray-oidc-sec2-'));
    dev = await startDevIssuer({ port: 0, dataDir: issuerDir, audience: AUDIENCE });
    server = await startTestServer('fs', {
      AUTH_DISABLED: 'false',
      OIDC_ISSUER: dev.issuer,
      OIDC_AUDIENCE: AUDIENCE,
      OIDC_ACCEPT_JWT_TYP: 'true',
      TRUST_PROXY: 'loopback',
    });
    forge = await tokenForge({ dataDir: issuerDir, issuer: dev.issuer, audience: AUDIENCE });
  });
  afterAll(async () => {
    await server?.close();
    await dev?.stop();
    await rm(issuerDir, { recursive: true, force: true });
  });

  const get = (token: string | undefined, from: string) =>
    fetch(`${server.url}/xrays`, {
      headers: { 'X-Forwarded-For': from, ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    });

  it('accepts typ "JWT" when configured to, still not a token without typ', async () => {
    expect((await get(await forge.signed({}, { typ: 'JWT' }), '192.0.2.1')).status).toBe(200);
    expect((await get(await forge.signed({}, { typ: 'at+jwt' }), '192.0.2.1')).status).toBe(200);
    expect((await get(await forge.signed({}, { typ: null }), '192.0.2.1')).status).toBe(401);
  });

  it('stopping the server writes the aggregated event of a window still open', async () => {
    for (let i = 0; i < 3; i++) expect((await get(undefined, '192.0.2.77')).status).toBe(401);
    const db = new pg.Pool({ connectionString: server.env.DATABASE_URL });
    try {
      await server.stop();
      const { rows } = await db.query<{ details: Record<string, unknown> }>(
        `SELECT details FROM audit_events WHERE client_ip = '192.0.2.77' ORDER BY id`,
      );
      expect(rows).toHaveLength(2);
      expect(rows[1]?.details).toMatchObject({ reason: 'authentication_failed', count: 3, throttled: 0 });
    } finally {
      await db.end();
    }
  });
});
