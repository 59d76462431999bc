import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import type { Logger } from '../observability/logger.ts';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));

/**
 * Brings the schema up to date. node-pg-migrate holds a PostgreSQL advisory lock while it
 * runs, so several instances starting at once apply each migration exactly once.
 */
export async function migrate(databaseUrl: string, log: Logger): Promise<void> {
  const applied = await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    singleTransaction: true,
    log: (msg: string) => log.debug({ migrate: msg }, 'migration'),
  });
  if (applied.length > 0) log.info({ applied: applied.map((m) => m.name) }, 'migrations applied');
}
