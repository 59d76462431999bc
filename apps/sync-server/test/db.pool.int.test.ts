import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createPool, warmUp } from '../src/db/pool.ts';
import { createTestDatabase } from './harness.ts';

describe('database pool', () => {
  const closers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const close of closers) await close();
  });

  it('survives PostgreSQL ending an idle connection (restart, failover): warns and serves the next query', async () => {
    const url = await createTestDatabase();
    const warnings: unknown[] = [];
    const pool = createPool(url, 2, { log: { warn: (obj: unknown) => void warnings.push(obj) } });
    closers.push(() => pool.end());
    const pid = (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
    expect(pool.idleCount).toBe(1);

    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    closers.push(() => admin.end());
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    await expect.poll(() => warnings.length).toBe(1);

    const next = (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
    expect(next).toBeDefined();
    expect(next).not.toBe(pid);
  });

  it('does not warn of a connection the database ends after the pool was told to end (a shutdown)', async () => {
    const url = await createTestDatabase();
    const warnings: unknown[] = [];
    const pool = createPool(url, 2, { log: { warn: (obj: unknown) => void warnings.push(obj) } });
    const connections: pg.PoolClient[] = [];
    pool.on('connect', (client) => connections.push(client));
    await pool.query('SELECT 1');
    expect(connections).toHaveLength(1);

    // end() resolves once each connection is told to close, before its socket has: the embedded
    // PostgreSQL, stopped next, ends it with 57P01 (terminating connection due to administrator command).
    await pool.end();
    const shutdown = Object.assign(new Error('terminating connection due to administrator command'), {
      code: '57P01',
    });
    connections[0]?.emit('error', shutdown);
    expect(warnings).toEqual([]);
  });

  it('warmUp opens connections ahead (each checked as the pool checks them) and leaves an unreachable database to the first query', async () => {
    const url = await createTestDatabase();
    const pool = createPool(url, 4);
    closers.push(() => pool.end());
    warmUp(pool, 3);
    await expect.poll(() => pool.idleCount).toBe(3);
    expect(pool.totalCount).toBe(3);
    // Opened through the pool's own verify: READ COMMITTED whatever the database's default.
    const { rows } = await pool.query<{ level: string }>(
      "SELECT current_setting('default_transaction_isolation') AS level",
    );
    expect(rows[0]?.level).toBe('read committed');
    expect(pool.totalCount).toBe(3);

    // Nothing listens there: no unhandled rejection (vitest fails the run on one), and the query says why.
    const nowhere = createPool('postgres://postgres@127.0.0.1:1/none', 2, { connectTimeoutMs: 2_000 });
    closers.push(() => nowhere.end());
    warmUp(nowhere, 2);
    await expect(nowhere.query('SELECT 1')).rejects.toThrow(/ECONNREFUSED|connect/);
  });
});
