import { createHash } from 'node:crypto';

/** prev_hash of the first event. */
export const GENESIS_HASH = '0'.repeat(64);

/** First element of every hashed array, so a future layout can never be confused with this one. */
export const HASH_LAYOUT = 'xray-audit-v1';

/** A stored event's fields as the hash sees them: everything in the row but `hash`. */
export interface HashedAuditFields {
  /** The bigserial id as a decimal string. */
  id: string;
  /** Millisecond precision (appends truncate the database clock to milliseconds). */
  at: Date;
  actorSub: string | null;
  actorRoles: string[];
  action: string;
  /** Lower-case UUID text, as PostgreSQL prints it. */
  xrayId: string | null;
  patientId: string | null;
  outcome: string;
  clientIp: string | null;
  userAgent: string | null;
  requestId: string | null;
  details: unknown;
  prevHash: string;
}

/** The fields known before an append; the id, the time and the previous hash are given under the chain lock. */
export type KnownAuditFields = Omit<HashedAuditFields, 'id' | 'at' | 'prevHash'>;

/**
 * RFC 8785 JSON Canonicalization Scheme (JCS) for the values an audit event holds: no
 * whitespace; object members sorted by their names' UTF-16 code units; strings and numbers
 * as ECMAScript's JSON.stringify writes them. Anything that is not JSON is refused rather
 * than silently dropped, so what is hashed is exactly what jsonb stores.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`audit details hold a non-finite number (${value})`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const members = Object.entries(value)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`);
    return `{${members.join(',')}}`;
  }
  throw new TypeError(`audit details hold a ${typeof value}, which JSON cannot represent`);
}

/**
 * The bytes an event's hash is computed over — the layout `xray-admin verify-audit` (or anyone
 * else) reproduces:
 *
 *   UTF-8( JCS( [ "xray-audit-v1", id, at, actor_sub, actor_roles, action, xray_id, patient_id,
 *                 outcome, client_ip, user_agent, request_id, details, prev_hash ] ) )
 *
 * - JCS = RFC 8785 (see canonicalJson): a JSON array, no whitespace, objects' members sorted.
 * - id: the bigserial as a decimal JSON string, e.g. "42".
 * - at: ISO 8601 UTC with exactly 3 fractional digits, e.g. "2026-11-27T08:15:00.123Z".
 * - actor_sub, xray_id (lower-case UUID), patient_id, client_ip, user_agent, request_id:
 *   JSON string, or null when absent.
 * - actor_roles: JSON array of strings in stored order (possibly []).
 * - action, outcome: JSON strings.
 * - details: the jsonb object, canonicalised (JCS).
 * - prev_hash: the previous event's hash as 64 lower-case hex characters; 64 "0"s for the first.
 *
 * hash = lower-case hex SHA-256 of those bytes.
 */
export function canonicalAuditBytes(f: HashedAuditFields): Buffer {
  const head = [HASH_LAYOUT, f.id, f.at.toISOString()].map(canonicalJson).join(',');
  return Buffer.from(`[${head},${canonicalMiddle(f)},${canonicalJson(f.prevHash)}]`, 'utf8');
}

/**
 * The part of canonicalAuditBytes the application knows before an append: the JCS of the fields
 * from actor_sub to details, comma-separated, without brackets. The SQL function audit_append
 * puts the id, the time and the previous hash around it under the chain lock and hashes the same
 * bytes (the id's digits, the ISO time and the hex hash need no JSON escaping).
 */
export function canonicalMiddle(f: KnownAuditFields): string {
  return [
    f.actorSub,
    f.actorRoles,
    f.action,
    f.xrayId,
    f.patientId,
    f.outcome,
    f.clientIp,
    f.userAgent,
    f.requestId,
    f.details,
  ]
    .map(canonicalJson)
    .join(',');
}

export function auditHash(f: HashedAuditFields): string {
  return createHash('sha256').update(canonicalAuditBytes(f)).digest('hex');
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * PostgreSQL text and jsonb cannot hold NUL, and UTF-8 cannot hold a lone surrogate: either
 * would be stored differently from what was hashed (or refused). Replace them with U+FFFD first.
 */
export const storable = (s: string): string => s.replaceAll('\u0000', '\uFFFD').replace(LONE_SURROGATE, '\uFFFD');

/**
 * `storable` applied to every string (and member name) inside a JSON value; members whose value
 * is undefined are dropped, as JSON.stringify would drop them on the way into jsonb.
 */
export function storableJson(value: unknown): unknown {
  if (typeof value === 'string') return storable(value);
  if (Array.isArray(value)) return value.map(storableJson);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [storable(k), storableJson(v)]),
    );
  }
  return value;
}
