import { UPLOAD_PROBLEM_CODES, XrayIdSchema } from '@xray/shared';
import { inTransaction, type Pool } from '../db/pool.ts';
import { DomainError } from '../errors.ts';

/** How much one user may hold unfinished at once (uploads, and the bytes they announce). */
export interface UploadCaps {
  maxOpen: number;
  maxReservedBytes: number;
  /** Older unfinished uploads have expired and do not count. */
  expiryMs: number;
}

const RETRY_AFTER_OPEN_S = 60;

export interface TusUploadRow {
  id: string;
  xray_id: string;
  owner_sub: string;
  upload_length: number;
  object_key: string;
  finalized_at: Date | null;
  /** The upload's X-ray fields (null for uploads begun before they were kept here). */
  metadata: Record<string, unknown> | null;
  /** The enrolled device that began it, if any: revoking that device ends it. */
  device_id: string | null;
}

/** Who may continue an upload and what became of it, shared by every instance. */
export const tusUploadRepository = {
  /**
   * Records a new upload if its owner stays within `caps`; otherwise throws the problem to answer
   * (429 for too many uploads, 413 for too many bytes) and records nothing. Concurrent creations by
   * one user are counted one after the other (a transaction-scoped advisory lock on the user).
   */
  async insertWithinCaps(db: Pool, row: Omit<TusUploadRow, 'finalized_at'>, caps: UploadCaps): Promise<void> {
    await inTransaction(db, async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock(hashtextextended('tus-owner:' || $1, 0))", [row.owner_sub]);
      // Counted and inserted in one statement, after the lock (its snapshot sees every creation
      // that held the lock before): one round trip fewer per creation.
      const { rows } = await tx.query<{ open: number; reserved: string; inserted: number }>(
        `WITH held AS (
           SELECT count(*)::int AS open, coalesce(sum(upload_length), 0)::bigint AS reserved
             FROM tus_uploads
            WHERE owner_sub = $3 AND finalized_at IS NULL
              AND created_at >= now() - ($8::double precision * interval '1 millisecond')
         ), inserted AS (
           INSERT INTO tus_uploads (id, xray_id, owner_sub, upload_length, object_key, metadata, device_id)
           SELECT $1::text, $2::uuid, $3::text, $4::bigint, $5::text, $6::jsonb, $7::uuid FROM held
            WHERE held.open < $9::int AND held.reserved + $4::bigint <= $10::bigint
           RETURNING 1
         )
         SELECT open, reserved::text AS reserved, (SELECT count(*) FROM inserted)::int AS inserted FROM held`,
        [
          row.id,
          row.xray_id,
          row.owner_sub,
          row.upload_length,
          row.object_key,
          row.metadata,
          row.device_id,
          caps.expiryMs,
          caps.maxOpen,
          caps.maxReservedBytes,
        ],
      );
      if (rows[0]?.inserted === 1) return;
      const open = rows[0]?.open ?? 0;
      const reserved = Number(rows[0]?.reserved ?? 0);
      if (open >= caps.maxOpen) {
        throw new DomainError(
          UPLOAD_PROBLEM_CODES.tooMany,
          `You have ${open} unfinished uploads, the most allowed; finish or cancel one, then try again.`,
          undefined,
          { retryAfterS: RETRY_AFTER_OPEN_S },
        );
      }
      throw new DomainError(
        'payload_too_large',
        `Your unfinished uploads announce ${reserved} bytes; ${row.upload_length} more would pass the limit of ${caps.maxReservedBytes}. Finish or cancel one first.`,
      );
    });
  },
  /** The size of a finished upload, or null when the upload is not finished (or unknown). */
  async finishedSize(db: Pool, id: string): Promise<number | null> {
    const { rows } = await db.query<{ upload_length: string }>(
      'SELECT upload_length FROM tus_uploads WHERE id = $1 AND finalized_at IS NOT NULL',
      [id],
    );
    return rows[0] ? Number(rows[0].upload_length) : null;
  },
  async find(db: Pool, id: string): Promise<TusUploadRow | null> {
    const { rows } = await db.query<TusUploadRow>('SELECT * FROM tus_uploads WHERE id = $1', [id]);
    return rows[0] ?? null;
  },
  async findFinalizedFor(db: Pool, xrayId: string): Promise<TusUploadRow | null> {
    const { rows } = await db.query<TusUploadRow>(
      'SELECT * FROM tus_uploads WHERE xray_id = $1 AND finalized_at IS NOT NULL ORDER BY finalized_at LIMIT 1',
      [xrayId],
    );
    return rows[0] ?? null;
  },
  /**
   * A finished "upload" at the X-ray's own id, for an X-ray that came through POST /xrays: what a
   * tus client that re-creates such an X-ray is pointed at. Shaped like a row.
   */
  async standInFor(db: Pool, xrayId: string): Promise<TusUploadRow | null> {
    if (!XrayIdSchema.safeParse(xrayId).success) return null;
    const { rows } = await db.query<TusUploadRow>(
      `SELECT id::text AS id, id AS xray_id, captured_by_sub AS owner_sub, cipher_size AS upload_length,
              object_key, uploaded_at AS finalized_at, NULL::jsonb AS metadata
         FROM xrays WHERE id = $1`,
      [xrayId],
    );
    return rows[0] ?? null;
  },
  /** Counts one write to the upload (under its lock); the new count, or null when there is no such upload. */
  async countWrite(db: Pool, id: string): Promise<number | null> {
    const { rows } = await db.query<{ writes: string }>(
      'UPDATE tus_uploads SET writes = writes + 1 WHERE id = $1 RETURNING writes',
      [id],
    );
    return rows[0] ? Number(rows[0].writes) : null;
  },
  async markFinalized(db: Pool, id: string): Promise<void> {
    await db.query('UPDATE tus_uploads SET finalized_at = now() WHERE id = $1', [id]);
  },
  /** Removes an unfinished upload's row (a finished one stays: it answers a lost final response). */
  async deleteUnfinished(db: Pool, id: string): Promise<void> {
    await db.query('DELETE FROM tus_uploads WHERE id = $1 AND finalized_at IS NULL', [id]);
  },
  async listExpired(db: Pool, olderThanMs: number): Promise<TusUploadRow[]> {
    const { rows } = await db.query<TusUploadRow>(
      `SELECT * FROM tus_uploads WHERE finalized_at IS NULL AND created_at < now() - ($1::double precision * interval '1 millisecond')`,
      [olderThanMs],
    );
    return rows;
  },
};
