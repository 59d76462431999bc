// Attack on a1c9b0d (issue 22, start): the S3 driver loaded on demand (createObjectStore,
// createAuditWitness, createTusStore import it dynamically; the bundle keeps the SDK out of what
// dist/main.js imports at start), and OIDC discovery running while the database is prepared
// (createAuthentication returns `started`, awaited just before listening).
//
// Everything here runs the bundle production runs (`node dist/main.js`, `node dist/xray-admin.js`,
// built from this checkout by build.mjs) against the real services: PostgreSQL, Swift s3api, the
// development OIDC issuer. What is attacked: a start with the issuer down (then up), with the
// issuer down and the database unreachable or held by another replica's migration, SIGTERM before
// the server listens, a missing OIDC_ISSUER, an unreachable S3, and every door and operator
// command that opens S3 through the lazily loaded driver.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { cp, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { freePort, makePng, sha256Hex } from '@xray/testkit';
import { PG_MIGRATE_LOCK_ID } from 'node-pg-migrate';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditWitness } from '../src/audit/audit.witnesses.ts';
import { loadConfig } from '../src/config/config.ts';
import { startDevIssuer, type DevIssuer } from '../src/dev/oidc-issuer.ts';
import { start } from '../src/server.ts';
import { createObjectStore } from '../src/storage/index.ts';
import { createTusStore } from '../src/uploads/tus-store.adapter.ts';
import { blobOf, createTestDatabase, createTestStorage, postXray, validMetadata, type TestStorage } from './harness.ts';
import { TcpProxy, waitFor } from './integrations.support.ts';
import { buildBundle, runAdmin } from './server-process.ts';
import { MiB, sealed, startTus } from './tus-client.ts';

const packageDir = path.resolve(import.meta.dirname, '..');
const AUDIENCE = 'xray-api';
const UPLOAD_KEY = generateKeyPairSync('rsa', { modulusLength: 3072 })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();
const newKek = () => randomBytes(32).toString('base64');

interface Starting {
  child: ChildProcess;
  /** Parsed log lines (stdout) so far. */
  lines: { msg?: string; url?: string; [k: string]: unknown }[];
  stderr(): string;
  /** Resolves with the first log line whose msg matches. */
  logged(msg: RegExp, timeoutMs?: number): Promise<{ msg?: string; url?: string }>;
  /** Exit code and signal, once it has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; atMs: number }>;
  startedAtMs: number;
}

/** `node dist/main.js` without waiting for it to listen (spawnServer waits): to watch a start. */
function startBundle(env: Record<string, string | undefined>, dist = path.join(packageDir, 'dist')): Starting {
  const startedAtMs = Date.now();
  const childEnv: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'info', PORT: '0', METRICS_PORT: '0', ...env };
  // undefined: not set at all (OIDC_ISSUER='' would be an invalid URL, not a missing one).
  for (const [k, v] of Object.entries(childEnv)) if (v === undefined) delete childEnv[k];
  const child = spawn(process.execPath, [path.join(dist, 'main.js')], {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Starting['lines'] = [];
  const waiters: { msg: RegExp; resolve: (l: Starting['lines'][number]) => void }[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let entry: Starting['lines'][number];
    try {
      entry = JSON.parse(line) as Starting['lines'][number];
    } catch {
      return;
    }
    lines.push(entry);
    for (const w of [...waiters])
      if (w.msg.test(entry.msg ?? '')) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(entry);
      }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; atMs: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, atMs: Date.now() })),
  );
  return {
    child,
    lines,
    stderr: () => stderr,
    startedAtMs,
    exited,
    logged: (msg, timeoutMs = 60_000) => {
      const seen = lines.find((l) => msg.test(l.msg ?? ''));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no log line ${msg} within ${timeoutMs} ms:\n${JSON.stringify(lines)}\n${stderr}`)),
          timeoutMs,
        );
        void exited.then((e) => {
          clearTimeout(timer);
          reject(new Error(`exited (${e.code ?? e.signal}) before logging ${msg}:\n${stderr}`));
        });
        waiters.push({
          msg,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
      });
    },
  };
}

async function stopProcess(s: Starting | undefined): Promise<void> {
  if (!s || s.child.exitCode !== null || s.child.signalCode !== null) return;
  s.child.kill('SIGKILL');
  await s.exited;
}

async function readiness(url: string): Promise<{ status: number; checks: Record<string, string> }> {
  const res = await fetch(`${url}/readyz`);
  const body = (await res.json()) as { checks: Record<string, string> };
  return { status: res.status, checks: body.checks };
}

/** A port nothing listens on (taken, then released). */
const deadPort = () => freePort();

describe('start order and the lazily loaded S3 driver, on the bundle (a1c9b0d)', () => {
  let storage: TestStorage;
  let dataDir: string;
  let issuerDir: string;
  /** The issuer's port: nothing listens there until a test starts the issuer on it. */
  let issuerPort: number;
  let issuer: DevIssuer | undefined;
  const running: Starting[] = [];

  beforeAll(async () => {
    await buildBundle();
    storage = await createTestStorage('s3');
    dataDir = await mkdtemp(path.join(tmpdir(), 'xray-attack11-'));
    issuerDir = await mkdtemp(path.join(tmpdir(), 'xray-attack11-oidc-'));
    issuerPort = await freePort();
  });

  afterAll(async () => {
    for (const s of running) await stopProcess(s);
    await issuer?.stop();
    await storage?.cleanup();
    await rm(dataDir, { recursive: true, force: true });
    await rm(issuerDir, { recursive: true, force: true });
  });

  const issuerUrl = () => `http://127.0.0.1:${issuerPort}`;
  const baseEnv = (over: Record<string, string | undefined> = {}): Record<string, string | undefined> => ({
    NODE_ENV: 'test',
    ...storage.env,
    AUTH_DISABLED: 'false',
    OIDC_ISSUER: issuerUrl(),
    OIDC_AUDIENCE: AUDIENCE,
    DPOP_REQUIRED_ROLES: '',
    AUDIT_CHECKPOINT_EVERY: '2',
    ...over,
  });
  const track = (s: Starting) => {
    running.push(s);
    return s;
  };

  /**
   * A fresh database whose migration lock another replica (`holder`) holds, and a bundle started on
   * it with the issuer unreachable, handed to `body` once it waits for that lock; the lock is
   * released and `holder` closed afterwards. Resolves to the database's URL.
   */
  const behindMigrationLock = async (body: (s: Starting, holder: pg.Client) => Promise<void>): Promise<string> => {
    const databaseUrl = await createTestDatabase();
    const holder = new pg.Client({ connectionString: databaseUrl });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1::bigint)', [String(PG_MIGRATE_LOCK_ID)]);
      const s = track(
        startBundle(baseEnv({ OIDC_ISSUER: `http://127.0.0.1:${await deadPort()}`, DATABASE_URL: databaseUrl })),
      );
      await s.logged(/another replica is migrating the schema; waiting for it/);
      await body(s, holder);
    } finally {
      await holder.query('SELECT pg_advisory_unlock($1::bigint)', [String(PG_MIGRATE_LOCK_ID)]).catch(() => undefined);
      await holder.end();
    }
    return databaseUrl;
  };

  describe('the issuer down at start, on S3', () => {
    let server: Starting;
    let url: string;
    let databaseUrl: string;
    const keks = { k1: newKek(), k2: newKek() };
    const keyEnv = (current: string) => ({
      KEK: Object.entries(keks)
        .map(([id, k]) => `${id}:${k}`)
        .join(','),
      KEK_CURRENT_ID: current,
      UPLOAD_PRIVATE_KEY: UPLOAD_KEY,
    });
    let env: Record<string, string>;

    beforeAll(async () => {
      databaseUrl = await createTestDatabase();
      env = { ...(baseEnv({ DATABASE_URL: databaseUrl, ...keyEnv('k1') }) as Record<string, string>) };
    });

    it('starts anyway, answers /readyz 503 naming auth, then 200 once the issuer answers', async () => {
      server = track(startBundle(env));
      const listening = await server.logged(/^sync server listening$/, 60_000);
      url = listening.url!;
      // The start waited for the issuer (JwtVerifier.start: 5 s), not for ever, and said why.
      expect(
        server.lines.some((l) => l.msg === 'OIDC issuer not reachable yet; not ready until it is (retrying)'),
      ).toBe(true);
      const before = await readiness(url);
      expect(before.status).toBe(503);
      expect(before.checks.auth).toMatch(/^failed: OIDC issuer http:\/\/127\.0\.0\.1:\d+ not discovered/);
      expect(before.checks.database).toBe('ok');
      expect(before.checks.storage).toBe('ok');
      // A request with a token is refused as "issuer unavailable", not as a bad token.
      const refused = await fetch(`${url}/xrays`, { headers: { Authorization: 'Bearer x.y.z' } });
      expect(refused.status).toBe(503);

      issuer = await startDevIssuer({ port: issuerPort, dataDir: issuerDir, audience: AUDIENCE });
      expect(issuer.issuer).toBe(issuerUrl());
      const after = await waitFor(
        '/readyz 200 once the issuer answers',
        async () => {
          const r = await readiness(url);
          return r.status === 200 ? r : undefined;
        },
        45_000,
        250,
      );
      expect(after.checks).toMatchObject({ database: 'ok', storage: 'ok', auth: 'ok', keys: 'ok' });
    });

    it('then every door that touches S3 works: POST /xrays, a tus upload to download (sha256 equal), checkpoints', async () => {
      const paramedic = { Authorization: `Bearer ${await issuer!.mintToken('paramedic')}` };
      const doctor = { Authorization: `Bearer ${await issuer!.mintToken('doctor')}` };
      const png = makePng({ seed: 1101 });
      const posted = await postXray(url, validMetadata({ patientId: 'P-11-A' }), blobOf(png), paramedic);
      expect(posted.status, await posted.clone().text()).toBe(201);
      const { id } = (await posted.json()) as { id: string };
      const file = await fetch(`${url}/xrays/${id}/download`, { headers: doctor });
      expect(file.status).toBe(200);
      expect(sha256Hex(Buffer.from(await file.arrayBuffer()))).toBe(sha256Hex(png));

      // tus through @tus/s3-store (loaded by createTusStore), in several S3 parts, to finalize.
      const plain = makePng({ seed: 1102, width: 3500, height: 3500 });
      expect(plain.length).toBeGreaterThan(10 * MiB);
      const { body, metadata } = await sealed(url, plain, { patientId: 'P-11-B' });
      const tus = startTus({
        endpoint: `${url}/uploads`,
        file: body,
        metadata,
        headers: paramedic,
        chunkSize: 5 * MiB,
      });
      expect((await tus.done).xrayId).toBe(metadata.id);
      const got = await fetch(`${url}/xrays/${metadata.id}/download`, { headers: doctor });
      expect(got.status).toBe(200);
      expect(sha256Hex(Buffer.from(await got.arrayBuffer()))).toBe(sha256Hex(plain));

      // Audit checkpoints (AUDIT_CHECKPOINT_EVERY=2) to the S3 witness (loaded by createAuditWitness).
      const verified = await waitFor(
        'a checkpoint in S3 that verify-audit checks',
        async () => {
          const r = await runAdmin(['verify-audit'], env, undefined, { build: 'bundle' });
          return r.code === 0 && /[1-9]\d* checkpoints?/.test(r.stdout) ? r.stdout : undefined;
        },
        30_000,
        500,
      );
      expect(verified).toMatch(/checkpoint/);
    });

    it('and the operator commands that open S3 run from the bundle: check, rotate-kek, recover, verify-audit', async () => {
      server.child.kill('SIGTERM');
      const ended = await server.exited;
      expect(ended.code, server.stderr()).toBe(0);
      const admin = (args: string[], over: Record<string, string> = {}) =>
        runAdmin(args, { ...env, ...over }, undefined, { build: 'bundle' });
      const checked = await admin(['check', '--all']);
      expect(checked.code, checked.stdout + checked.stderr).toBe(0);
      const rotated = await admin(['rotate-kek', '--to', 'k2'], keyEnv('k1'));
      expect(rotated.code, rotated.stdout + rotated.stderr).toBe(0);
      expect(rotated.stdout).toMatch(/re-wrapped/);
      const finished = await admin(['rotate-kek', '--to', 'k2', '--finish'], keyEnv('k2'));
      expect(finished.code, finished.stdout + finished.stderr).toBe(0);
      const recovered = await admin(['recover'], keyEnv('k2'));
      expect(recovered.code, recovered.stdout + recovered.stderr).toBe(0);
      const verified = await admin(['verify-audit'], keyEnv('k2'));
      expect(verified.code, verified.stdout + verified.stderr).toBe(0);
      const after = await admin(['check', '--all'], keyEnv('k2'));
      expect(after.code, after.stdout + after.stderr).toBe(0);
    });
  });

  it('the issuer and the database both unreachable: fails at once naming the database, no discovery loop holding it', async () => {
    const port = await deadPort();
    const s = track(
      startBundle(
        baseEnv({
          OIDC_ISSUER: `http://127.0.0.1:${await deadPort()}`,
          DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/x`,
        }),
      ),
    );
    const ended = await s.exited;
    expect(ended.code, s.stderr()).toBe(1);
    expect(s.stderr()).toMatch(/sync server did not start: .*ECONNREFUSED/);
    // Before a1c9b0d the start first waited 5 s for the issuer; either way no retry loop keeps it alive.
    expect(ended.atMs - s.startedAtMs).toBeLessThan(15_000);
  });

  it('SIGTERM while another replica holds the migration lock (issuer down): ends at once, and the next start migrates', async () => {
    const databaseUrl = await behindMigrationLock(async (s, holder) => {
      const ours = async () =>
        (
          await holder.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'xray-sync-server%' AND datname = current_database()",
          )
        ).rows[0]!.n;
      expect(await ours()).toBeGreaterThan(0);
      s.child.kill('SIGTERM');
      const ended = await Promise.race([s.exited, new Promise<undefined>((r) => setTimeout(r, 5_000))]);
      expect(ended, 'the process was still running 5 s after SIGTERM').toBeDefined();
      expect(s.lines.some((l) => l.msg === 'sync server listening')).toBe(false);
      // Its migration connection went with it (no half-started server holding the database).
      await waitFor('no connection of the stopped start left', async () => (await ours()) === 0, 10_000, 100);
    });
    const next = track(startBundle(baseEnv({ OIDC_ISSUER: issuer?.issuer ?? issuerUrl(), DATABASE_URL: databaseUrl })));
    const listening = await next.logged(/^sync server listening$/);
    expect((await readiness(listening.url!)).checks.database).toBe('ok');
    next.child.kill('SIGTERM');
    expect((await next.exited).code).toBe(0);
  });

  it('the issuer down while another replica migrates: discovery waits alongside the database, not before it', async () => {
    // Before a1c9b0d the start first waited 5 s for the issuer, then for the database: 5 s more.
    await behindMigrationLock(async (s, holder) => {
      // The database is prepared while the issuer is still being looked for (it was 5 s later): the
      // start reached the migration lock before its wait for the issuer ended and said so. (In the
      // order of its own log, not by this machine's clock: a busy machine is slow to boot node.)
      const at = (msg: RegExp) => s.lines.findIndex((l) => msg.test(l.msg ?? ''));
      const waiting = at(/another replica is migrating the schema; waiting for it/);
      const gaveUp = at(/^OIDC issuer not reachable yet/);
      expect(gaveUp === -1 || waiting < gaveUp, `log: ${JSON.stringify(s.lines.map((l) => l.msg))}`).toBe(true);
      // Longer than the start's wait for the issuer (5 s) from the process's start.
      await sleep(Math.max(0, s.startedAtMs + 6_000 - Date.now()));
      await holder.query('SELECT pg_advisory_unlock($1::bigint)', [String(PG_MIGRATE_LOCK_ID)]);
      // Then it listens (once the migrations ran), not ready until the issuer answers.
      const { url } = await s.logged(/^sync server listening$/);
      const r = await readiness(url!);
      expect(r.status).toBe(503);
      expect(r.checks).toMatchObject({ database: 'ok', storage: 'ok', keys: 'ok' });
      expect(r.checks.auth).toMatch(/^failed: OIDC issuer .* not discovered/);
      s.child.kill('SIGTERM');
      expect((await s.exited).code, s.stderr()).toBe(0);
    });
  });

  it('SIGTERM while the start waits for the issuer (database ready, nothing listening yet): ends at once, never listens', async () => {
    const databaseUrl = await createTestDatabase();
    const s = track(
      startBundle(baseEnv({ OIDC_ISSUER: `http://127.0.0.1:${await deadPort()}`, DATABASE_URL: databaseUrl })),
    );
    // Logged after storage is opened, before `await auth.started` (the start's 5 s wait for the issuer).
    await s.logged(/^S3 object storage$/);
    const signalledAt = Date.now();
    s.child.kill('SIGTERM');
    const ended = await Promise.race([s.exited, sleep(5_000).then(() => undefined)]);
    expect(ended, 'the process was still running 5 s after SIGTERM').toBeDefined();
    expect(ended!.atMs - signalledAt).toBeLessThan(2_000);
    expect(s.lines.some((l) => l.msg === 'sync server listening')).toBe(false);
  });

  it('no OIDC_ISSUER is still a configuration error at once, before the database or S3 are touched', async () => {
    const s = track(
      startBundle(
        baseEnv({
          OIDC_ISSUER: undefined,
          DATABASE_URL: `postgres://postgres@127.0.0.1:${await deadPort()}/x`,
          S3_ENDPOINT: `http://127.0.0.1:${await deadPort()}`,
        }),
      ),
    );
    const ended = await s.exited;
    expect(ended.code, s.stderr()).toBe(78);
    expect(s.stderr()).toMatch(/OIDC_ISSUER: not set/);
    expect(ended.atMs - s.startedAtMs).toBeLessThan(5_000);
  });

  it('S3 unreachable at start: the lazily loaded driver is there, /readyz names storage, and S3 coming back makes it ready', async () => {
    // (Not a failed start: with S3_CREATE_BUCKET=false the store is only checked, as before a1c9b0d.)
    const proxy = new TcpProxy('127.0.0.1', Number(new URL(storage.env.S3_ENDPOINT!).port));
    await proxy.start();
    proxy.cut();
    try {
      const s = track(
        startBundle(
          baseEnv({
            AUTH_DISABLED: 'true',
            OIDC_ISSUER: undefined,
            DATABASE_URL: await createTestDatabase(),
            S3_ENDPOINT: `http://127.0.0.1:${proxy.port}`,
          }),
        ),
      );
      const { url } = await s.logged(/^sync server listening$/);
      const down = await readiness(url!);
      expect(down.status).toBe(503);
      expect(down.checks.storage).toMatch(/^failed: /);
      proxy.restore();
      await waitFor('ready once S3 answers', async () => (await readiness(url!)).status === 200, 30_000, 250);
      const png = makePng({ seed: 1103 });
      const posted = await postXray(url!, validMetadata({ patientId: 'P-11-C' }), blobOf(png));
      expect(posted.status, await posted.clone().text()).toBe(201);
      const { id } = (await posted.json()) as { id: string };
      const got = await fetch(`${url}/xrays/${id}/download`);
      expect(sha256Hex(Buffer.from(await got.arrayBuffer()))).toBe(sha256Hex(png));
      s.child.kill('SIGTERM');
      expect((await s.exited).code).toBe(0);
    } finally {
      await proxy.stop();
    }
  });

  it('the bundle moved away after start: every S3 door still works (the driver was loaded at start, not on first use)', async () => {
    // build.mjs keeps a previous build's chunks for an hour only; a deployment may replace dist/.
    // A module first imported after the move fails with "Cannot find module" (as amqplib's
    // channel_api chunk does, on the first event delivery: not part of this change, not tested here).
    const dist = path.join(packageDir, `dist-attack11-${process.pid}`);
    const moved = `${dist}-moved`;
    try {
      // The bundle beforeAll built, copied (a build of its own took seconds more; the bundle resolves
      // its paths from <package>/dist whatever its directory is called).
      await cp(path.join(packageDir, 'dist'), dist, { recursive: true });
      const s = track(
        startBundle(
          baseEnv({ AUTH_DISABLED: 'true', OIDC_ISSUER: undefined, DATABASE_URL: await createTestDatabase() }),
          dist,
        ),
      );
      const { url } = await s.logged(/^sync server listening$/);
      await rename(dist, moved);
      const png = makePng({ seed: 1104 });
      const posted = await postXray(url!, validMetadata({ patientId: 'P-11-D' }), blobOf(png));
      expect(posted.status, await posted.clone().text()).toBe(201);
      const { id } = (await posted.json()) as { id: string };
      const got = await fetch(`${url}/xrays/${id}/download`);
      expect(sha256Hex(Buffer.from(await got.arrayBuffer()))).toBe(sha256Hex(png));
      const plain = makePng({ seed: 1105, width: 3500, height: 3500 });
      const { body, metadata } = await sealed(url!, plain, { patientId: 'P-11-E' });
      const tus = startTus({ endpoint: `${url}/uploads`, file: body, metadata, chunkSize: 5 * MiB });
      expect((await tus.done).xrayId).toBe(metadata.id);
      const tusGot = await fetch(`${url}/xrays/${metadata.id}/download`);
      expect(sha256Hex(Buffer.from(await tusGot.arrayBuffer()))).toBe(sha256Hex(plain));
      expect((await readiness(url!)).status).toBe(200);
      s.child.kill('SIGTERM');
      expect((await s.exited).code, s.stderr()).toBe(0);
      expect(s.stderr()).not.toMatch(/Cannot find module/);
    } finally {
      await rm(dist, { recursive: true, force: true });
      await rm(moved, { recursive: true, force: true });
    }
  });
});

// Concurrent: each test watches its own start's log for 4 s; nothing is shared between them.
describe.concurrent('a start that fails leaves no discovery loop behind (in process, the issuer down)', () => {
  /** How many times the verifier retried discovery within `ms` after the start failed. */
  async function retriesAfterFailedStart(env: Record<string, string>, ms: number): Promise<number> {
    const lines: { msg?: string }[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as { msg?: string });
        done();
      },
    });
    const log = pino({ level: 'info' }, stream);
    const config = loadConfig({
      NODE_ENV: 'test',
      PORT: '0',
      METRICS_PORT: '0',
      AUTH_DISABLED: 'false',
      OIDC_ISSUER: `http://127.0.0.1:${await deadPort()}`,
      OIDC_AUDIENCE: AUDIENCE,
      ...env,
    });
    await expect(start(config, { log })).rejects.toThrow();
    const failedAt = lines.length;
    await sleep(ms);
    return lines.slice(failedAt).filter((l) => l.msg === 'OIDC discovery failed').length;
  }

  it('the database unreachable', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'xray-attack11-inproc-'));
    try {
      expect(
        await retriesAfterFailedStart(
          { DATA_DIR: dir, DATABASE_URL: `postgres://postgres@127.0.0.1:${await deadPort()}/x` },
          4_000,
        ),
      ).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('DATA_DIR unusable (a file in its path)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'xray-attack11-inproc-'));
    try {
      await writeFile(path.join(dir, 'file'), '');
      expect(
        await retriesAfterFailedStart(
          { DATA_DIR: path.join(dir, 'file', 'data'), DATABASE_URL: await createTestDatabase() },
          4_000,
        ),
      ).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the S3 driver loaded by several first uses at once (in process)', () => {
  it('object store, audit witness and tus store created together all work on S3', async () => {
    const storage = await createTestStorage('s3');
    try {
      const config = loadConfig({ ...storage.env, NODE_ENV: 'test' });
      const [stores, witnesses, ,] = await Promise.all([
        Promise.all([createObjectStore(config.storage), createObjectStore(config.storage)]),
        Promise.all([
          createAuditWitness(config.storage, config.audit, { create: true }),
          createAuditWitness(config.storage, config.audit),
        ]),
        createObjectStore(config.storage).then((store) =>
          createTusStore(config, store, { finishedSize: async () => null }),
        ),
      ]);
      await stores[0].put('attack11/a', Readable.from([Buffer.from('one')]));
      expect((await buffer(await stores[1].get('attack11/a'))).toString()).toBe('one');
      expect(witnesses[0].location).toBe(witnesses[1].location);
    } finally {
      await storage.cleanup();
    }
  });
});
