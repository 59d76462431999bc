import { describe, expect, it } from 'vitest';
import type { Pool, PoolClient } from '../db/pool.ts';
import { createLogger } from '../observability/logger.ts';
import { PgAdvisoryLocker } from './pg-advisory.locker.ts';

// Attack on issue 23's timeouts: the client abandons a statement with no answer after
// DATABASE_STATEMENT_TIMEOUT_MS + 1 s, but a hung PostgreSQL may still run it once it wakes up.
describe('taking an upload lock when the database does not answer', () => {
  it('drops the connection whose lock try went unanswered instead of pooling it (it may yet hold the lock)', async () => {
    const released: unknown[] = [];
    const client = {
      query: () => Promise.reject(new Error('Query read timeout')),
      release: (err?: unknown) => released.push(err),
      once: () => client,
      on: () => client,
    } as unknown as PoolClient;
    const pool = { connect: () => Promise.resolve(client) } as unknown as Pool;
    const lock = new PgAdvisoryLocker(pool, createLogger('silent')).newLock('upload-1');
    await expect(lock.lock(new AbortController().signal, () => undefined)).rejects.toThrow('Query read timeout');
    expect(released).toHaveLength(1);
    expect(released[0]).toBeInstanceOf(Error);
  });
});
