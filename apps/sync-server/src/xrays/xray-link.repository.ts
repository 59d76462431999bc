import type { Identity, Link } from '@xray/shared';
import type { Pool, PoolClient } from '../db/pool.ts';
import { toRecord, XRAY_ROW, type XrayRecord, type XrayRow } from './xray.repository.ts';

type Queryable = Pool | PoolClient;

/** The fields PATCH /xrays/{id} may change, plus the link they imply. */
export interface XrayCorrection {
  patientId: string;
  consultationId: string | null;
  bodyPart: string;
  view: string;
  notes: string | null;
  link: Link;
  /** The identity check against the (possibly new) patient. */
  identity: Identity;
}

export interface PendingLink {
  id: string;
  patientId: string;
  consultationId: string | null;
  attempts: number;
}

/**
 * Writes to an X-ray's correctable fields and its link. A pending link carries link_recheck_at
 * (when the background checker looks again); any other status clears it.
 */
export const xrayLinkRepository = {
  /** The row, locked until the transaction ends (concurrent corrections and link settlements queue). */
  async lockById(tx: PoolClient, id: string): Promise<XrayRecord | null> {
    const { rows } = await tx.query<XrayRow>(`SELECT ${XRAY_ROW} FROM xrays WHERE id = $1 FOR UPDATE`, [id]);
    return rows[0] ? toRecord(rows[0]) : null;
  },

  async update(tx: PoolClient, id: string, c: XrayCorrection): Promise<XrayRecord> {
    const { rows } = await tx.query<XrayRow>(
      `UPDATE xrays SET patient_id = $2, consultation_id = $3, body_part = $4, view = $5, notes = $6, link = $7,
         link_recheck_at = CASE WHEN $7::jsonb->>'status' = 'pending' THEN now() ELSE NULL END, link_attempts = 0,
         identity = $8
       WHERE id = $1 RETURNING ${XRAY_ROW}`,
      [
        id,
        c.patientId,
        c.consultationId,
        c.bodyPart,
        c.view,
        c.notes,
        JSON.stringify(c.link),
        JSON.stringify(c.identity),
      ],
    );
    const row = rows[0];
    if (!row) throw new Error(`X-ray ${id} vanished while locked`);
    return toRecord(row);
  },

  /** A freshly stored X-ray whose link is pending: due for the background checker now. */
  async schedulePending(tx: PoolClient, id: string): Promise<void> {
    await tx.query(
      `UPDATE xrays SET link_recheck_at = now(), link_attempts = 0 WHERE id = $1 AND link->>'status' = 'pending'`,
      [id],
    );
  },

  /**
   * Claims pending links that are due, skipping rows other instances hold (FOR UPDATE SKIP
   * LOCKED), and pushes their next check past `leaseMs` so no one else checks them meanwhile.
   */
  async claimDue(db: Queryable, limit: number, leaseMs: number): Promise<PendingLink[]> {
    const { rows } = await db.query<{
      id: string;
      patient_id: string;
      consultation_id: string | null;
      link_attempts: number;
    }>(
      `UPDATE xrays x SET link_recheck_at = now() + $2 * interval '1 millisecond'
       FROM (SELECT id FROM xrays WHERE link_recheck_at <= now() ORDER BY link_recheck_at LIMIT $1
             FOR UPDATE SKIP LOCKED) due
       WHERE x.id = due.id
       RETURNING x.id, x.patient_id, x.consultation_id, x.link_attempts`,
      [limit, leaseMs],
    );
    return rows.map((r) => ({
      id: r.id,
      patientId: r.patient_id,
      consultationId: r.consultation_id,
      attempts: r.link_attempts,
    }));
  },

  /** Still unreachable: look again after `delayMs`, unless the X-ray changed meanwhile. */
  async defer(db: Queryable, p: PendingLink, delayMs: number): Promise<void> {
    await db.query(
      `UPDATE xrays SET link_attempts = link_attempts + 1, link_recheck_at = now() + $4 * interval '1 millisecond'
       WHERE id = $1 AND patient_id = $2 AND consultation_id IS NOT DISTINCT FROM $3 AND link->>'status' = 'pending'`,
      [p.id, p.patientId, p.consultationId, delayMs],
    );
  },

  /** A settled link, and the identity check decided again with the record it brought. */
  async setLink(tx: PoolClient, id: string, link: Link, identity: Identity): Promise<XrayRecord> {
    const { rows } = await tx.query<XrayRow>(
      `UPDATE xrays SET link = $2, identity = $3, link_recheck_at = NULL, link_attempts = 0 WHERE id = $1 RETURNING ${XRAY_ROW}`,
      [id, JSON.stringify(link), JSON.stringify(identity)],
    );
    const row = rows[0];
    if (!row) throw new Error(`X-ray ${id} vanished while locked`);
    return toRecord(row);
  },
};
