import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { freePort, parseEnvLines } from '@xray/testkit';

/**
 * The whole server stack for browser tests, as separate real processes: the sync server
 * (apps/sync-server/src/main.ts) in development mode with its dev OIDC issuer and its dev
 * Patient and Doctor Services, real PostgreSQL (E2E_DATABASE_URL, else the server's embedded
 * PostgreSQL), S3 on Swift s3api (scripts/services/swift.sh, unless S3_ENDPOINT is set),
 * RabbitMQ (AMQP_URL, else scripts/services/rabbitmq.sh), serving the built edge app and test
 * page (EDGE_APP_DIR) on the same origin as the API.
 */
export interface Stack {
  /** The sync server (and the page's origin). */
  url: string;
  /** Its Prometheus listener (`${metricsUrl}/metrics`), apart from the API port. */
  metricsUrl: string;
  issuer: string;
  /** The dev Patient Service (GET /patients?query=). */
  patientServiceUrl: string;
  /** The dev Doctor Service's record of received webhooks (GET /received). */
  doctorReceivedUrl: string;
  /** The broker the server publishes events to, and its exchange. */
  amqp: { url: string; exchange: string };
  /** Access tokens from the dev issuer through its real login flow. */
  tokens: { paramedic: string; doctor: string; admin: string };
  stop(): Promise<void>;
}

export const repoRoot = path.resolve(import.meta.dirname, '../..');
const edgeDir = path.join(repoRoot, 'apps/edge');
export const EDGE_TEST_PAGE_DIR = path.join(edgeDir, 'dist-e2e');
/**
 * The hospital's assigning authority the e2e stack is started with (PATIENT_ID_ISSUER): the test
 * files name no IssuerOfPatientID unless a test writes one, so only those are compared by it.
 */
export const E2E_PATIENT_ID_ISSUER = 'HOSPITAL-A';

function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): string {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Builds the edge test page (vite build --mode e2e). */
export function buildEdgeTestPage(): void {
  run(
    process.execPath,
    [path.join(edgeDir, 'node_modules/vite/bin/vite.js'), 'build', '--mode', 'e2e', '--logLevel', 'warn'],
    { cwd: edgeDir },
  );
}

/** Builds the edge app as `npm start` serves it (vite build, with its service worker) into `outDir`. */
export function buildEdgeApp(outDir: string, version: string): void {
  run(
    process.execPath,
    [
      path.join(edgeDir, 'node_modules/vite/bin/vite.js'),
      'build',
      '--outDir',
      outDir,
      '--emptyOutDir',
      '--logLevel',
      'warn',
    ],
    { cwd: edgeDir, env: { ...process.env, XRAY_APP_VERSION: version } },
  );
}

/** RabbitMQ: AMQP_URL as given (checked), else the machine's, started by the project's script. */
function amqpUrl(): string {
  const out = run('bash', [path.join(repoRoot, 'scripts/services/rabbitmq.sh'), 'start'], { cwd: repoRoot });
  const url = parseEnvLines(out).AMQP_URL;
  if (!url) throw new Error(`rabbitmq.sh printed no AMQP_URL:\n${out}`);
  return url;
}

/** S3 settings: from the environment, or Swift started by the project's script. */
function s3Env(): Record<string, string> {
  const e = process.env;
  if (e.S3_ENDPOINT && e.S3_ACCESS_KEY_ID && e.S3_SECRET_ACCESS_KEY) {
    return {
      S3_ENDPOINT: e.S3_ENDPOINT,
      S3_REGION: e.S3_REGION ?? 'us-east-1',
      S3_ACCESS_KEY_ID: e.S3_ACCESS_KEY_ID,
      S3_SECRET_ACCESS_KEY: e.S3_SECRET_ACCESS_KEY,
      S3_FORCE_PATH_STYLE: e.S3_FORCE_PATH_STYLE ?? 'true',
    };
  }
  const out = run('bash', [path.join(repoRoot, 'scripts/services/swift.sh'), 'start'], { cwd: repoRoot });
  const vars = parseEnvLines(out);
  if (!vars.S3_ENDPOINT) throw new Error(`swift.sh printed no S3_ENDPOINT:\n${out}`);
  return vars;
}

/** A token for a demo user through the dev issuer's authorization code + PKCE flow (the server's token CLI). */
function mintToken(issuer: string, user: string): string {
  const cli = path.join(repoRoot, 'apps/sync-server/src/dev/token.cli.ts');
  return run(process.execPath, ['--import', 'tsx', cli, user], {
    cwd: repoRoot,
    env: { ...process.env, OIDC_ISSUER: issuer },
  }).trim();
}

/** The fields of a server log line (pino JSON) that tell us where things listen. */
function logFields(line: string): {
  msg?: string;
  url?: string;
  metricsUrl?: string;
  issuer?: string;
  received?: string;
} {
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    return {};
  }
  if (typeof entry !== 'object' || entry === null) return {};
  const str = (k: string): string | undefined => {
    const v: unknown = Reflect.get(entry, k);
    return typeof v === 'string' ? v : undefined;
  };
  return {
    msg: str('msg'),
    url: str('url'),
    metricsUrl: str('metricsUrl'),
    issuer: str('issuer'),
    received: str('received'),
  };
}

/** Where the server said it listens (its API and its metrics), and the issuer it trusts. */
interface Listening {
  url: string;
  metricsUrl: string;
  issuer: string;
}

export async function startStack(opts: { env?: Record<string, string>; appDir?: string } = {}): Promise<Stack> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'xray-e2e-'));
  // The embedded PostgreSQL runs as the `postgres` user when we are root: it must reach its directory.
  await chmod(dataDir, 0o755);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: '0',
    METRICS_PORT: '0',
    LOG_LEVEL: process.env.E2E_SERVER_LOG_LEVEL ?? 'info',
    DATA_DIR: dataDir,
    DEV_OIDC_PORT: '0',
    // The dev Patient and Doctor Services on free ports (npm start's 8082/8083 may be in use).
    DEV_PATIENT_PORT: '0',
    DEV_DOCTOR_PORT: '0',
    AMQP_URL: amqpUrl(),
    AMQP_EXCHANGE: 'xray.events',
    EDGE_APP_DIR: opts.appDir ?? EDGE_TEST_PAGE_DIR,
    ...s3Env(),
    S3_BUCKET: `xray-e2e-${randomUUID().slice(0, 13)}`,
    S3_CREATE_BUCKET: 'true',
    S3_CHECKSUMS_WHEN_REQUIRED: 'true',
    S3_PART_SIZE: String(5 * 1024 * 1024),
    // The core's test page (edge-sync) sends the CLI's plain paramedic tokens; the app itself signs
    // in with DPoP-bound tokens (device-revocation.spec.ts), which the server checks either way.
    DPOP_REQUIRED_ROLES: '',
    ...(process.env.E2E_DATABASE_URL
      ? { DATABASE_URL: process.env.E2E_DATABASE_URL }
      : { DATABASE_URL: undefined, EMBEDDED_PG_PORT: String(await freePort()) }),
    ...opts.env,
  };
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(repoRoot, 'apps/sync-server/src/main.ts')],
    {
      cwd: repoRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  let patientServiceUrl: string | undefined;
  let doctorReceivedUrl: string | undefined;
  const { url, metricsUrl, issuer } = await new Promise<Listening>((resolve, reject) => {
    let issuerUrl: string | undefined;
    const timer = setTimeout(() => reject(new Error(`the sync server did not start:\n${output}`)), 120_000);
    child.once('exit', (code) => reject(new Error(`the sync server exited with ${code}:\n${output}`)));
    if (!child.stdout) return reject(new Error('no stdout from the sync server'));
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (output.length < 200_000) output += `${line}\n`;
      const entry = logFields(line);
      if (entry.issuer) issuerUrl = entry.issuer;
      if (entry.msg === 'development Patient Service running') patientServiceUrl = entry.url;
      if (entry.received) doctorReceivedUrl = entry.received;
      if (entry.msg === 'sync server listening' && entry.url && entry.metricsUrl && issuerUrl) {
        clearTimeout(timer);
        resolve({ url: entry.url, metricsUrl: entry.metricsUrl, issuer: issuerUrl });
      }
    });
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    // The server stops its embedded PostgreSQL before it exits: nothing writes here any more.
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    if (!patientServiceUrl || !doctorReceivedUrl)
      throw new Error(`the dev Patient/Doctor Services did not report their addresses:\n${output}`);
    return {
      url,
      metricsUrl,
      issuer,
      patientServiceUrl,
      doctorReceivedUrl,
      amqp: { url: env.AMQP_URL ?? '', exchange: env.AMQP_EXCHANGE ?? 'xray.events' },
      tokens: {
        paramedic: mintToken(issuer, 'paramedic'),
        doctor: mintToken(issuer, 'doctor'),
        admin: mintToken(issuer, 'admin'),
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
