import type { AuditAction, AuditOutcome } from '@xray/shared';
import type pg from 'pg';
import type { Pool, PoolClient } from '../db/pool.ts';
import type { HashedAuditFields } from './audit.hash.ts';

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
 */
export const CHAIN_LOCK_KEY = 'xray:audit-chain';

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
   * Takes the chain lock (held until COMMIT/ROLLBACK), then reserves `count` ids, the time and the
   * hash to chain to. One round trip: both statements go in one simple-protocol query, and the
   * second, a statement of its own after the lock, gets a snapshot that sees the append that held
   * the lock before us. `begin` opens the transaction in the same round trip. Transaction clients only.
   */
  async lockAndLink(
    tx: PoolClient,
    count: number,
    opts: { begin?: boolean } = {},
  ): Promise<{ ids: string[]; at: Date; prevHash: string | null }> {
    if (!Number.isSafeInteger(count) || count < 1) throw new Error(`cannot reserve ${count} audit ids`);
    // Inlined, not bound: the simple protocol takes no parameters (both values are ours, not a client's).
    const sql = `${opts.begin ? 'BEGIN; ' : ''}SELECT pg_advisory_xact_lock(hashtextextended('${CHAIN_LOCK_KEY}', 0));
      SELECT ARRAY(SELECT nextval(pg_get_serial_sequence('audit_events', 'id'))::text FROM generate_series(1, ${count})) AS ids,
             date_trunc('milliseconds', clock_timestamp()) AS at,
             (SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1) AS prev_hash`;
    const results = (await tx.query(sql)) as unknown as pg.QueryResult<{
      ids: string[];
      at: Date;
      prev_hash: string | null;
    }>[];
    const row = results[results.length - 1]?.rows[0];
    if (!row || row.ids.length !== count) throw new Error('nextval returned no ids');
    // nextval hands them out in increasing order; sort anyway, the chain order is the id order.
    const ids = [...row.ids].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
    return { ids, at: row.at, prevHash: row.prev_hash };
  },

  /** One multi-row INSERT for a chained batch (in id order). */
  async insertMany(tx: PoolClient, records: AuditRecord[]): Promise<void> {
    const args: unknown[] = [];
    const rows = records.map((r) => {
      const base = args.length;
      args.push(
        r.id,
        r.at,
        r.actorSub,
        r.actorRoles,
        r.action,
        r.xrayId,
        r.patientId,
        r.outcome,
        r.clientIp,
        r.userAgent,
        r.requestId,
        JSON.stringify(r.details),
        r.prevHash,
        r.hash,
      );
      const p = (i: number) => `$${base + i}`;
      return `(${p(1)}::bigint, ${p(2)}::timestamptz, ${[3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14].map(p).join(', ')})`;
    });
    await tx.query(
      `INSERT INTO audit_events (id, at, actor_sub, actor_roles, action, xray_id, patient_id, outcome,
         client_ip, user_agent, request_id, details, prev_hash, hash)
       VALUES ${rows.join(',\n')}`,
      args,
    );
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

  /** The chain in id order, a batch at a time (for the verifier). */
  async batchAfter(db: Queryable, afterId: string | null, limit: number): Promise<AuditRecord[]> {
    const { rows } = await db.query<AuditRow>(
      `SELECT ${COLUMNS} FROM audit_events WHERE id > $1::bigint ORDER BY audit_events.id LIMIT $2`,
      [afterId ?? '0', limit],
    );
    return rows.map(toRecord);
  },
};
