import type { Pool } from '../db/pool.ts';
import { outboxRepository } from '../events/outbox.repository.ts';
import type { DatabaseGauges } from './metrics.ts';

/** The outbox's backlog and dead deliveries, and the pending link checks, for /metrics. */
export async function readDatabaseGauges(pool: Pool): Promise<DatabaseGauges> {
  const [outbox, links] = await Promise.all([
    outboxRepository.health(pool),
    pool.query<{ n: number }>('SELECT count(*)::int AS n FROM xrays WHERE link_recheck_at IS NOT NULL'),
  ]);
  return { ...outbox, pendingLinks: links.rows[0]?.n ?? 0 };
}
