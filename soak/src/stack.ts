import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { chmod, cp, mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { freePort, parseEnvLines } from '@xray/testkit';
import { startChild, type Child } from '../../bench/src/lib/child.ts';
import { loadEmbeddedPostgres } from '../../apps/sync-server/src/db/embedded-postgres.ts';

export const repoRoot = path.resolve(import.meta.dirname, '../..');
const serverMain = path.join(repoRoot, 'apps/sync-server/src/main.ts');
const adminMain = path.join(repoRoot, 'apps/sync-server/src/cli/xray-admin.ts');

/**
 * Settings from the caller's environment that would change the servers under test; the run sets its
 * own. (Under `npm test`, OPENAPI_RESPONSE_CHECK names the suite's response report: the soak's
 * servers run from a copy of the source without openapi.json, and are not what that check covers.)
 */
const FOREIGN =
  /^(S3_|DATABASE_|OIDC_|PATIENT_|DOCTOR_|AMQP_|WEBHOOK_|KEK|UPLOAD_|AUTH_|EDGE_APP_DIR|DEV_|TUS_|OUTBOX_|LINK_|OPENAPI_|PUBLIC_URL$|NODE_ENV$|PORT$|HOST$|LOG_LEVEL$|LOG_FORMAT$|DATA_DIR$)/;

export interface S3Env {
  S3_ENDPOINT: string;
  S3_REGION: string;
  S3_ACCESS_KEY_ID: string;
  S3_SECRET_ACCESS_KEY: string;
  S3_FORCE_PATH_STYLE: string;
}

/** S3 from the environment, else the project's Swift s3api (scripts/services/swift.sh starts it). */
export async function s3Env(): Promise<S3Env> {
  const e = process.env;
  let vars: Record<string, string | undefined> = e;
  if (!(e.S3_ENDPOINT && e.S3_ACCESS_KEY_ID && e.S3_SECRET_ACCESS_KEY)) {
    const { stdout } = await promisify(execFile)('bash', [path.join(repoRoot, 'scripts/services/swift.sh'), 'start'], {
      timeout: 300_000,
    }).catch((err: unknown) => {
      throw new Error(
        `the soak needs an S3-compatible store: run bash scripts/services/swift.sh start, or set S3_ENDPOINT, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY\n${String(err)}`,
      );
    });
    vars = parseEnvLines(stdout);
  }
  if (!vars.S3_ENDPOINT) throw new Error('no S3_ENDPOINT');
  return {
    S3_ENDPOINT: vars.S3_ENDPOINT,
    S3_REGION: vars.S3_REGION ?? 'us-east-1',
    S3_ACCESS_KEY_ID: vars.S3_ACCESS_KEY_ID ?? 'test:tester',
    S3_SECRET_ACCESS_KEY: vars.S3_SECRET_ACCESS_KEY ?? 'testing',
    S3_FORCE_PATH_STYLE: vars.S3_FORCE_PATH_STYLE ?? 'true',
  };
}

export function s3Client(env: S3Env): S3Client {
  return new S3Client({
    endpoint: env.S3_ENDPOINT,
    region: env.S3_REGION,
    forcePathStyle: env.S3_FORCE_PATH_STYLE !== 'false',
    credentials: { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export async function createBucket(env: S3Env): Promise<string> {
  const bucket = `xray-soak-${randomUUID().slice(0, 13)}`;
  await s3Client(env).send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

/** RabbitMQ: AMQP_URL, or the machine's (scripts/services/rabbitmq.sh starts it; never restarted by the soak). */
export async function amqpUrl(): Promise<string> {
  const { stdout } = await promisify(execFile)('bash', [path.join(repoRoot, 'scripts/services/rabbitmq.sh'), 'start'], {
    timeout: 600_000,
    env: process.env,
  }).catch((err: unknown) => {
    throw new Error(
      `the soak needs RabbitMQ: run bash scripts/services/rabbitmq.sh start (or set AMQP_URL)\n${String(err)}`,
    );
  });
  const url = parseEnvLines(stdout).AMQP_URL;
  if (!url) throw new Error(`rabbitmq.sh printed no AMQP_URL:\n${stdout}`);
  return url;
}

/**
 * A PostgreSQL of the soak's own (embedded-postgres: real binaries), so it can be restarted and
 * its backends terminated without touching the machine's shared one.
 */
export interface SoakDatabase {
  url: string;
  port: number;
  restart(downMs: number): Promise<void>;
  /** pg_terminate_backend on every backend of the database but ours; how many. */
  terminateBackends(): Promise<number>;
  stop(): Promise<void>;
}

export async function startDatabase(dir: string): Promise<SoakDatabase> {
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755); // PostgreSQL runs as the postgres user when we are root
  const port = await freePort();
  const EmbeddedPostgres = await loadEmbeddedPostgres(['SIGINT', 'SIGTERM', 'SIGHUP']);
  const embedded = new EmbeddedPostgres({
    databaseDir: path.join(dir, 'pg'),
    port,
    user: 'postgres',
    password: 'soak',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0, // as root only: the library would try useradd
    onLog: () => undefined,
    onError: () => undefined,
    postgresFlags: ['-c', 'max_connections=300'],
  });
  await embedded.initialise();
  await embedded.start();
  await embedded.createDatabase('xray');
  const url = `postgres://postgres:soak@127.0.0.1:${port}/xray`;
  return {
    url,
    port,
    async restart(downMs) {
      await embedded.stop();
      await new Promise((r) => setTimeout(r, downMs));
      await embedded.start();
    },
    async terminateBackends() {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const { rows } = await client.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()) t`,
        );
        return rows[0]?.n ?? 0;
      } finally {
        await client.end();
      }
    },
    stop: () => embedded.stop(),
  };
}

/** KEK and upload key for both instances (the same: they serve one deployment). */
export function sharedKeys(): Record<string, string> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
  return {
    KEK: `soak-1:${randomBytes(32).toString('base64')}`,
    UPLOAD_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

export interface SyncInstance {
  name: string;
  port: number;
  child: Child | undefined;
  /** Highest VmHWM seen over every run of this instance. */
  peakRss: number;
  restarts: number;
  start(): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  sampleRss(): Promise<void>;
}

/**
 * The sync server's source as it is now, copied (src, migrations, package.json) to `dir`, with
 * its node_modules linked: an instance restarted during the run runs the code it started with,
 * even when the working tree changes meanwhile (a migration added by someone else would stop it).
 * Returns the entry points to run.
 */
export async function snapshotServer(dir: string): Promise<{ serverMain: string; adminMain: string }> {
  const from = path.join(repoRoot, 'apps/sync-server');
  const to = path.join(dir, 'apps/sync-server');
  await mkdir(to, { recursive: true });
  for (const part of ['src', 'migrations', 'package.json', 'tsconfig.json'])
    await cp(path.join(from, part), path.join(to, part), { recursive: true });
  await symlink(path.join(from, 'node_modules'), path.join(to, 'node_modules'));
  await symlink(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
  await cp(path.join(repoRoot, 'tsconfig.base.json'), path.join(dir, 'tsconfig.base.json'));
  return {
    serverMain: path.join(to, 'src/main.ts'),
    adminMain: path.join(to, 'src/cli/xray-admin.ts'),
  };
}

/** One sync-server instance as its own process (apps/sync-server/src/main.ts), on a fixed port so it comes back where the balancer expects it. */
export async function syncInstance(
  name: string,
  env: Record<string, string>,
  logDir: string,
  entry: string = serverMain,
): Promise<SyncInstance> {
  const port = await freePort();
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !FOREIGN.test(k)));
  let run = 0;
  const inst: SyncInstance = {
    name,
    port,
    child: undefined,
    peakRss: 0,
    restarts: 0,
    async start() {
      run++;
      const child = startChild(name, process.execPath, ['--import', 'tsx', entry], {
        env: { ...inherited, ...env, HOST: '127.0.0.1', PORT: String(port), METRICS_PORT: '0' },
        logFile: path.join(logDir, `${name}.${run}.log`),
        cwd: repoRoot,
      });
      inst.child = child;
      try {
        await child.waitForLine(/"msg":"sync server listening"/, 120_000);
      } catch (err) {
        await child.stop('SIGKILL');
        throw err;
      }
    },
    async kill(signal = 'SIGKILL') {
      await inst.sampleRss();
      await inst.child?.stop(signal, 15_000);
      inst.child = undefined;
    },
    async sampleRss() {
      const m = await inst.child?.memory().catch(() => undefined);
      if (m && Number.isFinite(m.hwm)) inst.peakRss = Math.max(inst.peakRss, m.hwm);
    },
  };
  return inst;
}

/** `xray-admin <args>` as an operator runs it, with the servers' settings. */
export async function runAdmin(
  args: string[],
  env: Record<string, string>,
  entry: string = adminMain,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !FOREIGN.test(k)));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', entry, ...args],
      { cwd: repoRoot, env: { ...inherited, ...env, LOG_LEVEL: 'warn' }, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
