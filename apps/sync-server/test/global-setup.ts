import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import type { TestProject } from 'vitest/node';
import { freePort, parseEnvLines, responseCheckFailure, summarizeResponseCheck } from '@xray/testkit';
import { loadEmbeddedPostgres } from '../src/db/embedded-postgres.ts';
import { embeddedPostgresLibrary } from '../src/db/embedded-postgres.placement.ts';

export interface S3TestEnv {
  S3_ENDPOINT: string;
  S3_REGION: string;
  S3_ACCESS_KEY_ID: string;
  S3_SECRET_ACCESS_KEY: string;
  S3_FORCE_PATH_STYLE: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    s3: S3TestEnv;
    /** RabbitMQ for the event tests (AMQP_URL, or the machine's via scripts/services/rabbitmq.sh). */
    amqpUrl: string;
    /** The report file of the OpenAPI response check (OPENAPI_RESPONSE_CHECK) every test server writes to. */
    openapiResponseCheck: string;
  }
}

const repoRoot = path.resolve(import.meta.dirname, '../../..');

/** S3 from the environment, or the project's Swift s3api (scripts/services/swift.sh installs and starts it). */
async function s3Env(): Promise<S3TestEnv> {
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
  const script = path.join(repoRoot, 'scripts/services/swift.sh');
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)('bash', [script, 'start'], { timeout: 300_000 }));
  } catch (err) {
    const e2 = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `S3 tests need an S3-compatible store and none could be started.\n` +
        `Run: bash scripts/services/swift.sh start   (or set S3_ENDPOINT, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY)\n` +
        `${e2.stderr ?? ''}${e2.stdout ?? ''}${e2.message}`,
    );
  }
  const vars = parseEnvLines(stdout);
  if (!vars.S3_ENDPOINT) throw new Error(`swift.sh printed no S3_ENDPOINT:\n${stdout}`);
  return {
    S3_ENDPOINT: vars.S3_ENDPOINT,
    S3_REGION: vars.S3_REGION ?? 'us-east-1',
    S3_ACCESS_KEY_ID: vars.S3_ACCESS_KEY_ID ?? 'test:tester',
    S3_SECRET_ACCESS_KEY: vars.S3_SECRET_ACCESS_KEY ?? 'testing',
    S3_FORCE_PATH_STYLE: vars.S3_FORCE_PATH_STYLE ?? 'true',
  };
}

/** RabbitMQ: scripts/services/rabbitmq.sh checks AMQP_URL, or starts (installs) the machine's broker. */
async function amqpUrl(): Promise<string> {
  const script = path.join(repoRoot, 'scripts/services/rabbitmq.sh');
  try {
    const { stdout } = await promisify(execFile)('bash', [script, 'start'], { timeout: 600_000 });
    const url = parseEnvLines(stdout).AMQP_URL;
    if (!url) throw new Error(`rabbitmq.sh printed no AMQP_URL:\n${stdout}`);
    return url;
  } catch (err) {
    const said = (k: string): string => {
      const v: unknown = typeof err === 'object' && err !== null ? Reflect.get(err, k) : undefined;
      return typeof v === 'string' ? v : '';
    };
    throw new Error(
      `The event tests need RabbitMQ and none could be started.\n` +
        `Run: bash scripts/services/rabbitmq.sh start   (or set AMQP_URL)\n` +
        `${said('stderr')}${said('stdout')}${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/**
 * The OpenAPI response check: every test server (in-process through the harness, or spawned, which
 * inherits the environment) appends to one report; the teardown fails the run on any response
 * that differs from openapi.json and, when every test file of this project ran, on any documented
 * operation no test got a 2xx answer from.
 */
async function openapiResponseCheck(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(path.join(tmpdir(), 'xray-openapi-check-'));
  const file = path.join(dir, 'responses.jsonl');
  process.env.OPENAPI_RESPONSE_CHECK = file;
  project.provide('openapiResponseCheck', file);
  return async () => {
    const { testFiles } = await project.globTestFiles();
    const ran = new Set(
      project.vitest.state
        .getTestModules()
        .filter((m) => m.project.name === project.name)
        .map((m) => m.moduleId),
    );
    // Every file, no test name filter (`-t`), not the scale measurements (SCALE): only then can an
    // operation no test called be blamed.
    const wholeSuite =
      testFiles.length > 0 &&
      testFiles.every((f) => ran.has(f)) &&
      !project.vitest.config.testNamePattern &&
      !process.env.SCALE;
    const document: unknown = wholeSuite
      ? JSON.parse(await readFile(path.join(import.meta.dirname, '../openapi.json'), 'utf8'))
      : undefined;
    const summary = summarizeResponseCheck(file, document);
    const answered = [...summary.seen.values()].reduce((n, statuses) => n + statuses.size, 0);
    console.log(
      `OpenAPI response check: ${summary.seen.size} operations answered (${answered} operation/status pairs), ` +
        `${summary.violations.length} kinds of difference`,
    );
    const failure = responseCheckFailure(summary, `report: ${file}`);
    if (failure) {
      // Vitest reports a teardown error ("error during close") without failing the run: fail it here.
      process.exitCode = 1;
      throw new Error(failure);
    }
    if (!process.env.OPENAPI_RESPONSE_CHECK_KEEP) await rm(dir, { recursive: true, force: true });
  };
}

/**
 * Real services for the integration tests: PostgreSQL from TEST_DATABASE_URL or an embedded
 * one for this run, and S3 (Swift s3api). A missing service fails the run with what to do.
 */
export default async function setup(project: TestProject) {
  let stopPg: (() => Promise<void>) | undefined;
  let adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) {
    const dir = await mkdtemp(path.join(tmpdir(), 'xray-test-pg-'));
    await chmod(dir, 0o755); // PostgreSQL runs as the postgres user when we are root
    const port = await freePort();
    // As root from a checkout the postgres user cannot reach (root's home): binaries copied where it can.
    const library = await embeddedPostgresLibrary(pino({ level: 'warn' }));
    // Its `beforeExit` hook would end vitest with code 0 after failures; the teardown stops PostgreSQL.
    const EmbeddedPostgres = await loadEmbeddedPostgres(['beforeExit', 'exit'], library);
    const pg = new EmbeddedPostgres({
      databaseDir: path.join(dir, 'data'),
      port,
      user: 'postgres',
      password: 'test',
      persistent: false,
      createPostgresUser: process.getuid?.() === 0, // as root only: the library would try useradd
      onLog: () => undefined,
      // Test databases are throwaway: trade durability for speed.
      postgresFlags: [
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
        '-c',
        'max_connections=300',
      ],
    });
    await pg.initialise();
    await pg.start();
    adminUrl = `postgres://postgres:test@127.0.0.1:${port}/postgres`;
    stopPg = async () => {
      await pg.stop();
      await rm(dir, { recursive: true, force: true });
    };
  }
  project.provide('pgAdminUrl', adminUrl);
  project.provide('s3', await s3Env());
  project.provide('amqpUrl', await amqpUrl());
  const checkResponses = await openapiResponseCheck(project);
  return async () => {
    await stopPg?.();
    await checkResponses();
  };
}
