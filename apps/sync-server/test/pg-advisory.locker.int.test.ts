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
  let url: string;

  beforeAll(async () => {
    url = await createTestDatabase();
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
  // This test's database only: pg_locks lists the whole cluster's, and other test files (audit
  // appends, their own upload locks) hold advisory locks in theirs at the same time.
  const lockHolders = () =>
    pidsWhere(
      "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    );
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

  // A deferred unlock is sent a macrotask after the request let go: the connection must still
  // have an 'error' listener then (pg emits 'error' when it breaks; without one the process dies).
  // The server's own pool listens on every connection too; the locker does not rely on it, so
  // these run over a plain pool that does not.
  describe('over a pool with no error listeners of its own', () => {
    let plainPool: pg.Pool;
    let plain: PgAdvisoryLocker;

    beforeAll(async () => {
      plainPool = new pg.Pool({ connectionString: url, max: 2 });
      plainPool.on('error', () => undefined); // idle connections: the pool's own concern
      plain = new PgAdvisoryLocker(plainPool, pino({ level: 'silent' }));
    });

    afterAll(async () => {
      await plainPool?.end();
    });

    it('a lock connection that reports an error while its deferred unlock waits to be sent does not crash the process; the lock is let go', async () => {
      const client = await plain.acquire('unlocking', new AbortController().signal, vi.fn());
      expect(await lockHolders()).toHaveLength(1);
      plain.releaseLater('unlocking', client);
      // What pg does when the socket breaks, inside the window before the unlock is sent.
      expect(() => client.emit('error', new Error('Connection terminated unexpectedly'))).not.toThrow();
      await expect.poll(() => lockHolders()).toHaveLength(0);
    });

    it('a lock connection ended by PostgreSQL just as its deferred unlock is due: the process stays up, the lock is free again', async () => {
      const lock = plain.deferred.newLock('ended-unlocking');
      await lock.lock(new AbortController().signal, vi.fn());
      const [holder] = await lockHolders();
      expect(holder).toBeDefined();
      await terminate(holder!);
      // Blocks this process (not PostgreSQL) so that the backend's goodbye is waiting on the socket
      // when the request lets go: pg reads it only after the unlock was deferred.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
      await lock.unlock();
      await expect.poll(() => lockHolders()).toHaveLength(0);
      const again = plain.newLock('ended-unlocking');
      await again.lock(new AbortController().signal, vi.fn());
      expect(await lockHolders()).toHaveLength(1);
      await again.unlock();
      expect(await lockHolders()).toHaveLength(0);
    });
  });
});
