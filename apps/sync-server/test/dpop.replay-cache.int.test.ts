import { randomUUID } from 'node:crypto';
import pino from 'pino';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../src/db/migrate.ts';
import { DpopReplayCache } from '../src/devices/device.repository.ts';
import { createTestDatabase } from './harness.ts';

// A proof's id is remembered by every instance until no instance could accept the proof again,
// even with clocks a little apart: one swept "just expired" by one instance's clock must still be
// refused by another whose clock runs behind.
describe('the DPoP replay cache shared by instances', () => {
  let pool: pg.Pool;
  beforeAll(async () => {
    const url = await createTestDatabase();
    await migrate(url, pino({ level: 'silent' }));
    pool = new pg.Pool({ connectionString: url, max: 2 });
  });
  afterAll(async () => {
    await pool?.end();
  });

  it('refuses a replay after a sweep, though the proof expired by the sweeping instance’s clock seconds ago', async () => {
    const window = 60;
    const jti = randomUUID();
    // Issued just past the window by this clock: its row expired 2 s ago.
    const iat = Math.floor(Date.now() / 1000) - window - 3;
    const first = new DpopReplayCache(pool, window);
    expect((await first.use('jkt-a', jti, iat)).firstUse).toBe(true);
    // A second instance (its first call sweeps) whose clock runs behind still sees the proof in its window.
    const behind = new DpopReplayCache(pool, window);
    expect((await behind.use('jkt-a', randomUUID(), Math.floor(Date.now() / 1000))).firstUse).toBe(true);
    expect((await behind.use('jkt-a', jti, iat)).firstUse).toBe(false);
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM dpop_proofs WHERE jti = $1', [
      jti,
    ]);
    expect(rows[0]?.n).toBe(1);
  });
});
