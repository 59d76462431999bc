import type { JWK } from 'jose';
import type { Pool } from '../db/pool.ts';

export interface DeviceRow {
  id: string;
  name: string;
  enrolled_by: string;
  enrolled_at: Date;
  last_seen_at: Date;
  app_version: string | null;
  public_jwk: JWK;
  jkt: string;
  revoked_at: Date | null;
  revoked_by: string | null;
  revoke_reason: string | null;
  wiped_at: Date | null;
  wipe_report: Record<string, unknown> | null;
}

/** How often a device's last_seen_at is written at most (it is read by people, not to the second). */
const LAST_SEEN_RESOLUTION_S = 60;

/** Enrolled devices and the DPoP proof ids already used, shared by every instance. */
export const deviceRepository = {
  /**
   * Enrolls the key, or returns the device already enrolled with it (idempotent for one key).
   * `created` says which.
   */
  async enroll(
    db: Pool,
    d: { id: string; name: string; enrolledBy: string; appVersion: string | null; jwk: JWK; jkt: string },
  ): Promise<{ row: DeviceRow; created: boolean }> {
    const inserted = await db.query<DeviceRow>(
      `INSERT INTO devices (id, name, enrolled_by, app_version, public_jwk, jkt)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (jkt) DO NOTHING RETURNING *`,
      [d.id, d.name, d.enrolledBy, d.appVersion, JSON.stringify(d.jwk), d.jkt],
    );
    if (inserted.rows[0]) return { row: inserted.rows[0], created: true };
    const existing = await this.findByJkt(db, d.jkt);
    if (!existing) throw new Error('device enrollment raced with a deletion');
    return { row: existing, created: false };
  },
  async findByJkt(db: Pool, jkt: string): Promise<DeviceRow | null> {
    const { rows } = await db.query<DeviceRow>('SELECT * FROM devices WHERE jkt = $1', [jkt]);
    return rows[0] ?? null;
  },
  async find(db: Pool, id: string): Promise<DeviceRow | null> {
    const { rows } = await db.query<DeviceRow>('SELECT * FROM devices WHERE id = $1', [id]);
    return rows[0] ?? null;
  },
  async list(db: Pool): Promise<DeviceRow[]> {
    const { rows } = await db.query<DeviceRow>('SELECT * FROM devices ORDER BY enrolled_at DESC, id');
    return rows;
  },
  /** Revokes the device: the row revoked, or null when it was revoked already (the first revocation stands). */
  async revoke(db: Pool, id: string, by: string, reason: string): Promise<DeviceRow | null> {
    const { rows } = await db.query<DeviceRow>(
      'UPDATE devices SET revoked_at = now(), revoked_by = $2, revoke_reason = $3 WHERE id = $1 AND revoked_at IS NULL RETURNING *',
      [id, by, reason],
    );
    return rows[0] ?? null;
  },
  async recordWipe(db: Pool, id: string, report: Record<string, unknown>): Promise<void> {
    await db.query('UPDATE devices SET wiped_at = coalesce(wiped_at, now()), wipe_report = $2 WHERE id = $1', [
      id,
      JSON.stringify(report),
    ]);
  },
  /** Unfinished uploads the device began (revoking it ends them). */
  async openUploads(db: Pool, id: string): Promise<{ id: string; xray_id: string; object_key: string }[]> {
    const { rows } = await db.query<{ id: string; xray_id: string; object_key: string }>(
      'SELECT id, xray_id, object_key FROM tus_uploads WHERE device_id = $1 AND finalized_at IS NULL',
      [id],
    );
    return rows;
  },
};

/** When to forget the proof ids seen: at most once a minute per instance, a sweep of the expired ones. */
const SWEEP_EVERY_MS = 60_000;
/**
 * Kept this long past their expiry: instances' clocks differ from the database's, and a window
 * raised during a rolling update makes some instances accept older proofs than the others expect.
 */
const SWEEP_MARGIN_S = 600;

/**
 * DPoP proof ids already accepted, in PostgreSQL so that every instance refuses a replay; and the
 * device the proof's key belongs to, read in the same statement on every request that proves one
 * (so a revocation holds at once on every instance).
 */
export class DpopReplayCache {
  #lastSweep = 0;
  constructor(
    private readonly db: Pool,
    private readonly windowS: number,
  ) {}

  /**
   * Remembers the proof: `firstUse` is false when it was seen before (by any instance). Also the
   * enrolled device of its key, if any, whose last_seen_at is moved on the way (for a first use).
   */
  async use(
    jkt: string,
    jti: string,
    iat: number,
  ): Promise<{ firstUse: boolean; device: { id: string; revoked_at: Date | null } | null }> {
    // Kept until the proof's iat is outside the window for good: it could not pass again anyway.
    const expiresAt = new Date((iat + this.windowS + 1) * 1000);
    const { rows } = await this.db.query<{ first_use: boolean; id: string | null; revoked_at: Date | null }>(
      `WITH proof AS (
              INSERT INTO dpop_proofs (jkt, jti, expires_at) VALUES ($1, $2, $3)
              ON CONFLICT DO NOTHING RETURNING 1),
            hit AS (SELECT id, revoked_at, last_seen_at FROM devices WHERE jkt = $1),
            seen AS (
              UPDATE devices d SET last_seen_at = now() FROM hit
               WHERE d.id = hit.id AND hit.revoked_at IS NULL AND EXISTS (SELECT 1 FROM proof)
                 AND hit.last_seen_at < now() - ($4::int * interval '1 second'))
       SELECT EXISTS (SELECT 1 FROM proof) AS first_use, hit.id, hit.revoked_at
         FROM (VALUES (1)) AS one LEFT JOIN hit ON true`,
      [jkt, jti, expiresAt, LAST_SEEN_RESOLUTION_S],
    );
    if (Date.now() - this.#lastSweep > SWEEP_EVERY_MS) {
      this.#lastSweep = Date.now();
      await this.db.query(
        `DELETE FROM dpop_proofs WHERE expires_at < now() - make_interval(secs => ${SWEEP_MARGIN_S})`,
      );
    }
    const row = rows[0];
    return {
      firstUse: row?.first_use === true,
      device: row?.id ? { id: row.id, revoked_at: row.revoked_at } : null,
    };
  }
}
