import type { Lock, Locker, RequestRelease } from '@tus/utils';
import type pg from 'pg';
import { isDatabaseUnavailable, type Pool, type PoolClient } from '../db/pool.ts';
import type { Logger } from '../observability/logger.ts';

const CHANNEL = 'tus_lock_release';

/** An upload's lock stayed taken (its upload is being stored, or a stuck request holds it). */
export class LockTimeoutError extends Error {
  override name = 'LockTimeoutError';
}
const RETRY_MS = 50;
/** How soon a lost LISTEN connection is opened again (PostgreSQL restarting, failing over). */
const RELISTEN_MS = [100, 500, 2_000, 5_000];
/**
 * Every connection the locker has out of the pool listens for its 'error' from checkout to release
 * (pg emits it when the connection breaks, even during a query): without a listener the process
 * would crash. A broken connection loses its lock with it; the query in flight fails and says so.
 */
const LOST_QUIETLY = (): void => undefined;

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
  /** Locks being let go in the background (`deferred`): a later lock of the same upload here waits for it. */
  private readonly releasing = new Map<string, Promise<void>>();
  /**
   * Deferred unlocks not sent yet (they go at the next turn of the event loop): a lock of the same
   * upload asked for before then takes the connection over, still holding the lock (the finish of
   * an upload right after its last PATCH: no unlock and lock again in between).
   */
  private readonly handovers = new Map<string, { client: PoolClient; taken: boolean }>();
  /** Each held lock's listener for its connection breaking. */
  private readonly onLost = new WeakMap<PoolClient, () => void>();
  /** The LISTEN connection, and how to give it up (once). */
  private listener: { client: PoolClient; drop(): void } | undefined;
  private stopped = false;
  private relisten: NodeJS.Timeout | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly log: Logger,
    /** How long a lock is waited for before LockTimeoutError (TUS_LOCK_TIMEOUT_MS). */
    private readonly acquireTimeoutMs = 30_000,
  ) {}

  /** Starts listening for release requests from other instances. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.listen();
  }

  private async listen(): Promise<void> {
    const client = await this.pool.connect();
    client.on('notification', (msg: pg.Notification) => {
      if (msg.payload) this.releaseHolder(msg.payload);
    });
    let dropped = false;
    const drop = () => {
      if (!dropped) client.release(true);
      dropped = true;
    };
    // A lost connection loses the LISTEN: open another, or waiters elsewhere would wait for
    // their timeout instead of asking this instance to let go.
    client.once('error', () => {
      drop();
      if (this.listener?.client !== client) return; // failed while starting: the caller has the error
      this.listener = undefined;
      this.listenAgain(0);
    });
    try {
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (err) {
      drop();
      throw err;
    }
    // Stopped while connecting again: a client kept now would hold the pool's end() forever.
    if (this.stopped) return drop();
    this.listener = { client, drop };
  }

  private listenAgain(attempt: number): void {
    if (this.stopped) return;
    const delay = RELISTEN_MS[Math.min(attempt, RELISTEN_MS.length - 1)];
    this.relisten = setTimeout(() => {
      this.listen().then(
        () => this.listener && this.log.info('listening for upload lock release requests again'),
        (err: unknown) => {
          this.log.warn({ err }, 'cannot listen for upload lock release requests yet; retrying');
          this.listenAgain(attempt + 1);
        },
      );
    }, delay);
  }

  /** Ends the request that holds `id`'s lock (tus then answers it with what it has stored). */
  private releaseHolder(id: string): void {
    const release = this.held.get(id);
    if (release) void Promise.resolve(release()).catch((err: unknown) => this.log.warn({ err }, 'lock release failed'));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.releasing.values());
    clearTimeout(this.relisten);
    this.listener?.drop();
    this.listener = undefined;
  }

  newLock(id: string): Lock {
    return new PgAdvisoryLock(id, this, false);
  }

  /**
   * The same locks, except that unlock() returns at once and the lock is let go in the background:
   * a request is answered without waiting for that round trip (tus unlocks before it answers). The
   * lock stays held until PostgreSQL has let go, so no other writer can come in earlier; the next
   * request for the upload on this instance waits for it, one on another instance asks and retries.
   */
  readonly deferred: Locker = { newLock: (id: string): Lock => new PgAdvisoryLock(id, this, true) };

  /**
   * The upload's lock if nobody holds it, without asking a holder to let go (for background work
   * such as the expiry cleaner, which must never cut off a request); null when it is taken.
   */
  async tryLock(id: string): Promise<Lock | null> {
    await this.releasing.get(id);
    const client = await this.pool.connect();
    client.on('error', LOST_QUIETLY);
    try {
      const { rows } = await client.query<{ ok: boolean }>(
        'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok',
        [`tus:${id}`],
      );
      if (!rows[0]?.ok) {
        client.removeListener('error', LOST_QUIETLY);
        client.release();
        return null;
      }
    } catch (err) {
      // Destroyed, not reused: it keeps its quiet listener (its socket may still report the break).
      client.release(err instanceof Error ? err : true);
      throw err;
    }
    return { lock: async () => undefined, unlock: () => this.releaseLock(id, client) };
  }

  /** @internal */
  async acquire(id: string, signal: AbortSignal, release: RequestRelease): Promise<PoolClient> {
    const handover = this.handovers.get(id);
    if (handover) {
      // Never let go: the lock is this request's now.
      handover.taken = true;
      this.handovers.delete(id);
      this.attach(id, handover.client, release);
      return handover.client;
    }
    await this.releasing.get(id);
    const client = await this.pool.connect();
    client.on('error', LOST_QUIETLY);
    const deadline = Date.now() + this.acquireTimeoutMs;
    let asked = false;
    try {
      for (;;) {
        const { rows } = await client.query<{ ok: boolean }>(
          'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok',
          [`tus:${id}`],
        );
        if (rows[0]?.ok) {
          this.attach(id, client, release);
          return client;
        }
        if (!asked) {
          // Once is enough: the holder's request is cancelled and unlocks.
          await client.query('SELECT pg_notify($1, $2)', [CHANNEL, id]);
          asked = true;
        }
        if (signal.aborted) throw new Error('lock request aborted');
        if (Date.now() > deadline) throw new LockTimeoutError(`timed out waiting for the lock on upload ${id}`);
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    } catch (err) {
      // A try the client gave up on (no answer in time) may still be granted once the database
      // answers: that connection must not go back to the pool holding a lock nobody knows of.
      const broken = isDatabaseUnavailable(err);
      if (!broken) client.removeListener('error', LOST_QUIETLY);
      client.release(broken ? (err as Error) : undefined);
      throw err;
    }
  }

  /** `release` ends the request that holds `id`'s lock on `client` (asked by a waiter, or the connection broke). */
  private attach(id: string, client: PoolClient, release: RequestRelease): void {
    this.held.set(id, release);
    // The lock lives as long as this connection: when it breaks, the request holding the
    // lock must stop writing (the client resumes, and locks again, on its next request).
    const lost = () => this.releaseHolder(id);
    this.onLost.set(client, lost);
    client.once('error', lost);
  }

  /**
   * No request holds `id`'s lock any more (it may still be locked until unlocked). The connection
   * keeps its quiet 'error' listener until releaseLock is done with it (a deferred unlock is sent
   * a macrotask later: a connection breaking in between must not crash the process).
   */
  private detach(id: string, client: PoolClient): void {
    this.held.delete(id);
    const lost = this.onLost.get(client);
    if (lost) client.removeListener('error', lost);
  }

  /** @internal Lets go in the background, unless taken over first (acquire); never rejects. */
  releaseLater(id: string, client: PoolClient): void {
    this.detach(id, client);
    const handover = { client, taken: false };
    this.handovers.set(id, handover);
    const done = new Promise<void>((resolve) =>
      setImmediate(() => {
        if (handover.taken) return resolve();
        this.handovers.delete(id);
        // releaseLock does not reject: a broken connection is dropped there.
        void this.releaseLock(id, client).then(resolve);
      }),
    ).finally(() => {
      if (this.releasing.get(id) === done) this.releasing.delete(id);
    });
    this.releasing.set(id, done);
  }

  /** @internal */
  async releaseLock(id: string, client: PoolClient): Promise<void> {
    this.detach(id, client);
    try {
      await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [`tus:${id}`]);
      client.removeListener('error', LOST_QUIETLY);
      client.release();
    } catch (err) {
      // A broken connection drops its locks with it; do not return it to the pool (nor its quiet listener).
      client.release(err instanceof Error ? err : true);
    }
  }
}

class PgAdvisoryLock implements Lock {
  private client: PoolClient | undefined;

  constructor(
    private readonly id: string,
    private readonly locker: PgAdvisoryLocker,
    private readonly deferUnlock: boolean,
  ) {}

  async lock(signal: AbortSignal, cancelReq: RequestRelease): Promise<void> {
    this.client = await this.locker.acquire(this.id, signal, cancelReq);
  }

  async unlock(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    if (this.deferUnlock) this.locker.releaseLater(this.id, client);
    else await this.locker.releaseLock(this.id, client);
  }
}
