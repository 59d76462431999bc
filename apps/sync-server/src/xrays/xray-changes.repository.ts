import type { ChangeKind } from '@xray/shared';
import type { Pool, PoolClient } from '../db/pool.ts';
import { DomainError } from '../errors.ts';
import { XRAY_COLUMNS, toRecord, xrayConflictColumn, type XrayRecord, type XrayRow } from './xray.repository.ts';

type Queryable = Pool | PoolClient;

/** What record_xray_change raises when a creation meets the tombstone of its id. */
const DELETED_SQLSTATE = 'XR410';

/** The refusal of a late upload of a deleted X-ray, on every door. */
export const xrayDeleted = (id: string): DomainError =>
  new DomainError(
    'xray_deleted',
    `X-ray ${id} was deleted; its id cannot be stored again. Nothing was stored: do not send it again.`,
  );

export interface ChangeEntry {
  seq: number;
  kind: ChangeKind;
  xrayId: string;
  at: string;
  /** The X-ray as it is now; null once deleted. */
  xray: XrayRecord | null;
}

/**
 * The change log (migration 1732680011001_xray_changes.sql): one numbered row per change of an
 * X-ray, deletions kept for good as tombstones.
 */
export const xrayChangeRepository = {
  /**
   * Numbers a change inside its transaction: one statement that takes the next number (holding the
   * counter's row lock until COMMIT, so numbers commit in order), logs the change and, unless it is
   * a deletion, stamps the X-ray's change_seq. Call it late (the lock serializes every writer
   * until COMMIT), before the outbox events that carry the number. A creation whose id has a
   * tombstone is refused (410 `xray_deleted`), even one that raced the deletion.
   */
  async record(
    tx: PoolClient,
    c: { xrayId: string; kind: ChangeKind; actorSub: string | null; ownerSub: string },
  ): Promise<number> {
    try {
      const { rows } = await tx.query<{ seq: string }>('SELECT record_xray_change($1, $2, $3, $4) AS seq', [
        c.xrayId,
        c.kind,
        c.actorSub,
        c.ownerSub,
      ]);
      return Number(rows[0]!.seq);
    } catch (err) {
      if ((err as { code?: unknown }).code === DELETED_SQLSTATE) throw xrayDeleted(c.xrayId);
      throw err;
    }
  },

  /**
   * What a client-chosen id stands for before an upload under it begins, in one statement: the
   * stored X-ray, or the tombstone of a deleted one (whose capture it was), or neither.
   */
  async findForUpload(
    db: Queryable,
    id: string,
  ): Promise<{ xray: XrayRecord | null; tombstone: { ownerSub: string } | null }> {
    const { rows } = await db.query<XrayRow & { present: boolean; deleted_owner: string | null }>(
      `SELECT x.id IS NOT NULL AS present, ${XRAY_COLUMNS.map((col) => `x.${col}`).join(', ')}, ${xrayConflictColumn('x')},
              (SELECT owner_sub FROM xray_changes WHERE xray_id = $1 AND kind = 'deleted') AS deleted_owner
         FROM (SELECT 1) one LEFT JOIN xrays x ON x.id = $1`,
      [id],
    );
    const r = rows[0];
    return {
      xray: r?.present ? toRecord(r) : null,
      tombstone: r?.deleted_owner != null ? { ownerSub: r.deleted_owner } : null,
    };
  },

  /** Whether X-ray `id` was deleted (its tombstone). */
  async isDeleted(db: Queryable, id: string): Promise<boolean> {
    const { rowCount } = await db.query(`SELECT 1 FROM xray_changes WHERE xray_id = $1 AND kind = 'deleted'`, [id]);
    return (rowCount ?? 0) > 0;
  },

  /**
   * Changes numbered above `after`, in order, each with the X-ray as it is now; `ownerSub`
   * confines them to one paramedic's captures. One statement.
   */
  async page(db: Queryable, q: { after: number; limit: number; ownerSub?: string }): Promise<ChangeEntry[]> {
    const args: unknown[] = [q.after, q.limit];
    if (q.ownerSub !== undefined) args.push(q.ownerSub);
    // The X-ray's columns are all null when it is gone (`present` says which).
    const { rows } = await db.query<
      XrayRow & { seq: string; kind: ChangeKind; xray_id: string; at: Date; present: boolean }
    >(
      `SELECT c.seq, c.kind, c.xray_id, c.at, x.id IS NOT NULL AS present,
              ${XRAY_COLUMNS.map((col) => `x.${col}`).join(', ')}, ${xrayConflictColumn('x')}
         FROM xray_changes c LEFT JOIN xrays x ON x.id = c.xray_id AND c.kind <> 'deleted'
        WHERE c.seq > $1 ${q.ownerSub !== undefined ? 'AND c.owner_sub = $3' : ''}
        ORDER BY c.seq LIMIT $2`,
      args,
    );
    return rows.map((r) => ({
      seq: Number(r.seq),
      kind: r.kind,
      xrayId: r.xray_id,
      at: r.at.toISOString(),
      xray: r.present ? toRecord(r) : null,
    }));
  },
};
