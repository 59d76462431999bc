import { StoredXrayEventSchema, type DeliveryState, type OutboxEntry, type StoredXrayEvent } from '@xray/shared';
import type { Pool, PoolClient } from '../db/pool.ts';
import { addressed, type XrayEventDraft } from './xray.events.ts';

type Queryable = Pool | PoolClient;

/**
 * The transactional outbox. `append` runs inside the caller's transaction, so an event exists
 * exactly when the change it reports committed. Each event gets one delivery row per sink.
 */
export interface OutboxWriter {
  /** Addresses the event (links under the public URL), checks it against its schema, writes it. */
  append(tx: PoolClient, event: XrayEventDraft): Promise<void>;
  /**
   * In the transaction that deletes X-ray `xrayId`: its events still in the outbox (pending, dead
   * or delivered and not yet pruned) lose their notes and DICOM summary, and say `scrubbed: true`.
   * They stay deliverable, so a consumer still sees every change, in order, before the deletion.
   */
  scrubXray(tx: PoolClient, xrayId: string): Promise<number>;
}

/** Events' free text and DICOM summary set to null, a changed note's values withheld. */
const SCRUB = `
  UPDATE outbox_events AS e
     SET payload = c.p || '{"scrubbed": true}'::jsonb
    FROM outbox_events AS o
   CROSS JOIN LATERAL (SELECT CASE WHEN o.payload #> '{data,xray}' ? 'notes'
                                   THEN jsonb_set(o.payload, '{data,xray,notes}', 'null') ELSE o.payload END AS p) a
   CROSS JOIN LATERAL (SELECT CASE WHEN a.p #> '{data,xray}' ? 'dicom'
                                   THEN jsonb_set(a.p, '{data,xray,dicom}', 'null') ELSE a.p END AS p) b
   CROSS JOIN LATERAL (SELECT CASE WHEN b.p #> '{data,changes}' ? 'notes'
                                   THEN jsonb_set(b.p, '{data,changes,notes}', '{"before": null, "after": null, "withheld": true}')
                                   ELSE b.p END AS p) c
   WHERE o.id = e.id AND e.xray_id = $1`;

/**
 * Writes events with a delivery row for each of `sinks` (the notifiers configured on this instance).
 * `publicUrl()`: the base of the events' links (PUBLIC_URL, else the address this instance listens on).
 */
export function createOutboxWriter(sinks: readonly string[], opts: { publicUrl: () => string }): OutboxWriter {
  return {
    async append(tx, draft) {
      const event = addressed(draft, opts.publicUrl());
      await tx.query(
        `WITH e AS (
           INSERT INTO outbox_events (id, type, xray_id, payload, created_at) VALUES ($1, $2, $3, $4, $5)
           RETURNING id)
         INSERT INTO outbox_deliveries (event_id, sink) SELECT e.id, s FROM e, unnest($6::text[]) AS s`,
        [event.id, event.type, event.xrayId, JSON.stringify(event), event.occurredAt, [...sinks]],
      );
    },
    scrubXray: (tx, xrayId) => outboxRepository.scrubXray(tx, xrayId),
  };
}

/** A delivery a relay holds: only the holder of `token` may record its outcome. */
export interface ClaimedDelivery {
  eventId: string;
  sink: string;
  /** This attempt's number (1 = first). */
  attempt: number;
  /** This attempt's number since the backoff last restarted (its sink came back): what the backoff grows with. */
  backoffAttempt: number;
  token: string;
  event: StoredXrayEvent;
}

interface ClaimRow {
  event_id: string;
  sink: string;
  attempts: number;
  backoff_from: number;
  payload: unknown;
}

interface DeliveryRow {
  sink: string;
  state: DeliveryState;
  attempts: number;
  failures: number;
  next_attempt_at: Date | null;
  last_attempt_at: Date | null;
  last_error: string | null;
  delivered_at: Date | null;
}

interface EntryRow {
  id: string;
  seq: string;
  type: OutboxEntry['type'];
  xray_id: string | null;
  payload: unknown;
  created_at: Date;
  deliveries: DeliveryRow[];
}

const iso = (d: Date | string | null): string | null => (d === null ? null : new Date(d).toISOString());

function toEntry(r: EntryRow): OutboxEntry {
  return {
    id: r.id,
    type: r.type,
    xrayId: r.xray_id,
    createdAt: r.created_at.toISOString(),
    deliveries: r.deliveries.map((d) => ({
      sink: d.sink,
      state: d.state,
      attempts: d.attempts,
      failures: d.failures,
      nextAttemptAt: d.state === 'pending' ? iso(d.next_attempt_at) : null,
      lastAttemptAt: iso(d.last_attempt_at),
      lastError: d.last_error,
      deliveredAt: iso(d.delivered_at),
    })),
    event: StoredXrayEventSchema.parse(r.payload),
  };
}

const ENTRY_SELECT = `
  SELECT e.id, e.seq::text AS seq, e.type, e.xray_id, e.payload, e.created_at,
    (SELECT json_agg(json_build_object(
        'sink', d.sink, 'state', d.state, 'attempts', d.attempts, 'failures', d.failures, 'next_attempt_at', d.next_attempt_at,
        'last_attempt_at', d.last_attempt_at, 'last_error', d.last_error, 'delivered_at', d.delivered_at)
        ORDER BY d.sink)
     FROM outbox_deliveries d WHERE d.event_id = e.id) AS deliveries
  FROM outbox_events e`;

/** Row shapes from json_agg come back with timestamps as strings: normalise them. */
function normalise(r: EntryRow): EntryRow {
  return {
    ...r,
    deliveries: (r.deliveries ?? []).map((d) => ({
      ...d,
      next_attempt_at: d.next_attempt_at ? new Date(d.next_attempt_at) : null,
      last_attempt_at: d.last_attempt_at ? new Date(d.last_attempt_at) : null,
      delivered_at: d.delivered_at ? new Date(d.delivered_at) : null,
    })),
  };
}

export const outboxRepository = {
  /** See OutboxWriter.scrubXray; also run when `xray-admin recover` re-applies a deletion. */
  async scrubXray(db: Queryable, xrayId: string): Promise<number> {
    const { rowCount } = await db.query(SCRUB, [xrayId]);
    return rowCount ?? 0;
  },

  /**
   * Claims up to `limit` due deliveries for `sinks`, oldest first, skipping rows another relay
   * has locked (FOR UPDATE SKIP LOCKED). Claiming pushes next_attempt_at to the end of the lease,
   * so a claimed row is not due for anyone else until then, even after this statement commits.
   * Per X-ray and sink, only the oldest undelivered event is due: a receiver sees an X-ray's
   * events in order (redeliveries aside), and a dead event stops blocking the ones after it.
   */
  async claim(
    db: Queryable,
    q: { sinks: readonly string[]; limit: number; leaseMs: number; token: string; claimedBy: string },
  ): Promise<ClaimedDelivery[]> {
    const { rows } = await db.query<ClaimRow>(
      `WITH due AS (
         SELECT d.event_id, d.sink
         FROM outbox_deliveries d JOIN outbox_events e ON e.id = d.event_id
         WHERE d.state = 'pending' AND d.sink = ANY($1::text[]) AND d.next_attempt_at <= now()
           AND NOT EXISTS (
             SELECT 1 FROM outbox_deliveries d2 JOIN outbox_events e2 ON e2.id = d2.event_id
             WHERE e.xray_id IS NOT NULL AND e2.xray_id = e.xray_id AND e2.seq < e.seq
               AND d2.sink = d.sink AND d2.state = 'pending')
         ORDER BY e.seq
         LIMIT $2
         FOR UPDATE OF d SKIP LOCKED)
       UPDATE outbox_deliveries d
       SET next_attempt_at = now() + $3 * interval '1 millisecond', claim_token = $4, claimed_by = $5,
           attempts = d.attempts + 1, last_attempt_at = now()
       FROM due, outbox_events e
       WHERE d.event_id = due.event_id AND d.sink = due.sink AND e.id = d.event_id
       RETURNING d.event_id, d.sink, d.attempts, d.backoff_from, e.payload`,
      [[...q.sinks], q.limit, q.leaseMs, q.token, q.claimedBy],
    );
    return rows.map((r) => ({
      eventId: r.event_id,
      sink: r.sink,
      attempt: r.attempts,
      backoffAttempt: r.attempts - r.backoff_from,
      token: q.token,
      event: StoredXrayEventSchema.parse(r.payload),
    }));
  },

  /** Records success; false when the claim was lost (lease ended and another relay took it). */
  async markDelivered(db: Queryable, d: ClaimedDelivery): Promise<boolean> {
    const { rowCount } = await db.query(
      `UPDATE outbox_deliveries SET state = 'delivered', delivered_at = now(), last_error = NULL, claim_token = NULL
       WHERE event_id = $1 AND sink = $2 AND claim_token = $3`,
      [d.eventId, d.sink, d.token],
    );
    return rowCount === 1;
  },

  /**
   * The sink is back after an outage (a delivery to it just succeeded): its deliveries that were
   * waiting for it to be reachable again are due now, and their backoff starts over (a failure
   * after this waits the base delay). Ones the sink refused (counted failures) keep their backoff;
   * ones a relay holds are left alone. Returns how many were made due.
   */
  async resumeSink(db: Queryable, sink: string): Promise<number> {
    const { rowCount } = await db.query(
      `UPDATE outbox_deliveries
          SET next_attempt_at = least(next_attempt_at, now()), backoff_from = attempts
        WHERE sink = $1 AND state = 'pending' AND claim_token IS NULL AND last_unreachable
          AND attempts > backoff_from`,
      [sink],
    );
    return rowCount ?? 0;
  },

  /**
   * Records a failed attempt: due again after `retryInMs`. One that `counts` (the sink answered,
   * or failed to in time) adds to `failures`, and at `maxFailures` the delivery is dead.
   * Returns the state it is left in, or null when the claim was lost.
   */
  async markFailed(
    db: Queryable,
    d: ClaimedDelivery,
    outcome: { error: string; retryInMs: number; counts: boolean; maxFailures: number },
  ): Promise<DeliveryState | null> {
    const { rows } = await db.query<{ state: DeliveryState }>(
      `UPDATE outbox_deliveries
       SET failures = failures + CASE WHEN $5 THEN 1 ELSE 0 END,
           state = CASE WHEN $5 AND failures + 1 >= $6 THEN 'dead' ELSE 'pending' END,
           last_unreachable = NOT $5,
           next_attempt_at = now() + $4 * interval '1 millisecond', last_error = $7, claim_token = NULL
       WHERE event_id = $1 AND sink = $2 AND claim_token = $3
       RETURNING state`,
      [
        d.eventId,
        d.sink,
        d.token,
        outcome.retryInMs,
        outcome.counts,
        outcome.maxFailures,
        outcome.error.slice(0, 2000),
      ],
    );
    return rows[0]?.state ?? null;
  },

  /**
   * Removes up to `limit` events created more than `olderThanMs` ago whose every delivery is done
   * (or that have none: no sink was configured when they were written). Pending and dead ones
   * stay for the relay and for an admin. Their delivery rows go with them (ON DELETE CASCADE).
   */
  async prune(db: Queryable, q: { olderThanMs: number; limit: number }): Promise<number> {
    const { rowCount } = await db.query(
      `DELETE FROM outbox_events WHERE id IN (
         SELECT e.id FROM outbox_events e
         WHERE e.created_at < now() - $1 * interval '1 millisecond'
           AND NOT EXISTS (SELECT 1 FROM outbox_deliveries d WHERE d.event_id = e.id AND d.state <> 'delivered')
         ORDER BY e.seq
         LIMIT $2
         FOR UPDATE SKIP LOCKED)`,
      [q.olderThanMs, q.limit],
    );
    return rowCount ?? 0;
  },

  /** Events with a delivery in `state` (pending or dead; both when absent), oldest first. */
  async list(
    db: Queryable,
    q: { state?: 'pending' | 'dead'; afterSeq?: string; limit: number },
  ): Promise<{ items: OutboxEntry[]; nextCursor: string | null }> {
    const states = q.state ? [q.state] : ['pending', 'dead'];
    const { rows } = await db.query<EntryRow>(
      `${ENTRY_SELECT}
       WHERE EXISTS (SELECT 1 FROM outbox_deliveries d WHERE d.event_id = e.id AND d.state = ANY($1::text[]))
         AND ($2::bigint IS NULL OR e.seq > $2::bigint)
       ORDER BY e.seq LIMIT $3`,
      [states, q.afterSeq ?? null, q.limit + 1],
    );
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return {
      items: page.map((r) => toEntry(normalise(r))),
      nextCursor: rows.length > q.limit && last ? last.seq : null,
    };
  },

  async find(db: Queryable, id: string): Promise<OutboxEntry | null> {
    const { rows } = await db.query<EntryRow>(`${ENTRY_SELECT} WHERE e.id = $1`, [id]);
    return rows[0] ? toEntry(normalise(rows[0])) : null;
  },

  /** Dead deliveries, optionally of one sink or event type. */
  async countDead(db: Queryable, f: { sink?: string; type?: string }): Promise<number> {
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM outbox_deliveries d JOIN outbox_events e ON e.id = d.event_id
        WHERE d.state = 'dead' AND d.claim_token IS NULL
          AND ($1::text IS NULL OR d.sink = $1) AND ($2::text IS NULL OR e.type = $2)`,
      [f.sink ?? null, f.type ?? null],
    );
    return rows[0]?.n ?? 0;
  },

  /** Every dead delivery (of one sink or event type) back to pending, due now, failures reset. */
  async retryAllDead(db: Queryable, f: { sink?: string; type?: string }): Promise<{ eventId: string; sink: string }[]> {
    const { rows } = await db.query<{ event_id: string; sink: string }>(
      `UPDATE outbox_deliveries d
          SET failures = 0, state = 'pending', next_attempt_at = now(), backoff_from = d.attempts
         FROM outbox_events e
        WHERE e.id = d.event_id AND d.state = 'dead' AND d.claim_token IS NULL
          AND ($1::text IS NULL OR d.sink = $1) AND ($2::text IS NULL OR e.type = $2)
        RETURNING d.event_id, d.sink`,
      [f.sink ?? null, f.type ?? null],
    );
    return rows.map((r) => ({ eventId: r.event_id, sink: r.sink }));
  },

  /**
   * What /metrics reports about the outbox: the age of the oldest undelivered event (by when it
   * was written, so retries do not make it look young), and how many deliveries are dead.
   */
  async health(db: Queryable): Promise<{ oldestPendingAgeS: number; dead: number }> {
    const { rows } = await db.query<{ age: number | null; dead: number }>(
      `SELECT (SELECT EXTRACT(EPOCH FROM now() - min(e.created_at))::float8
                 FROM outbox_deliveries d JOIN outbox_events e ON e.id = d.event_id
                WHERE d.state = 'pending') AS age,
              (SELECT count(*)::int FROM outbox_deliveries WHERE state = 'dead') AS dead`,
    );
    return { oldestPendingAgeS: Math.max(0, rows[0]?.age ?? 0), dead: rows[0]?.dead ?? 0 };
  },

  /**
   * Makes an event's dead deliveries pending again with a fresh failure count, and waiting ones
   * due now. A delivery a relay is working on (claim_token set) is left alone, so a retry never
   * makes two relays deliver at once.
   */
  async retry(db: Queryable, id: string): Promise<number> {
    const { rowCount } = await db.query(
      `UPDATE outbox_deliveries
       SET failures = CASE WHEN state = 'dead' THEN 0 ELSE failures END,
           state = 'pending', next_attempt_at = now(), backoff_from = attempts
       WHERE event_id = $1 AND claim_token IS NULL AND state IN ('dead', 'pending')`,
      [id],
    );
    return rowCount ?? 0;
  },
};
