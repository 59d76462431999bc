import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makePng } from '@xray/testkit';
import { PG_MIGRATE_LOCK_ID } from 'node-pg-migrate';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_MIGRATE_OPTIONS, migrate, migrationNames, MIGRATIONS_DIR, upToDate } from '../src/db/migrate.ts';
import { loadOrCreateDevKeys } from '../src/keys/dev-keys.ts';
import { createLogger } from '../src/observability/logger.ts';
import { blobOf, createTestDatabase, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';
import { waitFor } from './integrations.support.ts';
import { spawnServer, type ServerProcess } from './server-process.ts';

const LOCK_TIMEOUT_MS = 1_000;

describe('migrations next to running replicas', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  it('two replicas started together on pending migrations both come up: the second waits for the lock', async () => {
    const DATABASE_URL = await createTestDatabase();
    const dataDir = await mkdtemp(path.join(tmpdir(), 'xray-migrate-'));
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
    // One set of development keys for both, as replicas share one KEK.
    await loadOrCreateDevKeys(dataDir);
    // Someone (a third replica, an operator's node-pg-migrate) holds the migration lock as they start.
    const holder = new pg.Client({ connectionString: DATABASE_URL });
    await holder.connect();
    cleanup.push(() => holder.end());
    await holder.query('SELECT pg_advisory_lock($1::bigint)', [String(PG_MIGRATE_LOCK_ID)]);

    const env = { NODE_ENV: 'test', DATABASE_URL, DATA_DIR: dataDir };
    const starting = [spawnServer(env), spawnServer(env)];
    const replicas: ServerProcess[] = [];
    for (const s of starting)
      void s.then(
        (r) => (replicas.push(r), cleanup.push(() => r.kill())),
        () => undefined,
      );
    // Both are waiting, not gone: each has asked for the lock (and been refused) while it is held.
    // Waited for, not guessed: on a busy machine a start takes longer to get here than any pause.
    await waitFor(
      'both replicas trying the migration lock',
      async () => {
        const { rows } = await holder.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND application_name = 'xray-sync-server migrations'
              AND query LIKE '%pg_try_advisory_lock%'`,
        );
        return rows[0]?.n === 2;
      },
      60_000,
      50,
    );
    const { rows: tables } = await holder.query("SELECT to_regclass('xrays') IS NOT NULL AS migrated");
    expect(tables[0]?.migrated).toBe(false);
    await holder.query('SELECT pg_advisory_unlock($1::bigint)', [String(PG_MIGRATE_LOCK_ID)]);

    const [a, b] = await Promise.all(starting);
    for (const r of [a, b]) expect((await fetch(`${r!.url}/readyz`)).status).toBe(200);
    const res = await postXray(a!.url, validMetadata(), blobOf(makePng({ seed: 1 })));
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    expect((await fetch(`${b!.url}/xrays/${id}`)).status).toBe(200);
    // Each migration applied once.
    const { rows } = await holder.query<{ n: number; d: number }>(
      'SELECT count(*)::int AS n, count(DISTINCT name)::int AS d FROM pgmigrations',
    );
    expect(rows[0]?.n).toBe(rows[0]?.d);
  }, 120_000);

  it('a start finds a migrated database up to date without node-pg-migrate; anything else is left to it', async () => {
    const url = await createTestDatabase();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    cleanup.push(() => client.end());
    // A new database (no pgmigrations table): node-pg-migrate creates it and migrates.
    expect(await upToDate(client, MIGRATIONS_DIR)).toBe(false);
    await migrate(url, createLogger('silent'));
    expect(await upToDate(client, MIGRATIONS_DIR)).toBe(true);
    // Migrating again applies nothing and changes nothing.
    const { rows: before } = await client.query<{ name: string }>('SELECT name FROM pgmigrations ORDER BY id');
    expect(before.map((r) => r.name)).toEqual(await migrationNames(MIGRATIONS_DIR));
    await migrate(url, createLogger('silent'));
    const { rows: again } = await client.query<{ name: string }>('SELECT name FROM pgmigrations ORDER BY id');
    expect(again).toEqual(before);

    // The next release's migration: pending, so not up to date, and migrate() applies it.
    const dir = await mkdtemp(path.join(tmpdir(), 'xray-migrations-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    await cp(MIGRATIONS_DIR, dir, { recursive: true });
    await writeFile(
      path.join(dir, '9999999999999_test_note.sql'),
      '-- Up Migration\nCREATE TABLE test_note (id int);\n\n-- Down Migration\nDROP TABLE test_note;\n',
    );
    expect(await upToDate(client, dir)).toBe(false);
    await migrate(url, createLogger('silent'), { ...DEFAULT_MIGRATE_OPTIONS, dir });
    expect(await upToDate(client, dir)).toBe(true);
    const { rows: note } = await client.query("SELECT to_regclass('test_note') IS NOT NULL AS made");
    expect(note[0]?.made).toBe(true);
    // A database ahead of this release's files (a newer replica migrated it) is node-pg-migrate's to judge.
    expect(await upToDate(client, MIGRATIONS_DIR)).toBe(false);
    // Out of order (a migration recorded as applied before an earlier one): not up to date either.
    await client.query(
      "UPDATE pgmigrations SET run_on = run_on - interval '1 day' WHERE name = '9999999999999_test_note'",
    );
    expect(await upToDate(client, dir)).toBe(false);
  }, 60_000);

  it('a migration behind a long read gives up after lock_timeout and retries: uploads on the old replica are not stalled', async () => {
    const old: TestServer = await startTestServer('fs');
    cleanup.push(() => old.close());
    const url = old.env.DATABASE_URL ?? '';
    // The next release's migration: it alters the table uploads write to.
    const dir = await mkdtemp(path.join(tmpdir(), 'xray-migrations-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    await cp(MIGRATIONS_DIR, dir, { recursive: true });
    await writeFile(
      path.join(dir, '9999999999999_test_alter_xrays.sql'),
      '-- Up Migration\nALTER TABLE xrays ADD COLUMN test_note text;\n\n-- Down Migration\nALTER TABLE xrays DROP COLUMN test_note;\n',
    );

    // A long report on xrays: up to 25 s holding its ACCESS SHARE lock (cancelled below once the
    // uploads are through, as an operator would end it).
    const reader = new pg.Client({ connectionString: url });
    await reader.connect();
    cleanup.push(() => reader.end());
    const { rows: backend } = await reader.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const read = reader.query('SELECT count(*) FROM xrays, pg_sleep(25)');

    const log = createLogger('silent');
    const migrating = migrate(url, log, { lockTimeoutMs: LOCK_TIMEOUT_MS, retryMs: 120_000, pauseMs: 500, dir });
    // The migration's ALTER queued behind the read before the uploads start: without lock_timeout
    // it would stay there and every upload would wait behind it until the read ends.
    await waitFor(
      'the migration waiting for its lock on xrays',
      async () => {
        const { rows } = await old.pool.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_locks WHERE relation = 'xrays'::regclass AND mode = 'AccessExclusiveLock' AND NOT granted",
        );
        return rows[0]?.n === 1;
      },
      60_000,
      25,
    );
    // While the read runs and the migration keeps trying, uploads go through, each answered well
    // before the read ends (without lock_timeout each would queue behind the migration's lock).
    for (let i = 0; i < 5; i++) {
      const res = await postXray(old.url, validMetadata(), blobOf(makePng({ seed: 100 + i })));
      expect(res.status).toBe(201);
    }
    const { rows: during } = await old.pool.query(
      "SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'xrays' AND column_name = 'test_note'",
    );
    expect(during[0]?.n).toBe(0);
    // Uploads ran while the read held its lock (it is still running); ended now, the migration lands.
    expect(await Promise.race([read.then(() => 'done'), Promise.resolve('running')])).toBe('running');
    const canceller = new pg.Client({ connectionString: url }); // the read's role: the server's may not
    await canceller.connect();
    await canceller.query('SELECT pg_cancel_backend($1)', [backend[0]?.pid]).finally(() => canceller.end());
    await expect(read).rejects.toMatchObject({ code: '57014' }); // query_canceled
    await migrating;
    const { rows: after } = await old.pool.query(
      "SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'xrays' AND column_name = 'test_note'",
    );
    expect(after[0]?.n).toBe(1);
  }, 90_000);
});
