import type { AuditAction, AuditOutcome } from '@xray/shared';
import type pg from 'pg';
import type { Pool, PoolClient } from '../db/pool.ts';
import type { HashedAuditFields, KnownAuditFields } from './audit.hash.ts';

type Queryable = Pool | PoolClient;

/** A stored audit event: the hashed fields plus the hash. */
export interface AuditRecord extends HashedAuditFields {
  hash: string;
}

interface AuditRow {
  id: string;
  at: Date;
  actor_sub: string | null;
  actor_roles: string[];
  action: string;
  xray_id: string | null;
  patient_id: string | null;
  outcome: string;
  client_ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  details: unknown;
  prev_hash: string;
  hash: string;
}

// id as text: exact for any bigint, and the form the hash covers. (ORDER BY must then name
// audit_events.id: a bare `id` would sort the text alias, "10" before "2".)
const COLUMNS = `id::text AS id, at, actor_sub, actor_roles, action, xray_id::text AS xray_id, patient_id, outcome,
  client_ip, user_agent, request_id, details, prev_hash, hash`;

const toRecord = (r: AuditRow): AuditRecord => ({
  id: r.id,
  at: r.at,
  actorSub: r.actor_sub,
  actorRoles: r.actor_roles,
  action: r.action,
  xrayId: r.xray_id,
  patientId: r.patient_id,
  outcome: r.outcome,
  clientIp: r.client_ip,
  userAgent: r.user_agent,
  requestId: r.request_id,
  details: r.details,
  prevHash: r.prev_hash,
  hash: r.hash,
});

/**
 * Key of the transaction-scoped advisory lock that serialises appends across every instance
 * (hashtextextended of this text, the same scheme the tus locks use with their own prefix).
 * The SQL function audit_append takes it by the same text.
 */
export const CHAIN_LOCK_KEY = 'xray:audit-chain';

/** One event for audit_append: the stored columns but id, at and the hashes, and their canonical JSON (canonicalMiddle). */
export type AppendInput = KnownAuditFields & { middle: string };

export interface AuditListFilter {
  xrayId?: string;
  patientId?: string;
  actorSub?: string;
  action?: AuditAction;
  outcome?: AuditOutcome;
  from?: string;
  to?: string;
  order: 'asc' | 'desc';
  /** Keyset: only ids after (asc) or before (desc) this one. */
  afterId?: string;
  limit: number;
}

/** PostgreSQL access for the audit trail. There is no update or delete: the table refuses both. */
export const auditRepository = {
  /**
   * Appends events to the chain, in order, with the SQL function audit_append (migration
   * 1732680013000): it takes the chain lock, reserves the ids, reads the time and the head, hashes
   * and inserts, all in one statement. One round trip; inside the caller's transaction when `db`
   * is a client in one (the lock is then held until its COMMIT), else a transaction of its own.
   * The values go as one bound JSON parameter: nothing a client sent is ever part of the SQL text.
   */
  async append(
    db: Queryable,
    events: AppendInput[],
  ): Promise<{ id: string; at: Date; prevHash: string; hash: string }[]> {
    if (events.length < 1) throw new Error('no audit events to append');
    const { rows } = await db.query<{ id: string; at: Date; prev_hash: string; hash: string }>(
      'SELECT id, at, prev_hash, hash FROM audit_append($1::jsonb)',
      [JSON.stringify(events)],
    );
    if (rows.length !== events.length) throw new Error(`audit_append stored ${rows.length} of ${events.length} events`);
    return rows.map((r) => ({ id: r.id, at: r.at, prevHash: r.prev_hash, hash: r.hash }));
  },

  /** One page for GET /audit; fetches limit + 1 so the caller knows whether there is more. */
  async list(db: Queryable, f: AuditListFilter): Promise<{ items: AuditRecord[]; more: boolean }> {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (sql: string, v: unknown) => {
      args.push(v);
      where.push(sql.replace('?', `$${args.length}`));
    };
    if (f.xrayId) add('xray_id = ?', f.xrayId);
    if (f.patientId) add('patient_id = ?', f.patientId);
    if (f.actorSub) add('actor_sub = ?', f.actorSub);
    if (f.action) add('action = ?', f.action);
    if (f.outcome) add('outcome = ?', f.outcome);
    if (f.from) add('at >= ?', f.from);
    if (f.to) add('at < ?', f.to);
    if (f.afterId) add(f.order === 'asc' ? 'id > ?::bigint' : 'id < ?::bigint', f.afterId);
    args.push(f.limit + 1);
    const { rows } = await db.query<AuditRow>(
      `SELECT ${COLUMNS} FROM audit_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY audit_events.id ${f.order === 'asc' ? 'ASC' : 'DESC'} LIMIT $${args.length}`,
      args,
    );
    return { items: rows.slice(0, f.limit).map(toRecord), more: rows.length > f.limit };
  },

  /**
   * Events after `afterId` (all, when null): how many, when the oldest of them was appended, and
   * the database's clock now (for the checkpointer's "is one due" look, taken without any lock).
   */
  async unanchored(db: Queryable, afterId: string | null): Promise<{ count: number; oldest: Date | null; now: Date }> {
    const { rows } = await db.query<{ count: number; oldest: Date | null; now: Date }>(
      `SELECT count(*)::bigint AS count, min(at) AS oldest, pg_catalog.clock_timestamp() AS now
         FROM audit_events WHERE id > $1::bigint`,
      [afterId ?? '0'],
    );
    const row = rows[0];
    if (!row) throw new Error('count(*) returned no row');
    return row;
  },

  /**
   * The chain's head and the database's clock, read while holding the chain lock (in one round
   * trip: BEGIN, the lock, the read, COMMIT). Appends take their id and time under that lock, so
   * every event after this head is dated at or after `time`, to the millisecond. The clock is
   * schema-qualified: a `clock_timestamp` someone put earlier in the search_path is not ours.
   * Not for a client already inside a transaction.
   */
  async lockedHead(client: PoolClient): Promise<{ id: string; hash: string; time: Date } | null> {
    const results = (await client.query(
      `BEGIN; SELECT pg_advisory_xact_lock(hashtextextended('${CHAIN_LOCK_KEY}', 0));
       SELECT id::text AS id, hash, date_trunc('milliseconds', pg_catalog.clock_timestamp()) AS time
         FROM audit_events ORDER BY audit_events.id DESC LIMIT 1;
       COMMIT`,
    )) as unknown as pg.QueryResult<{ id: string; hash: string; time: Date }>[];
    // BEGIN, the lock, the head (no row: an empty chain), COMMIT.
    return results[2]?.rows[0] ?? null;
  },

  /** The stored hash of event `id`, or null when there is no such event. */
  async hashOf(db: Queryable, id: string): Promise<string | null> {
    const { rows } = await db.query<{ hash: string }>('SELECT hash FROM audit_events WHERE id = $1::bigint', [id]);
    return rows[0]?.hash ?? null;
  },

  /** How many events have ids after `afterId` (from the start when null) up to `upToId`. */
  async countBetween(db: Queryable, afterId: string | null, upToId: string): Promise<number> {
    const { rows } = await db.query<{ n: number }>(
      'SELECT count(*)::bigint AS n FROM audit_events WHERE id > $1::bigint AND id <= $2::bigint',
      [afterId ?? '0', upToId],
    );
    return rows[0]?.n ?? 0;
  },

  /** The chain in id order, a batch at a time (for the verifier). */
  async batchAfter(db: Queryable, afterId: string | null, limit: number): Promise<AuditRecord[]> {
    const { rows } = await db.query<AuditRow>(
      `SELECT ${COLUMNS} FROM audit_events WHERE id > $1::bigint ORDER BY audit_events.id LIMIT $2`,
      [afterId ?? '0', limit],
    );
    return rows.map(toRecord);
  },
};
