import pg from 'pg';
import type { Logger } from '../observability/logger.ts';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

// bigint (sizes) as number: X-rays are far below 2^53 bytes.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export interface PoolOptions {
  log?: Pick<Logger, 'warn'>;
  /**
   * Give up on getting a connection after this long (a database behind a network partition
   * would otherwise hold each request for minutes of TCP retries). Unset: wait, as a tus PATCH
   * must for its upload lock's connection.
   */
  connectTimeoutMs?: number;
  /**
   * PostgreSQL's statement_timeout on every connection; the client also abandons a statement
   * that has had no answer 1 s after it (a frozen or partitioned server enforces nothing), and
   * the connection it ran on is dropped. Unset: no limit (the CLI's long passes).
   */
  statementTimeoutMs?: number;
  /** PostgreSQL's idle_in_transaction_session_timeout on every connection. */
  idleInTransactionTimeoutMs?: number;
}

/** How much longer than statement_timeout the client waits for an answer before it gives up on the server. */
const QUERY_TIMEOUT_SLACK_MS = 1_000;

export function createPool(
  url: string,
  max: number,
  { log, connectTimeoutMs, statementTimeoutMs, idleInTransactionTimeoutMs }: PoolOptions = {},
): Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    application_name: 'xray-sync-server',
    // A peer that vanished (a partition, a dead host) is noticed by TCP, not only by a timeout.
    keepAlive: true,
    ...(connectTimeoutMs ? { connectionTimeoutMillis: connectTimeoutMs } : {}),
    ...(statementTimeoutMs
      ? { statement_timeout: statementTimeoutMs, query_timeout: statementTimeoutMs + QUERY_TIMEOUT_SLACK_MS }
      : {}),
    ...(idleInTransactionTimeoutMs ? { idle_in_transaction_session_timeout: idleInTransactionTimeoutMs } : {}),
    // Every transaction here is written for READ COMMITTED (the audit chain reads its head after
    // taking its lock): a database or role default of another level must not change that. Run on
    // each new connection before it is first handed out; one that fails it is not used.
    verify: (client, done) => {
      client.query("SET default_transaction_isolation = 'read committed'").then(
        () => done(),
        (err: Error) => done(err),
      );
    },
  });
  // PostgreSQL may end any connection (a restart, a failover, a proxy's idle timeout). Its running
  // query fails; the connection also emits 'error', which would end the process with no listener,
  // idle in the pool or checked out. The pool drops a broken idle connection and opens another.
  // Once the pool is ending, nothing is replaced and nothing is wrong: end() resolves as soon as
  // each connection is told to close, so a database stopped right after (the embedded one, at
  // shutdown) may still end a connection that had not closed yet.
  pool.on('connect', (client) => {
    client.on('error', (err) => {
      if (!pool.ending) log?.warn({ err }, 'a database connection was closed; the pool replaces it');
    });
  });
  pool.on('error', () => undefined); // logged by the connection's own listener above
  return pool;
}

/** Errors of a COMMIT that was sent but never answered (see commitOutcomeUnknown). */
const unansweredCommits = new WeakSet<object>();

/**
 * The transaction that failed with `err` may have committed after all: its COMMIT was sent and the
 * connection broke or the client stopped waiting for the answer (a hung database, a stalled disk or
 * network). PostgreSQL may still carry it out. What the transaction stood for must not be undone
 * (an X-ray's object deleted) on the belief that it did not happen.
 */
export const commitOutcomeUnknown = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && unansweredCommits.has(err);

/** Runs fn in one transaction; rolls back on any error. */
export async function inTransaction<T>(
  pool: Pool,
  fn: (client: PoolClient) => Promise<T>,
  /** `snapshot`: read only, every statement seeing the same snapshot (REPEATABLE READ). */
  mode: 'write' | 'snapshot' = 'write',
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query(mode === 'snapshot' ? 'BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY' : 'BEGIN');
    const result = await fn(client);
    await client.query('COMMIT').catch((err: unknown) => {
      // statement_timeout (57014) cancelled it: rolled back. Any other loss of the session: unknown.
      if (isDatabaseUnavailable(err) && (err as { code?: unknown }).code !== '57014')
        unansweredCommits.add(err as object);
      throw err;
    });
    return result;
  } catch (err) {
    broken = brokenConnection(err);
    if (!broken) await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release(broken);
  }
}

/**
 * What to pass to `client.release` after a transaction failed with `err`: the error when the
 * connection timed out or broke, so it is dropped rather than asked to roll back (the server ends
 * the transaction with the session, and a hung server would not answer the ROLLBACK either).
 */
export const brokenConnection = (err: unknown): Error | undefined =>
  isDatabaseUnavailable(err) ? (err instanceof Error ? err : new Error(String(err))) : undefined;

/**
 * PostgreSQL refused a value, not the statement's shape: SQLSTATE class 22 (data exception: an
 * out-of-range date, an untranslatable character, an invalid byte sequence, a number too large)
 * or 23514 (a CHECK constraint). A value that reached the database this way came from a request.
 * Returns the SQLSTATE, or undefined.
 */
export function dataExceptionOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { code, severity } = err as { code?: unknown; severity?: unknown };
  if (typeof severity !== 'string' || typeof code !== 'string') return undefined;
  return /^22[0-9A-Z]{3}$/.test(code) || code === '23514' ? code : undefined;
}

/**
 * PostgreSQL ended the session or cannot take one (down, restarting, failing over, refusing
 * connections), as opposed to refusing a statement: worth retrying shortly. (A connection that
 * cannot even be opened fails with the socket's code, e.g. ECONNREFUSED; see http/problem.ts.)
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, severity, message } = err as { code?: unknown; severity?: unknown; message?: unknown };
  // SQLSTATE 08: connection exception; 57P01-57P03: shutting down, crashed, cannot connect now;
  // 57014: cancelled by statement_timeout (a database too slow or blocked to answer in time).
  if (typeof code === 'string' && (code.startsWith('08') || ['57P01', '57P02', '57P03', '57014'].includes(code)))
    return true;
  // FATAL and PANIC end the session, whatever their code (e.g. a database not accepting connections).
  if (severity === 'FATAL' || severity === 'PANIC') return true;
  return (
    typeof message === 'string' &&
    /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout)/.test(
      message,
    )
  );
}

/**
 * Opens up to `n` connections now, without waiting for them: a connection takes a round trip, a
 * backend started by PostgreSQL and the pool's check, so a server that opens them while the rest
 * of it starts answers its first requests (and `/readyz`) without doing so. A failure is left to
 * the first query, which reports it.
 */
export function warmUp(pool: Pool, n: number): void {
  for (let i = 0; i < n; i++)
    pool.connect().then(
      (client) => client.release(),
      () => undefined,
    );
}
