import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { PG_MIGRATE_LOCK_ID, runner } from 'node-pg-migrate';
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
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'xray-sync-server migrations' });
  client.on('error', (err) => log.warn({ err }, 'the migration connection was closed'));
  await client.connect();
  try {
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
            dir: opts.dir ?? MIGRATIONS_DIR,
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
