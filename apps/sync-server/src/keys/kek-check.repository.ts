import type { Pool, PoolClient } from '../db/pool.ts';

type Queryable = Pool | PoolClient;

/** A stored data-key wrap and what it is bound to. */
export interface StoredWrap {
  xrayId: string;
  objectKey: string;
  wrapped: Uint8Array;
}

/** PostgreSQL access for the key check values (one per KEK id, written once). */
export const kekCheckRepository = {
  async find(db: Queryable, kekId: string): Promise<Buffer | null> {
    const { rows } = await db.query<{ check_value: Buffer }>(
      'SELECT check_value FROM kek_check_values WHERE kek_id = $1',
      [kekId],
    );
    return rows[0]?.check_value ?? null;
  },

  /** Records the check value unless one is recorded already; returns the one that is recorded now. */
  async record(db: Queryable, kekId: string, checkValue: Buffer): Promise<Buffer> {
    const { rows } = await db.query<{ check_value: Buffer }>(
      `INSERT INTO kek_check_values (kek_id, check_value) VALUES ($1, $2)
       ON CONFLICT (kek_id) DO NOTHING RETURNING check_value`,
      [kekId, checkValue],
    );
    return rows[0]?.check_value ?? (await kekCheckRepository.find(db, kekId)) ?? checkValue;
  },

  /** The KEK ids under which only bound wraps are accepted (written by `rotate-kek --finish`; never removed by the application). */
  async boundOnly(db: Queryable): Promise<string[]> {
    const { rows } = await db.query<{ kek_id: string }>('SELECT kek_id FROM kek_bound_only ORDER BY kek_id');
    return rows.map((r) => r.kek_id);
  },

  /** Records that only bound wraps are accepted under these KEK ids from now on. */
  async markBoundOnly(db: Queryable, kekIds: string[]): Promise<void> {
    await db.query('INSERT INTO kek_bound_only (kek_id) SELECT unnest($1::text[]) ON CONFLICT (kek_id) DO NOTHING', [
      kekIds,
    ]);
  },

  /** A few wraps made under `kekId` (current or previous ones), to try a KEK on before its check value is recorded. */
  async sampleWraps(db: Queryable, kekId: string, limit: number): Promise<StoredWrap[]> {
    const { rows } = await db.query<{ id: string; object_key: string; wrapped: Buffer }>(
      `(SELECT id, object_key, dek_wrapped AS wrapped FROM xrays WHERE kek_id = $1 LIMIT $2)
       UNION ALL
       (SELECT id, object_key, dek_wrapped_prev AS wrapped FROM xrays WHERE kek_id_prev = $1 LIMIT $2)`,
      [kekId, limit],
    );
    return rows.map((r) => ({ xrayId: r.id, objectKey: r.object_key, wrapped: new Uint8Array(r.wrapped) }));
  },
};
