import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Logger } from '../observability/logger.ts';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));

/** How the migrations behave next to traffic and other replicas (MIGRATION_* settings). */
export interface MigrateOptions {
  /** PostgreSQL's lock_timeout for the migrations' statements: a blocked migration fails (and is retried) instead of queueing traffic behind it. */
  lockTimeoutMs: number;
  /** How long to keep retrying a migration that timed out on a lock, and to wait for another replica's migration lock. */
  retryMs: number;
  /** Pause between two tries. */
  pauseMs?: number;
  /** Where the migrations are (tests add one of their own); default: this package's migrations. */
  dir?: string;
}

export const DEFAULT_MIGRATE_OPTIONS: MigrateOptions = { lockTimeoutMs: 3_000, retryMs: 600_000 };

/** 55P03 lock_not_available: lock_timeout ran out. */
const isLockTimeout = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '55P03';

/**
 * Brings the schema up to date, each migration in a transaction of its own.
 *
 * Several replicas may start at once: the one that takes node-pg-migrate's advisory lock (the
 * same lock id, so a `node-pg-migrate` run by hand is excluded too) migrates; the others wait
 * for it, then find nothing left to do. A migration whose table is held by a long query gives up
 * after `lockTimeoutMs` (rolled back; the migrations before it stay committed) rather than
 * making every query on that table wait behind its lock request, and is tried again after a
 * pause, for up to `retryMs`.
 */
export async function migrate(
  databaseUrl: string,
  log: Logger,
  opts: MigrateOptions = DEFAULT_MIGRATE_OPTIONS,
): Promise<void> {
  const pauseMs = opts.pauseMs ?? 1_000;
  const giveUpAt = Date.now() + opts.retryMs;
  const dir = opts.dir ?? MIGRATIONS_DIR;
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'xray-sync-server migrations' });
  client.on('error', (err) => log.warn({ err }, 'the migration connection was closed'));
  await client.connect();
  try {
    // The usual start (a restart, another replica): nothing to apply, and node-pg-migrate (with
    // its file-matching dependencies, about 2 MB of memory) is not loaded at all.
    if (await upToDate(client, dir)) return;
    const { PG_MIGRATE_LOCK_ID, runner } = await import('node-pg-migrate');
    let waiting = false;
    for (;;) {
      const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [
        String(PG_MIGRATE_LOCK_ID),
      ]);
      if (rows[0]?.ok) break;
      if (Date.now() > giveUpAt)
        throw new Error(
          `Another replica held the migration lock for longer than MIGRATION_RETRY_MS (${opts.retryMs} ms); see pg_locks for objid ${PG_MIGRATE_LOCK_ID}`,
        );
      if (!waiting) log.info('another replica is migrating the schema; waiting for it');
      waiting = true;
      await sleep(pauseMs);
    }
    try {
      await client.query(`SET lock_timeout = ${Math.trunc(opts.lockTimeoutMs)}`);
      for (;;) {
        try {
          const applied = await runner({
            dbClient: client,
            noLock: true,
            dir,
            direction: 'up',
            migrationsTable: 'pgmigrations',
            // Each migration commits on its own: a lock held briefly per migration, and a retry
            // resumes where a blocked one stopped.
            singleTransaction: false,
            log: (msg: string) => log.debug({ migrate: msg }, 'migration'),
          });
          if (applied.length > 0) log.info({ applied: applied.map((m) => m.name) }, 'migrations applied');
          return;
        } catch (err) {
          // node-pg-migrate does not roll back a failed migration's own transaction.
          await client.query('ROLLBACK').catch(() => undefined);
          if (!isLockTimeout(err) || Date.now() > giveUpAt) throw err;
          log.warn(
            { err, lockTimeoutMs: opts.lockTimeoutMs },
            'a migration could not take its lock within MIGRATION_LOCK_TIMEOUT_MS (a long query holds the table); trying again',
          );
          await sleep(pauseMs);
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [String(PG_MIGRATE_LOCK_ID)]).catch(() => undefined);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Names of the migrations in `dir` as node-pg-migrate names them (file name without extension). */
export async function migrationNames(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => (e.isFile() || e.isSymbolicLink()) && !e.name.startsWith('.'))
    .map((e) => path.basename(e.name, path.extname(e.name)))
    .sort();
}

/**
 * True when the database has applied exactly the migrations in `dir`, in their order: then
 * node-pg-migrate would find nothing to run and nothing out of order. Only for names with distinct
 * 13-digit timestamps (this package's), whose sorted order is node-pg-migrate's; anything else
 * (a missing table, a migration to apply, another naming) is left to node-pg-migrate.
 */
export async function upToDate(client: pg.Client, dir: string): Promise<boolean> {
  const files = await migrationNames(dir);
  const stamps = files.map((name) => /^(\d{13})_/.exec(name)?.[1]);
  if (stamps.some((s) => s === undefined) || new Set(stamps).size !== files.length) return false;
  const applied = await client.query<{ name: string }>('SELECT name FROM public.pgmigrations ORDER BY run_on, id').then(
    (r) => r.rows.map((row) => row.name),
    (err: unknown) => {
      if ((err as { code?: unknown }).code === '42P01') return undefined; // undefined_table: a new database
      throw err;
    },
  );
  return applied !== undefined && applied.length === files.length && applied.every((name, i) => name === files[i]);
}
