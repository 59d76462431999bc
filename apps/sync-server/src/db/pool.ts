import pg from 'pg';
import type { Logger } from '../observability/logger.ts';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

// bigint (sizes) as number: X-rays are far below 2^53 bytes.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export function createPool(url: string, max: number, log?: Pick<Logger, 'warn'>): Pool {
  const pool = new pg.Pool({ connectionString: url, max, application_name: 'xray-sync-server' });
  // PostgreSQL may end an idle connection (a restart, a failover, a proxy's idle timeout): the
  // pool drops it and the next query opens another. Without a listener that error ends the process.
  pool.on('error', (err) => log?.warn({ err }, 'an idle database connection was closed; the pool replaces it'));
  return pool;
}

/** Runs fn in one transaction; rolls back on any error. */
export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
