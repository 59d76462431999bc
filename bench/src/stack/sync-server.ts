import { readFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { signInAsDemoUser } from '../../../apps/sync-server/src/dev/dev-login.client.ts';
import { startChild, type Child } from '../lib/child.ts';
import { DeviceKey, type Authorize } from '../lib/dpop.ts';
import { expectStatus, request } from '../lib/http.ts';
import type { NodeBinary } from './node.ts';

export const repoRoot = path.resolve(import.meta.dirname, '../../..');
export const serverDir = path.join(repoRoot, 'apps/sync-server');
/** What the image runs: `node dist/main.js` (apps/sync-server/build.mjs). */
const serverBundle = path.join(serverDir, 'dist/main.js');
const tokenCli = path.join(serverDir, 'src/dev/token.cli.ts');
const run = promisify(execFile);

let built: Promise<string> | undefined;

/**
 * Builds the server's bundle (apps/sync-server/build.mjs: dist/main.js and its chunks, with
 * linked source maps) once per benchmark run, from the sources as they are now; resolves with
 * build.mjs's one-line summary.
 */
export function buildServer(): Promise<string> {
  built ??= run(process.execPath, [path.join(serverDir, 'build.mjs')], { cwd: serverDir }).then((r) => r.stdout.trim());
  return built;
}

/** Settings from the caller's environment that would change what is measured; each run sets its own. */
const FOREIGN =
  /^(S3_|DATABASE_|OIDC_|PATIENT_|DOCTOR_|AMQP_|WEBHOOK_|KEK|UPLOAD_PRIVATE_KEY|AUTH_DISABLED|DPOP_|AUDIT_|EDGE_APP_DIR|DEV_|NODE_ENV$|PORT$|HOST$|LOG_LEVEL$|DATA_DIR$)/;

export interface SyncServer {
  url: string;
  child: Child;
  stop(): Promise<void>;
}

export interface SyncServerOptions {
  /** The Node.js that runs it (the pinned LTS, what the image runs, unless a figure compares). */
  node: NodeBinary;
  dataDir: string;
  databaseUrl: string;
  /** The issuer, Patient and Doctor Services to use (`Peers.serverEnv`), in a process of their own. */
  peers: Record<string, string>;
  logFile: string;
  /** Extra settings (S3 storage). */
  env?: Record<string, string>;
  /** Writes a V8 CPU profile here when the server exits. */
  cpuProfDir?: string;
}

/**
 * The real sync server as its own process, as the image runs it: the bundle (`node dist/main.js`,
 * built by buildServer) on the given Node.js, in development mode, which allows disk storage and
 * generated keys, but pointed at the issuer, Patient and Doctor Services of another process, as
 * in a deployment: real JWTs verified on every API request (DPoP proofs from paramedics, as the
 * server requires by default), link checks, outbox webhooks. PostgreSQL and storage as given.
 */
/** The process settings the image runs the bundle with: its Dockerfile's `ENV NODE_OPTIONS` and `ENV MALLOC_ARENA_MAX`. */
let imageEnv: Promise<Record<string, string>> | undefined;
export function runtimeEnvOfImage(): Promise<Record<string, string>> {
  imageEnv ??= readFile(path.join(serverDir, 'Dockerfile'), 'utf8').then((text) =>
    Object.fromEntries(
      ['NODE_OPTIONS', 'MALLOC_ARENA_MAX'].map((name) => {
        const value = new RegExp(`^ENV ${name}=(?:"([^"]*)"|(\\S+))$`, 'm').exec(text);
        if (!value) throw new Error(`apps/sync-server/Dockerfile has no line ENV ${name}=…`);
        return [name, value[1] ?? value[2] ?? ''];
      }),
    ),
  );
  return imageEnv;
}

export async function startSyncServer(opts: SyncServerOptions): Promise<SyncServer> {
  await buildServer();
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !FOREIGN.test(k)));
  const env = {
    ...inherited,
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: '0',
    // Replicas share the machine: each its own free metrics port (the default 9464 would collide).
    METRICS_PORT: '0',
    // The production default: one JSON line per request.
    LOG_LEVEL: 'info',
    DATA_DIR: opts.dataDir,
    DATABASE_URL: opts.databaseUrl,
    // The benchmark's concurrent uploads share one paramedic's token; in the field each ambulance
    // has its own, and the per-user limit of writing requests is about one user.
    UPLOAD_MAX_PATCHES_PER_USER: '64',
    // As the image runs it.
    ...(await runtimeEnvOfImage()),
    ...opts.peers,
    ...opts.env,
  };
  const args = [...(opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir] : []), serverBundle];
  const child = startChild('sync-server', opts.node.path, args, { env, logFile: opts.logFile, cwd: serverDir });
  try {
    const url = (await child.waitForLine(/"url":"(http:[^"]+)".*"msg":"sync server listening"/))[1] ?? '';
    return { url, child, stop: () => child.stop('SIGTERM') };
  } catch (err) {
    await child.stop('SIGKILL');
    throw err;
  }
}

/** A bearer access token for a demo user, through the issuer's real login flow (the server's token CLI). */
export async function mintToken(issuer: string, user: 'doctor' | 'admin'): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', tokenCli, user], {
    cwd: repoRoot,
    env: { ...process.env, OIDC_ISSUER: issuer },
  });
  return stdout.trim();
}

/**
 * The paramedic as a real edge device: its own DPoP key (ES256, not extractable), a token the
 * issuer bound to it (`cnf.jkt`) through the same sign-in as the edge app (authorization code +
 * PKCE with a DPoP proof at the token endpoint), and the device enrolled (POST /devices) as the
 * app does on first sign-in. Every request it makes then carries a fresh proof.
 */
export async function signInEdgeDevice(issuer: string, serverUrl: string): Promise<Authorize> {
  const key = await DeviceKey.generate();
  const token = await signInAsDemoUser({ issuer, user: 'paramedic', dpop: key.pair });
  const authorize = key.authorizer(token);
  const url = `${serverUrl}/devices`;
  const body = Buffer.from(JSON.stringify({ name: 'Benchmark ambulance tablet', appVersion: 'bench' }));
  const res = await request(url, {
    method: 'POST',
    headers: { ...(await authorize('POST', url)), 'content-type': 'application/json' },
    body: [body],
  });
  expectStatus('POST /devices (enrolling the paramedic device)', res, 201, 200);
  return authorize;
}
