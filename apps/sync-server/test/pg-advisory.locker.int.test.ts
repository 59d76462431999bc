import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createPool, type Pool } from '../src/db/pool.ts';
import { PgAdvisoryLocker } from '../src/uploads/pg-advisory.locker.ts';
import { createTestDatabase } from './harness.ts';

// PostgreSQL restarting or failing over ends every connection, including the ones the upload
// locks live on. The server must stay up, stop the uploads that lost their lock, and keep
// answering other instances' release requests.
describe('upload locks when PostgreSQL drops their connections', () => {
  let pool: Pool;
  let admin: pg.Client;
  let locker: PgAdvisoryLocker;

  beforeAll(async () => {
    const url = await createTestDatabase();
    pool = createPool(url, 4);
    locker = new PgAdvisoryLocker(pool, pino({ level: 'silent' }));
    await locker.start();
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
  });

  afterAll(async () => {
    await locker?.stop();
    await pool?.end();
    await admin?.end();
  });

  const pidsWhere = async (sql: string): Promise<number[]> =>
    (await admin.query<{ pid: number }>(sql)).rows.map((r) => r.pid);
  const listeners = () =>
    pidsWhere(
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN tus_lock_release'",
    );
  const lockHolders = () => pidsWhere("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted");
  const terminate = (pid: number) => admin.query('SELECT pg_terminate_backend($1)', [pid]);

  it('listens again after its LISTEN connection is ended, and still releases a held lock on request', async () => {
    const [before] = await listeners();
    expect(before).toBeDefined();
    await terminate(before!);
    // One LISTEN connection again, a new one.
    await expect
      .poll(async () => (await listeners()).filter((pid) => pid !== before), { timeout: 10_000 })
      .toHaveLength(1);
    expect(await listeners()).toHaveLength(1);

    const release = vi.fn();
    const lock = locker.newLock('relisten');
    await lock.lock(new AbortController().signal, release);
    await admin.query("SELECT pg_notify('tus_lock_release', 'relisten')");
    await expect.poll(() => release.mock.calls.length).toBe(1);
    await lock.unlock();
  });

  it('ends the request whose lock connection broke; the lock can then be taken again', async () => {
    const release = vi.fn();
    const lock = locker.newLock('broken');
    await lock.lock(new AbortController().signal, release);
    const [holder] = await lockHolders();
    expect(holder).toBeDefined();

    await terminate(holder!);
    await expect.poll(() => release.mock.calls.length).toBe(1);
    await expect(lock.unlock()).resolves.toBeUndefined();

    const again = locker.newLock('broken');
    await again.lock(new AbortController().signal, vi.fn());
    expect(await lockHolders()).toHaveLength(1);
    await again.unlock();
    expect(await lockHolders()).toHaveLength(0);
  });
});
