import {
  AuditOutcomeSchema,
  MAX_BIGINT,
  type AuditAction,
  type AuditEvent,
  type AuditOutcome,
  type AuditQuery,
} from '@xray/shared';
import type { Actor } from '../auth/actor.ts';
import { isDatabaseUnavailable, type Pool, type PoolClient } from '../db/pool.ts';
import { DomainError } from '../errors.ts';
import { canonicalMiddle, storable, storableJson } from './audit.hash.ts';
import { auditRepository, type AuditRecord } from './audit.repository.ts';

/**
 * Who asked, from where: what the HTTP layer knows about a request, without HTTP types.
 * Domain functions that change data take it so they can write the audit row themselves.
 */
export interface AuditContext {
  actor: Pick<Actor, 'sub' | 'roles'> | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

/** What happened, to what. */
export interface AuditFact {
  action: AuditAction;
  outcome: AuditOutcome;
  xrayId?: string | null;
  patientId?: string | null;
  details?: Record<string, unknown>;
}

export interface AuditEventInput extends AuditFact {
  context: AuditContext;
}

/** For work no request asked for (jobs, CLI, tests): the actor and nothing else. */
export const systemContext = (actor: Pick<Actor, 'sub' | 'roles'> | null = null): AuditContext => ({
  actor,
  ip: null,
  userAgent: null,
  requestId: null,
});

const text = (s: string | null | undefined): string | null => (s === undefined || s === null ? null : storable(s));

function detailsOf(details: Record<string, unknown> | undefined): Record<string, unknown> {
  const clean = storableJson(details ?? {});
  return clean !== null && typeof clean === 'object' && !Array.isArray(clean) ? { ...clean } : {};
}

/**
 * Appends events, in order, to the hash chain in one statement (audit_append): inside the
 * caller's transaction when `db` is a client in one, so an action that changes data commits or
 * rolls back together with its audit rows; else (a pool) in a transaction of its own.
 *
 * Appends are serialised across every instance by a transaction-scoped advisory lock, held
 * until COMMIT: inside a transaction, call this last, just before committing, to hold it
 * briefly. The transaction must be READ COMMITTED (the default; inTransaction uses it) so the
 * read of the chain's head after the lock sees the append before ours. Should anything still
 * chain two rows to one predecessor, the audit_events_no_fork constraint refuses the second.
 */
export async function appendAuditBatch(db: Pool | PoolClient, events: AuditEventInput[]): Promise<AuditRecord[]> {
  const fields = events.map((event) => {
    const { context } = event;
    const f = {
      actorSub: text(context.actor?.sub),
      actorRoles: (context.actor?.roles ?? []).map(storable),
      action: event.action,
      // PostgreSQL prints UUIDs in lower case; hash what it will give back.
      xrayId: event.xrayId ? event.xrayId.toLowerCase() : null,
      patientId: text(event.patientId),
      outcome: event.outcome,
      clientIp: text(context.ip),
      userAgent: text(context.userAgent),
      requestId: text(context.requestId),
      details: detailsOf(event.details),
    };
    return { ...f, middle: canonicalMiddle(f) };
  });
  const links = await auditRepository.append(db, fields);
  return fields.map(({ middle: _, ...f }, i) => ({ ...f, ...links[i]! }));
}

/** Appends one event inside the caller's transaction (see appendAuditBatch). */
export async function appendAudit(tx: PoolClient, event: AuditEventInput): Promise<AuditRecord> {
  const [record] = await appendAuditBatch(tx, [event]);
  return record!;
}

interface Pending {
  event: AuditEventInput;
  resolve: (r: AuditRecord) => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit for events that change nothing else (reads, lists, downloads, denials): every
 * append takes the one chain lock, so appending one event per transaction makes all readers
 * queue for the lock and a disk flush each. Events that arrive while a batch commits go into
 * the next batch: one lock hold and one commit for many. An idle batcher starts at the end of
 * the event loop's turn, with every event of that turn (requests answered in callbacks of their
 * own), not with the first alone. Each caller still waits for its own event to be committed
 * before it discloses anything.
 */
class AuditBatcher {
  private queue: Pending[] = [];
  private running = false;

  constructor(private readonly pool: Pool) {}

  append(event: AuditEventInput): Promise<AuditRecord> {
    return new Promise((resolve, reject) => {
      this.queue.push({ event, resolve, reject });
      if (this.running) return;
      this.running = true;
      setImmediate(() => void this.drain());
    });
  }

  /**
   * Appends `pending` in one statement, a transaction of its own (the chain lock is held while it
   * runs and commits), and resolves them; if it fails, they are left pending and the error returned.
   */
  private async appendAll(pending: Pending[]): Promise<{ error: unknown } | undefined> {
    try {
      const records = await appendAuditBatch(
        this.pool,
        pending.map((p) => p.event),
      );
      pending.forEach((p, i) => p.resolve(records[i]!));
      return undefined;
    } catch (error) {
      return { error };
    }
  }

  /**
   * The database unreachable or hung: each retry would wait out its own timeout, and so would the
   * events queued meanwhile, one after another (several times the timeout the database settings
   * promise). `pending` and the whole queue are refused with that error now; false otherwise.
   */
  private refusedAllOn(error: unknown, pending: Pending[]): boolean {
    if (!isDatabaseUnavailable(error)) return false;
    for (const p of [...pending, ...this.queue.splice(0)]) p.reject(error);
    return true;
  }

  /** Appends what is queued, batch after batch; `running` was set by the append that called it. */
  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, 200);
        const failed = await this.appendAll(batch);
        if (failed === undefined || this.refusedAllOn(failed.error, batch)) continue;
        // One bad event must not fail its neighbours: retry each on its own.
        for (const [i, p] of batch.entries()) {
          const retry = await this.appendAll([p]);
          if (retry === undefined) continue;
          if (this.refusedAllOn(retry.error, batch.slice(i))) break;
          p.reject(retry.error);
        }
      }
    } finally {
      this.running = false;
    }
  }
}

const batchers = new WeakMap<Pool, AuditBatcher>();

/** Appends in a transaction of its own (batched with concurrent ones): for reads and denials. */
export function recordAudit(pool: Pool, event: AuditEventInput): Promise<AuditRecord> {
  let batcher = batchers.get(pool);
  if (!batcher) batchers.set(pool, (batcher = new AuditBatcher(pool)));
  return batcher.append(event);
}

/** The API resource. */
export function toAuditResource(r: AuditRecord): AuditEvent {
  return {
    id: r.id,
    at: r.at.toISOString(),
    actor: { sub: r.actorSub, roles: r.actorRoles },
    action: r.action,
    xrayId: r.xrayId,
    patientId: r.patientId,
    // The CHECK constraint allows only these.
    outcome: AuditOutcomeSchema.parse(r.outcome),
    clientIp: r.clientIp,
    userAgent: r.userAgent,
    requestId: r.requestId,
    details: r.details !== null && typeof r.details === 'object' ? { ...r.details } : {},
    prevHash: r.prevHash,
    hash: r.hash,
  };
}

/** Opaque keyset cursor: the order it belongs to and the last id of the page. */
export const auditCursor = {
  encode: (order: 'asc' | 'desc', id: string): string => Buffer.from(`${order}:${id}`).toString('base64url'),
  decode(raw: string, order: 'asc' | 'desc'): string {
    const m = /^(asc|desc):([1-9][0-9]{0,18})$/.exec(Buffer.from(raw, 'base64url').toString('utf8'));
    const id = m?.[2];
    // Only what encode() would have written for this order, and an id a bigint can hold.
    if (!m || m[1] !== order || !id || BigInt(id) > MAX_BIGINT || auditCursor.encode(order, id) !== raw) {
      throw new DomainError('validation_failed', 'The cursor is not one this server issued for this order.', [
        { field: 'cursor', message: 'is not a cursor this server issued for this order' },
      ]);
    }
    return id;
  },
};

export function createAuditService(deps: { pool: Pool }) {
  return {
    record: (event: AuditEventInput): Promise<AuditRecord> => recordAudit(deps.pool, event),

    async list(q: AuditQuery): Promise<{ items: AuditRecord[]; nextCursor: string | null }> {
      const page = await auditRepository.list(deps.pool, {
        xrayId: q.xrayId?.toLowerCase(),
        patientId: q.patientId,
        actorSub: q.actor,
        action: q.action,
        outcome: q.outcome,
        from: q.from,
        to: q.to,
        order: q.order,
        afterId: q.cursor ? auditCursor.decode(q.cursor, q.order) : undefined,
        limit: q.limit,
      });
      const last = page.items[page.items.length - 1];
      return { items: page.items, nextCursor: page.more && last ? auditCursor.encode(q.order, last.id) : null };
    },
  };
}
export type AuditService = ReturnType<typeof createAuditService>;
