import pg from 'pg';
import type { Logger } from '../observability/logger.ts';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

// bigint (sizes) as number: X-rays are far below 2^53 bytes.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export function createPool(url: string, max: number, log?: Pick<Logger, 'warn'>): Pool {
  const pool = new pg.Pool({ connectionString: url, max, application_name: 'xray-sync-server' });
  // PostgreSQL may end any connection (a restart, a failover, a proxy's idle timeout). Its running
  // query fails; the connection also emits 'error', which would end the process with no listener,
  // idle in the pool or checked out. The pool drops a broken idle connection and opens another.
  pool.on('connect', (client) =>
    client.on('error', (err) => log?.warn({ err }, 'a database connection was closed; the pool replaces it')),
  );
  pool.on('error', () => undefined); // logged by the connection's own listener above
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
