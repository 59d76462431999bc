import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { startChild, type Child } from '../lib/child.ts';

export const repoRoot = path.resolve(import.meta.dirname, '../../..');
const serverMain = path.join(repoRoot, 'apps/sync-server/src/main.ts');
const tokenCli = path.join(repoRoot, 'apps/sync-server/src/dev/token.cli.ts');

/** Settings from the caller's environment that would change what is measured; each run sets its own. */
const FOREIGN =
  /^(S3_|DATABASE_|OIDC_|PATIENT_|DOCTOR_|AMQP_|WEBHOOK_|KEK|UPLOAD_PRIVATE_KEY|AUTH_DISABLED|EDGE_APP_DIR|DEV_|NODE_ENV$|PORT$|HOST$|LOG_LEVEL$|DATA_DIR$)/;

export interface SyncServer {
  url: string;
  child: Child;
  stop(): Promise<void>;
}

export interface SyncServerOptions {
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
 * The real sync server as its own process (apps/sync-server/src/main.ts, as `npm start` runs
 * it) in development mode, which allows disk storage and generated keys, but pointed at the
 * issuer, Patient and Doctor Services of another process, as in a deployment: real JWTs
 * verified on every API request, link checks, outbox webhooks. PostgreSQL and storage as given.
 */
export async function startSyncServer(opts: SyncServerOptions): Promise<SyncServer> {
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
    ...opts.peers,
    ...opts.env,
  };
  const args = [
    ...(opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir] : []),
    '--import',
    'tsx',
    serverMain,
  ];
  const child = startChild('sync-server', process.execPath, args, { env, logFile: opts.logFile, cwd: repoRoot });
  try {
    const url = (await child.waitForLine(/"url":"(http:[^"]+)".*"msg":"sync server listening"/))[1] ?? '';
    return { url, child, stop: () => child.stop('SIGTERM') };
  } catch (err) {
    await child.stop('SIGKILL');
    throw err;
  }
}

/** An access token for a demo user, through the issuer's real login flow (the server's token CLI). */
export async function mintToken(issuer: string, user: 'paramedic' | 'doctor' | 'admin'): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', tokenCli, user], {
    cwd: repoRoot,
    env: { ...process.env, OIDC_ISSUER: issuer },
  });
  return stdout.trim();
}
