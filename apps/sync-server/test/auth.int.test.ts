import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeProtectedHeader } from 'jose';
import { freePort, makePng, sha256Hex } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config/config.ts';
import type { DemoUserName } from '../src/dev/demo-users.ts';
import { startDevIssuer, type DevIssuer } from '../src/dev/oidc-issuer.ts';
import { start } from '../src/server.ts';
import { blobOf, createTestDatabase, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';
import { tokenForge, type TokenForge } from './oidc-tokens.ts';

const AUDIENCE = 'xray-api';
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const now = () => Math.floor(Date.now() / 1000);

async function expectProblem(res: Response, status: number, code: string): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toContain('application/problem+json');
  expect((await res.json()).code).toBe(code);
}

describe('auth with a real OIDC issuer (oidc-provider) and real PostgreSQL', () => {
  let issuerDir: string;
  let dev: DevIssuer;
  let server: TestServer;
  let forge: TokenForge;
  let tokens: Record<DemoUserName, string>;

  beforeAll(async () => {
    issuerDir = await mkdtemp(path.join(tmpdir(), 'xray-oidc-'));
    dev = await startDevIssuer({ port: 0, dataDir: issuerDir, audience: AUDIENCE });
    server = await startTestServer('fs', {
      AUTH_DISABLED: 'false',
      OIDC_ISSUER: dev.issuer,
      OIDC_AUDIENCE: AUDIENCE,
      // Short, so the rotation test need not wait 30 s; the rate limit is still observable.
      OIDC_JWKS_COOLDOWN_S: '1',
      // These tests walk hundreds of refused tokens from one address; the limit has its own tests.
      AUTH_FAILURE_LIMIT: '100000',
    });
    forge = await tokenForge({ dataDir: issuerDir, issuer: dev.issuer, audience: AUDIENCE });
    tokens = {
      paramedic: await dev.mintToken('paramedic'),
      paramedic2: await dev.mintToken('paramedic2'),
      doctor: await dev.mintToken('doctor'),
      admin: await dev.mintToken('admin'),
    };
  });
  afterAll(async () => {
    await server?.close();
    await dev?.stop();
    await rm(issuerDir, { recursive: true, force: true });
  });

  const api = (p: string, token: string | undefined, init: RequestInit = {}) =>
    fetch(`${server.url}${p}`, { ...init, headers: { ...(token ? bearer(token) : {}), ...init.headers } });

  async function create(user: DemoUserName, seed: number): Promise<Response> {
    return postXray(
      server.url,
      validMetadata({ patientId: 'P-AUTH-1' }),
      blobOf(makePng({ seed })),
      bearer(tokens[user]),
    );
  }

  it('issues real RS256 JWT access tokens for the API audience, with roles and names', async () => {
    const header = decodeProtectedHeader(tokens.doctor);
    expect(header).toMatchObject({ alg: 'RS256', typ: 'at+jwt', kid: dev.keyIds()[0] });
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect((await ready.json()).checks.auth).toBe('ok');
  });

  describe('token matrix: every /xrays route, every role', () => {
    let own: { id: string; sha256: string };
    const bytes = makePng({ seed: 501 });

    beforeAll(async () => {
      const res = await postXray(
        server.url,
        validMetadata({ patientId: 'P-AUTH-1' }),
        blobOf(bytes),
        bearer(tokens.paramedic),
      );
      expect(res.status).toBe(201);
      own = await res.json();
    });

    it('POST /xrays: paramedic and admin create; a doctor gets 403', async () => {
      const byParamedic = await create('paramedic', 502);
      expect(byParamedic.status).toBe(201);
      expect((await byParamedic.json()).capturedBy).toEqual({ sub: 'demo-paramedic', name: 'Pat Paramedic' });
      const byAdmin = await create('admin', 503);
      expect(byAdmin.status).toBe(201);
      expect((await byAdmin.json()).capturedBy.sub).toBe('demo-admin');
      await expectProblem(await create('doctor', 504), 403, 'forbidden');
    });

    it('GET /xrays/{id}: its paramedic, doctors and admins read it; another paramedic gets 404 as for no X-ray', async () => {
      for (const user of ['paramedic', 'doctor', 'admin'] as const) {
        const res = await api(`/xrays/${own.id}`, tokens[user]);
        expect(res.status, user).toBe(200);
        expect((await res.json()).id).toBe(own.id);
      }
      const other = await api(`/xrays/${own.id}`, tokens.paramedic2);
      const missing = await api(`/xrays/${randomUUID()}`, tokens.paramedic2);
      await expectProblem(other, 404, 'not_found');
      await expectProblem(missing, 404, 'not_found');
    });

    it('GET /xrays/{id}/download: the same rule, bytes only to those allowed', async () => {
      for (const user of ['paramedic', 'doctor', 'admin'] as const) {
        const res = await api(`/xrays/${own.id}/download`, tokens[user]);
        expect(res.status, user).toBe(200);
        expect(sha256Hex(Buffer.from(await res.arrayBuffer()))).toBe(own.sha256);
      }
      await expectProblem(await api(`/xrays/${own.id}/download`, tokens.paramedic2), 404, 'not_found');
      const head = await api(`/xrays/${own.id}/download`, tokens.paramedic2, { method: 'HEAD' });
      expect(head.status).toBe(404);
    });

    it('GET /xrays: doctors and admins see every X-ray; a paramedic only their own, whatever the filter', async () => {
      const mine = await create('paramedic2', 505);
      expect(mine.status).toBe(201);
      const theirs: { id: string } = await mine.json();
      const ids = async (user: DemoUserName, q = 'patientId=P-AUTH-1&limit=100') => {
        const res = await api(`/xrays?${q}`, tokens[user]);
        expect(res.status, user).toBe(200);
        return (await res.json()).items.map((x: { id: string }) => x.id);
      };
      for (const user of ['doctor', 'admin'] as const) {
        expect(await ids(user)).toEqual(expect.arrayContaining([own.id, theirs.id]));
      }
      const p1 = await ids('paramedic');
      expect(p1).toContain(own.id);
      expect(p1).not.toContain(theirs.id);
      expect(await ids('paramedic2')).toEqual([theirs.id]);
      expect(await ids('paramedic2', 'limit=100')).toEqual([theirs.id]);
    });

    it('DELETE /xrays/{id}: only admins; paramedics (even their own) and doctors get 403', async () => {
      for (const user of ['paramedic', 'paramedic2', 'doctor'] as const) {
        await expectProblem(await api(`/xrays/${own.id}`, tokens[user], { method: 'DELETE' }), 403, 'forbidden');
      }
      expect((await api(`/xrays/${own.id}`, tokens.doctor)).status).toBe(200);
      expect((await api(`/xrays/${own.id}`, tokens.admin, { method: 'DELETE' })).status).toBe(204);
      expect((await api(`/xrays/${own.id}`, tokens.admin)).status).toBe(404);
    });

    it('a token with no known role may do nothing (403), but is still authenticated', async () => {
      const nobody = await forge.signed({ sub: 'someone', roles: ['nurse', 'superuser'] });
      await expectProblem(await api('/xrays', nobody), 403, 'forbidden');
      await expectProblem(await api(`/xrays/${randomUUID()}`, nobody), 403, 'forbidden');
      const post = await postXray(server.url, validMetadata(), blobOf(makePng({ seed: 506 })), bearer(nobody));
      await expectProblem(post, 403, 'forbidden');
    });
  });

  describe('401 for every token that is not a valid one', () => {
    const routes = [
      ['GET', '/xrays'],
      ['GET', `/xrays/${randomUUID()}`],
      ['GET', `/xrays/${randomUUID()}/download`],
      ['DELETE', `/xrays/${randomUUID()}`],
      ['POST', '/uploads'],
    ] as const;

    it('no token: 401 with a bare Bearer challenge on every protected route (and POST /xrays)', async () => {
      for (const [method, p] of routes) {
        const res = await api(p, undefined, { method, headers: { 'Tus-Resumable': '1.0.0' } });
        expect(res.status, `${method} ${p}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer realm="xray"');
      }
      const post = await postXray(server.url, validMetadata(), blobOf(makePng({ seed: 507 })));
      await expectProblem(post, 401, 'unauthenticated');
      expect(post.headers.get('www-authenticate')).toBe('Bearer realm="xray"');
      const basic = await api('/xrays', undefined, { headers: { Authorization: 'Basic YWRtaW46YWRtaW4=' } });
      expect(basic.status).toBe(401);
      expect(basic.headers.get('www-authenticate')).toBe('Bearer realm="xray"');
    });

    const cases: [string, () => Promise<string>, RegExp][] = [
      ['alg none', async () => forge.unsigned({ roles: ['admin'] }), /malformed|algorithm/],
      ['HS256 signed with the issuer public key', () => forge.hs256WithPublicKey({ roles: ['admin'] }), /algorithm/],
      ['wrong issuer', () => forge.signed({ iss: 'https://evil.example' }), /issuer/],
      ['wrong audience', () => forge.signed({ aud: 'some-other-api' }), /audience/],
      ['expired (beyond the 30 s tolerance)', () => forge.signed({ iat: now() - 3600, exp: now() - 60 }), /expired/],
      ['not yet valid (nbf beyond the tolerance)', () => forge.signed({ nbf: now() + 120 }), /not valid yet/],
      ['no exp', () => forge.signed({ exp: undefined }), /expiry/],
      ['unknown kid', () => forge.unknownKey({ roles: ['admin'] }), /key the issuer does not publish/],
      ['known kid, other key', () => forge.unknownKey({ roles: ['admin'] }, dev.keyIds()[0]), /signature/],
      [
        'a real token with its roles edited',
        async () => {
          const [h, p, s] = tokens.paramedic.split('.');
          const claims = JSON.parse(Buffer.from(p ?? '', 'base64url').toString());
          return `${h}.${Buffer.from(JSON.stringify({ ...claims, roles: ['admin'] })).toString('base64url')}.${s}`;
        },
        /signature/,
      ],
      ['not a JWT', async () => 'abc.def.ghi', /malformed/],
    ];

    it.each(cases)('%s → 401 invalid_token on every route', async (_name, make, why) => {
      const token = await make();
      for (const [method, p] of routes) {
        const res = await api(p, token, { method, headers: { 'Tus-Resumable': '1.0.0' } });
        expect(res.status, `${method} ${p}`).toBe(401);
        const challenge = res.headers.get('www-authenticate') ?? '';
        expect(challenge).toMatch(/^Bearer realm="xray", error="invalid_token", error_description="[^"]+"$/);
        expect(challenge).toMatch(why);
      }
      const post = await postXray(server.url, validMetadata(), blobOf(makePng({ seed: 508 })), bearer(token));
      // Expired (a genuine token the client should refresh) is told apart from every other refusal.
      await expectProblem(post, 401, String(why) === String(/expired/) ? 'token_expired' : 'unauthenticated');
    });

    it('clock skew inside the tolerance is accepted', async () => {
      const late = await forge.signed({ iat: now() - 600, exp: now() - 10 });
      expect((await api('/xrays', late)).status).toBe(200);
      const early = await forge.signed({ nbf: now() + 10 });
      expect((await api('/xrays', early)).status).toBe(200);
    });

    it('a token verified once (and remembered) is still refused the moment it expires', async () => {
      // Inside the 30 s tolerance for about two more seconds.
      const token = await forge.signed({ iat: now() - 600, exp: now() - 28 });
      expect((await api('/xrays', token)).status).toBe(200);
      expect((await api('/xrays', token)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 3_500));
      const res = await api('/xrays', token);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/expired/);
      expect((await res.json()).code).toBe('token_expired');
    });

    it('token_expired only for a genuine token: an expired forgery (unsigned, other key) is unauthenticated', async () => {
      const stale = { iat: now() - 3600, exp: now() - 120 };
      const genuine = await api('/xrays', await forge.signed(stale));
      await expectProblem(genuine, 401, 'token_expired');
      for (const forged of [
        forge.unsigned(stale),
        await forge.unknownKey(stale, dev.keyIds()[0]),
        await forge.hs256WithPublicKey(stale),
      ]) {
        await expectProblem(await api('/xrays', forged), 401, 'unauthenticated');
      }
    });
  });

  describe('key rotation at the issuer', () => {
    it('a made-up kid refetches the key set at most once per cooldown (no load generator against the issuer)', async () => {
      await sleep(1100); // past the cooldown of any earlier fetch
      const before = dev.jwksFetches();
      const storm = await Promise.all(
        Array.from({ length: 20 }, (_, i) => forge.unknownKey({ roles: ['admin'] }, `made-up-${i}`)),
      );
      const started = Date.now();
      const answers = await Promise.all(storm.map((t) => api('/xrays', t)));
      const tookMs = Date.now() - started;
      expect(answers.map((r) => r.status)).toEqual(Array(20).fill(401));
      // One refetch, and one more per cooldown (1 s here) the 20 answers took on a busy machine.
      expect(dev.jwksFetches() - before, `20 answers in ${tookMs} ms`).toBeLessThanOrEqual(
        1 + Math.floor(tookMs / 1000),
      );
    });

    it('a token signed with a new key is accepted without restarting the server; older tokens still work', async () => {
      const oldToken = tokens.doctor;
      const oldKid = dev.keyIds()[0];
      const newKid = await dev.rotateKeys();
      expect(newKid).not.toBe(oldKid);
      await sleep(1100); // the JWKS cooldown (1 s here, 30 s by default) since the last refetch
      const fresh = await dev.mintToken('admin');
      expect(decodeProtectedHeader(fresh).kid).toBe(newKid);
      const res = await api('/xrays', fresh);
      expect(res.status).toBe(200);
      expect((await api('/xrays', oldToken)).status).toBe(200);
      const created = await postXray(
        server.url,
        validMetadata(),
        blobOf(makePng({ seed: 509 })),
        bearer(await dev.mintToken('paramedic')),
      );
      expect(created.status).toBe(201);
    });
  });
});

describe('discovery does not block startup', () => {
  it('an unreachable issuer: the server starts not ready (503), then becomes ready by itself', async () => {
    const port = await freePort();
    const dir = await mkdtemp(path.join(tmpdir(), 'xray-oidc-late-'));
    const server = await startTestServer('fs', {
      AUTH_DISABLED: 'false',
      OIDC_ISSUER: `http://127.0.0.1:${port}`,
      OIDC_AUDIENCE: AUDIENCE,
    });
    let dev: DevIssuer | undefined;
    try {
      const notReady = await fetch(`${server.url}/readyz`);
      expect(notReady.status).toBe(503);
      expect((await notReady.json()).checks.auth).toMatch(/^failed: OIDC issuer .* not discovered/);
      const withToken = await fetch(`${server.url}/xrays`, { headers: bearer('a.b.c') });
      await expectProblem(withToken, 503, 'unavailable');
      expect(withToken.headers.get('retry-after')).toBe('5');
      expect((await fetch(`${server.url}/xrays`)).status).toBe(401);

      dev = await startDevIssuer({ port, dataDir: dir, audience: AUDIENCE });
      let ready = 0;
      for (let i = 0; i < 80 && ready !== 200; i++) {
        await sleep(500);
        ready = (await fetch(`${server.url}/readyz`)).status;
      }
      expect(ready).toBe(200);
      expect((await fetch(`${server.url}/xrays`, { headers: bearer(await dev.mintToken('doctor')) })).status).toBe(200);
    } finally {
      await server.close();
      await dev?.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('no OIDC_ISSUER and no AUTH_DISABLED outside development: refuses to start, naming OIDC_ISSUER', async () => {
    const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: 'postgres://unused/none' });
    await expect(start(config)).rejects.toThrow(ConfigError);
    await expect(start(config)).rejects.toThrow(/OIDC_ISSUER/);
  });
});

describe('production guard', () => {
  const production = {
    NODE_ENV: 'production',
    OIDC_ISSUER: 'https://id.example.org/realms/ems',
    DATABASE_URL: 'postgres://xray@db.internal/xray',
    DATABASE_OWNER_URL: 'postgres://xray_owner@db.internal/xray',
    S3_BUCKET: 'xrays',
    HOST: '127.0.0.1',
    PATIENT_SERVICE_URL: 'https://patients.example.org/api',
    // Only their presence and form are checked here (encryption.int.test.ts uses real keys).
    KEK: `prod-1:${Buffer.alloc(32, 7).toString('base64')}`,
    UPLOAD_PRIVATE_KEY: '-----BEGIN PRIVATE KEY-----\\n…\\n-----END PRIVATE KEY-----',
    AUDIT_ANCHOR_KEY: '-----BEGIN PRIVATE KEY-----\\n…\\n-----END PRIVATE KEY-----',
  };

  it('accepts a complete production configuration', () => {
    expect(loadConfig(production).env).toBe('production');
    expect(
      loadConfig({ ...production, HOST: '0.0.0.0', TLS_TERMINATED_BY_PROXY: 'true' }).http.tlsTerminatedByProxy,
    ).toBe(true);
    expect(loadConfig({ ...production, OIDC_ISSUER: 'http://localhost:8081' }).auth.issuer).toBe(
      'http://localhost:8081',
    );
  });

  const missing: [string, Record<string, string | undefined>, RegExp][] = [
    ['OIDC_ISSUER missing', { OIDC_ISSUER: undefined }, /OIDC_ISSUER: required in production/],
    ['OIDC_ISSUER plain http', { OIDC_ISSUER: 'http://id.example.org' }, /OIDC_ISSUER: must be an https URL/],
    ['DATABASE_URL missing', { DATABASE_URL: undefined }, /DATABASE_URL: required in production/],
    ['S3_BUCKET missing', { S3_BUCKET: undefined }, /S3_BUCKET: required in production/],
    ['plain HTTP beyond localhost', { HOST: '0.0.0.0' }, /TLS_TERMINATED_BY_PROXY: HOST=0.0.0.0 serves plain HTTP/],
    ['AUTH_DISABLED', { AUTH_DISABLED: 'true' }, /AUTH_DISABLED: must not be true in production/],
  ];
  it.each(missing)('%s: refuses, naming the setting', (_name, change, message) => {
    const load = () => loadConfig({ ...production, ...change });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(message);
  });

  it('symmetric or "none" algorithms are refused in any environment', () => {
    for (const algs of ['HS256', 'RS256,none', 'RS256,HS512']) {
      expect(() => loadConfig({ OIDC_ALGORITHMS: algs })).toThrow(/OIDC_ALGORITHMS: .* not accepted/);
    }
    expect(loadConfig({ OIDC_ALGORITHMS: 'ES256, EdDSA' }).auth.algorithms).toEqual(['ES256', 'EdDSA']);
    expect(loadConfig({ OIDC_ROLES_CLAIM: 'realm_access.roles' }).auth.rolesClaim).toEqual(['realm_access', 'roles']);
  });

  it('the real entry point exits with EX_CONFIG and names every missing setting', async () => {
    const entry = new URL('../src/main.ts', import.meta.url).pathname;
    const child = spawn(process.execPath, ['--import', 'tsx', entry], {
      env: { PATH: process.env.PATH, NODE_ENV: 'production', HOST: '0.0.0.0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(78);
    for (const name of ['OIDC_ISSUER', 'DATABASE_URL', 'S3_BUCKET', 'TLS_TERMINATED_BY_PROXY'])
      expect(stderr).toContain(`${name}:`);
  });
});

describe('npm start in development: the dev issuer, npm run token, restarts', () => {
  const entry = new URL('../src/main.ts', import.meta.url).pathname;
  const tokenCli = new URL('../src/dev/token.cli.ts', import.meta.url).pathname;
  let dataDir: string;
  let databaseUrl: string;
  let issuerPort: number;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'xray-dev-start-'));
    databaseUrl = await createTestDatabase();
    // Fixed across the restart: the issuer URL (and so `iss`) includes the port.
    issuerPort = await freePort();
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  async function startDev(): Promise<{ child: ChildProcess; url: string; issuer: string; kill(): Promise<void> }> {
    const child = spawn(process.execPath, ['--import', 'tsx', entry], {
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'development',
        PORT: '0',
        DEV_OIDC_PORT: String(issuerPort),
        // The dev Patient and Doctor Services on free ports (8082/8083 may be taken by `npm start`).
        DEV_PATIENT_PORT: '0',
        DEV_DOCTOR_PORT: '0',
        DATA_DIR: dataDir,
        DATABASE_URL: databaseUrl,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    let issuer = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`dev server did not start:\n${stderr}`)), 60_000);
      child.once('exit', (code) => reject(new Error(`dev server exited with ${code}:\n${stderr}`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (!line.startsWith('{')) return;
        const entry: unknown = JSON.parse(line);
        const field = (k: string): string => {
          const v: unknown = typeof entry === 'object' && entry !== null ? Reflect.get(entry, k) : undefined;
          return typeof v === 'string' ? v : '';
        };
        if (field('msg').startsWith('development OIDC issuer running')) issuer = field('issuer');
        if (field('msg') === 'sync server listening' && field('url')) {
          clearTimeout(timer);
          resolve(field('url'));
        }
      });
    });
    const kill = async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    };
    return { child, url, issuer, kill };
  }

  async function runTokenCli(
    issuer: string,
    user: string,
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, ['--import', 'tsx', tokenCli, user], {
      env: { PATH: process.env.PATH, OIDC_ISSUER: issuer },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    return { code, stdout, stderr };
  }

  it('runs the dev issuer; the token CLI signs in by code + PKCE; tokens survive a restart', async () => {
    const first = await startDev();
    let token: string;
    try {
      expect(first.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(`${first.url}/xrays`)).status).toBe(401);
      const out = await runTokenCli(first.issuer, 'doctor');
      expect(out.code, out.stderr).toBe(0);
      token = out.stdout.trim();
      expect(token.split('.')).toHaveLength(3);
      expect((await fetch(`${first.url}/xrays`, { headers: bearer(token) })).status).toBe(200);
      const usage = await runTokenCli(first.issuer, 'nobody');
      expect(usage.code).toBe(64);
      expect(usage.stderr).toMatch(/paramedic, paramedic2, doctor, admin/);
    } finally {
      await first.kill();
    }
    // Keys live in DATA_DIR: a token from before the restart still verifies.
    const second = await startDev();
    try {
      expect((await fetch(`${second.url}/xrays`, { headers: bearer(token) })).status).toBe(200);
    } finally {
      await second.kill();
    }
  });
});
