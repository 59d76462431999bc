import type { Lock, Locker, RequestRelease } from '@tus/utils';
import type pg from 'pg';
import type { Pool, PoolClient } from '../db/pool.ts';
import type { Logger } from '../observability/logger.ts';

const CHANNEL = 'tus_lock_release';
const RETRY_MS = 50;

/**
 * @tus/server's Locker on PostgreSQL session advisory locks, so every sync-server instance
 * sees the same locks. A held lock keeps one connection from a dedicated pool.
 *
 * A waiter asks the holder to let go (NOTIFY); whichever instance holds the lock calls
 * tus's release callback, which ends the old request. That is how a client that reconnects
 * after a dropped connection is not stuck behind its own dead PATCH.
 */
export class PgAdvisoryLocker implements Locker {
  private readonly held = new Map<string, RequestRelease>();
  private listener: PoolClient | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly log: Logger,
    private readonly acquireTimeoutMs = 30_000,
  ) {}

  /** Starts listening for release requests from other instances. */
  async start(): Promise<void> {
    const client = await this.pool.connect();
    client.on('notification', (msg: pg.Notification) => {
      const release = msg.payload ? this.held.get(msg.payload) : undefined;
      if (release)
        void Promise.resolve(release()).catch((err: unknown) => this.log.warn({ err }, 'lock release failed'));
    });
    await client.query(`LISTEN ${CHANNEL}`);
    this.listener = client;
  }

  async stop(): Promise<void> {
    this.listener?.release(true);
    this.listener = undefined;
  }

  newLock(id: string): Lock {
    return new PgAdvisoryLock(id, this);
  }

  /** @internal */
  async acquire(id: string, signal: AbortSignal, release: RequestRelease): Promise<PoolClient> {
    const client = await this.pool.connect();
    const deadline = Date.now() + this.acquireTimeoutMs;
    let asked = false;
    try {
      for (;;) {
        const { rows } = await client.query<{ ok: boolean }>(
          'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok',
          [`tus:${id}`],
        );
        if (rows[0]?.ok) {
          this.held.set(id, release);
          return client;
        }
        if (!asked) {
          // Once is enough: the holder's request is cancelled and unlocks.
          await client.query('SELECT pg_notify($1, $2)', [CHANNEL, id]);
          asked = true;
        }
        if (signal.aborted) throw new Error('lock request aborted');
        if (Date.now() > deadline) throw new Error(`timed out waiting for the lock on upload ${id}`);
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    } catch (err) {
      client.release();
      throw err;
    }
  }

  /** @internal */
  async releaseLock(id: string, client: PoolClient): Promise<void> {
    this.held.delete(id);
    try {
      await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [`tus:${id}`]);
      client.release();
    } catch (err) {
      // A broken connection drops its locks with it; do not return it to the pool.
      client.release(err instanceof Error ? err : true);
    }
  }
}

class PgAdvisoryLock implements Lock {
  private client: PoolClient | undefined;

  constructor(
    private readonly id: string,
    private readonly locker: PgAdvisoryLocker,
  ) {}

  async lock(signal: AbortSignal, cancelReq: RequestRelease): Promise<void> {
    this.client = await this.locker.acquire(this.id, signal, cancelReq);
  }

  async unlock(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) await this.locker.releaseLock(this.id, client);
  }
}
