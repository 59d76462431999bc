import { XrayIdSchema } from '@xray/shared';
import type { Pool } from '../db/pool.ts';

export interface TusUploadRow {
  id: string;
  xray_id: string;
  owner_sub: string;
  upload_length: number;
  object_key: string;
  finalized_at: Date | null;
}

/** Who may continue an upload and what became of it, shared by every instance. */
export const tusUploadRepository = {
  async insert(db: Pool, row: Omit<TusUploadRow, 'finalized_at'>): Promise<void> {
    await db.query(
      'INSERT INTO tus_uploads (id, xray_id, owner_sub, upload_length, object_key) VALUES ($1,$2,$3,$4,$5)',
      [row.id, row.xray_id, row.owner_sub, row.upload_length, row.object_key],
    );
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
  /** A finished "upload" for an X-ray that came through POST /xrays, shaped like a row. */
  async standInFor(db: Pool, xrayId: string): Promise<TusUploadRow | null> {
    if (!XrayIdSchema.safeParse(xrayId).success) return null;
    const { rows } = await db.query<TusUploadRow>(
      `SELECT 'done-' || id AS id, id AS xray_id, captured_by_sub AS owner_sub, size_bytes AS upload_length,
              object_key, uploaded_at AS finalized_at
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
  async delete(db: Pool, id: string): Promise<void> {
    await db.query('DELETE FROM tus_uploads WHERE id = $1', [id]);
  },
  async listExpired(db: Pool, olderThanMs: number): Promise<TusUploadRow[]> {
    const { rows } = await db.query<TusUploadRow>(
      `SELECT * FROM tus_uploads WHERE finalized_at IS NULL AND created_at < now() - ($1::double precision * interval '1 millisecond')`,
      [olderThanMs],
    );
    return rows;
  },
  /** Unfinished uploads older than the expiry (their stored parts are removed by the tus store). */
  async deleteExpired(db: Pool, olderThanMs: number): Promise<number> {
    const { rowCount } = await db.query(
      `DELETE FROM tus_uploads WHERE finalized_at IS NULL AND created_at < now() - ($1::double precision * interval '1 millisecond')`,
      [olderThanMs],
    );
    return rowCount ?? 0;
  },
};
