import { createHash } from 'node:crypto';
import type { Link, Xray } from '@xray/shared';
import type { Pool, PoolClient } from '../db/pool.ts';
import { dicomUidConflictOf } from '../dicomweb/sop-uid-holder.ts';

type Queryable = Pool | PoolClient;

/** A stored X-ray: the API resource plus what only the server needs. */
export interface XrayRecord extends Xray {
  objectKey: string;
  /** The data key, wrapped by the KEK named kekId and bound to this X-ray and object (keys/dek-wrap.ts). */
  dekWrapped: Uint8Array;
  kekId: string;
  /** The wrap a KEK rotation replaced, kept until `rotate-kek --finish` (null otherwise). */
  previousWrap: { dekWrapped: Uint8Array; kekId: string } | null;
  /** Size of the stored XRE1 object. */
  cipherSize: number;
}

/** A row of `xrays` as pg returns it. */
export interface XrayRow {
  id: string;
  patient_id: string;
  consultation_id: string | null;
  captured_at: Date;
  captured_by_sub: string;
  captured_by_name: string | null;
  device_id: string | null;
  body_part: string;
  view: string;
  priority: Xray['priority'];
  notes: string | null;
  content_type: Xray['contentType'];
  size_bytes: number;
  sha256: string;
  dicom: Xray['dicom'];
  link: Link;
  identity: Xray['identity'];
  object_key: string;
  uploaded_at: Date;
  dek_wrapped: Buffer;
  kek_id: string;
  cipher_size: number;
  dek_wrapped_prev: Buffer | null;
  kek_id_prev: string | null;
  /** bigint: null only inside the transaction that inserts the row, until its change is numbered. */
  change_seq: string | null;
  /** Computed at read time (XRAY_CONFLICT_COLUMN), not stored. */
  dicom_uid_conflict: boolean;
}

/** Named, not `*`: the hot reads are prepared statements, and a column added later must not change their result type. */
export const XRAY_COLUMNS = [
  'id',
  'patient_id',
  'consultation_id',
  'captured_at',
  'captured_by_sub',
  'captured_by_name',
  'device_id',
  'body_part',
  'view',
  'priority',
  'notes',
  'content_type',
  'size_bytes',
  'sha256',
  'dicom',
  'link',
  'identity',
  'object_key',
  'uploaded_at',
  'dek_wrapped',
  'kek_id',
  'cipher_size',
  'dek_wrapped_prev',
  'kek_id_prev',
  'change_seq',
] as const satisfies readonly (keyof XrayRow)[];

/**
 * `dicom_uid_conflict`, computed where the row is read (`alias`: the row's name in the statement):
 * a delete of the X-ray holding the UID lifts it at once. One EXISTS on indexes.
 */
export const xrayConflictColumn = (alias = 'xrays'): string => `${dicomUidConflictOf(alias)} AS dicom_uid_conflict`;
const COLUMNS = `${XRAY_COLUMNS.join(', ')}, ${xrayConflictColumn()}`;
/** `*` and the computed column: what a write returns, the row as a read gives it. */
export const XRAY_ROW = `*, ${xrayConflictColumn()}`;

/** Reads run on every metadata request: prepared once per connection (PostgreSQL then skips parse and plan). */
const preparedNames = new Map<string, string>();
const prepared = (text: string, values: unknown[]) => {
  let name = preparedNames.get(text);
  if (!name) preparedNames.set(text, (name = `xray:${createHash('sha1').update(text).digest('base64url')}`));
  return { name, text, values };
};

export const toRecord = (r: XrayRow): XrayRecord => ({
  id: r.id,
  patientId: r.patient_id,
  consultationId: r.consultation_id,
  capturedAt: r.captured_at.toISOString(),
  capturedBy: { sub: r.captured_by_sub, name: r.captured_by_name },
  deviceId: r.device_id,
  bodyPart: r.body_part,
  view: r.view,
  priority: r.priority,
  notes: r.notes,
  contentType: r.content_type,
  sizeBytes: r.size_bytes,
  sha256: r.sha256,
  dicom: r.dicom,
  link: r.link,
  identity: r.identity,
  dicomUidConflict: r.dicom_uid_conflict,
  uploadedAt: r.uploaded_at.toISOString(),
  // Numbers stay below 2^53 (microseconds since 1970 until the year 2255): exact as a JSON number.
  changeSeq: Number(r.change_seq ?? 0),
  objectKey: r.object_key,
  dekWrapped: new Uint8Array(r.dek_wrapped),
  kekId: r.kek_id,
  cipherSize: r.cipher_size,
  previousWrap:
    r.dek_wrapped_prev && r.kek_id_prev
      ? { dekWrapped: new Uint8Array(r.dek_wrapped_prev), kekId: r.kek_id_prev }
      : null,
});

export type NewXray = Omit<XrayRecord, 'uploadedAt' | 'previousWrap' | 'changeSeq' | 'dicomUidConflict'>;

/** Where a page ends: by capture time (capturedAt, id), or by change sequence. */
export type ListPosition = { by: 'captured'; capturedAt: string; id: string } | { by: 'change'; seq: number };

/** A list's filters (XrayListQuery, its patient ids as an array) and where the previous page ended. */
export interface ListQuery {
  patientId?: string[];
  consultationId?: string;
  from?: string;
  to?: string;
  uploadedFrom?: string;
  uploadedTo?: string;
  changedSince?: number;
  /** The identity check's status (GET /xrays?identity=). */
  identity?: Xray['identity']['status'];
  order: 'asc' | 'desc';
  limit: number;
  capturedBy?: string;
  after?: ListPosition;
}

export interface ListPage {
  items: XrayRecord[];
  /** Where the last item is, when there may be more. */
  next: ListPosition | null;
}

/** PostgreSQL access for X-rays. Callers pass a transaction client when a write must be atomic with others. */
export const xrayRepository = {
  /**
   * Inserts; returns null when the id already exists (a concurrent or repeated upload). The upload
   * time is now, unless given (a row rebuilt by `xray-admin recover` keeps its recorded one).
   */
  async insert(db: Queryable, x: NewXray & { uploadedAt?: Date | string }): Promise<XrayRecord | null> {
    const { rows } = await db.query<XrayRow>(
      `INSERT INTO xrays (id, patient_id, consultation_id, captured_at, captured_by_sub, captured_by_name,
         device_id, body_part, view, priority, notes, content_type, size_bytes, sha256, dicom, link, object_key,
         dek_wrapped, kek_id, cipher_size, uploaded_at, identity)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20, coalesce($21::timestamptz, now()), $22)
       ON CONFLICT (id) DO NOTHING
       RETURNING ${XRAY_ROW}`,
      [
        x.id,
        x.patientId,
        x.consultationId,
        x.capturedAt,
        x.capturedBy.sub,
        x.capturedBy.name,
        x.deviceId,
        x.bodyPart,
        x.view,
        x.priority,
        x.notes,
        x.contentType,
        x.sizeBytes,
        x.sha256,
        x.dicom === null ? null : JSON.stringify(x.dicom),
        JSON.stringify(x.link),
        x.objectKey,
        Buffer.from(x.dekWrapped),
        x.kekId,
        x.cipherSize,
        x.uploadedAt ?? null,
        JSON.stringify(x.identity),
      ],
    );
    return rows[0] ? toRecord(rows[0]) : null;
  },

  async findById(db: Queryable, id: string): Promise<XrayRecord | null> {
    const { rows } = await db.query<XrayRow>(prepared(`SELECT ${COLUMNS} FROM xrays WHERE id = $1`, [id]));
    return rows[0] ? toRecord(rows[0]) : null;
  },

  /** Several at once, in no particular order (one statement for a batch of single reads). */
  async findManyById(db: Queryable, ids: readonly string[]): Promise<XrayRecord[]> {
    const { rows } = await db.query<XrayRow>(
      prepared(`SELECT ${COLUMNS} FROM xrays WHERE id = ANY($1::uuid[])`, [ids]),
    );
    return rows.map(toRecord);
  },

  /**
   * By capture time (captured_at, id) or, with `changedSince`, by change sequence; keyset
   * pagination on that order. A list by change sequence ascending misses nothing changed while it
   * is paged: numbers commit in order, so a change committed later sorts after every page read.
   */
  async list(db: Queryable, q: ListQuery): Promise<ListPage> {
    const where: string[] = [];
    const args: unknown[] = [];
    const arg = (v: unknown): string => {
      args.push(v);
      return `$${args.length}`;
    };
    if (q.patientId) where.push(`patient_id = ANY(${arg(q.patientId)}::text[])`);
    if (q.consultationId) where.push(`consultation_id = ${arg(q.consultationId)}`);
    if (q.from) where.push(`captured_at >= ${arg(q.from)}`);
    if (q.to) where.push(`captured_at < ${arg(q.to)}`);
    if (q.uploadedFrom) where.push(`uploaded_at >= ${arg(q.uploadedFrom)}`);
    if (q.uploadedTo) where.push(`uploaded_at < ${arg(q.uploadedTo)}`);
    if (q.capturedBy) where.push(`captured_by_sub = ${arg(q.capturedBy)}`);
    if (q.identity) where.push(`identity->>'status' = ${arg(q.identity)}`);
    const byChange = q.changedSince !== undefined;
    const [cmp, dir] = q.order === 'asc' ? ['>', 'ASC'] : ['<', 'DESC'];
    if (byChange) where.push(`change_seq > ${arg(q.changedSince)}`);
    if (q.after?.by === 'change') where.push(`change_seq ${cmp} ${arg(q.after.seq)}`);
    if (q.after?.by === 'captured')
      where.push(`(captured_at, id) ${cmp} (${arg(q.after.capturedAt)}, ${arg(q.after.id)})`);
    const order = byChange ? `change_seq ${dir}` : `captured_at ${dir}, id ${dir}`;
    const { rows } = await db.query<XrayRow>(
      prepared(
        `SELECT ${COLUMNS} FROM xrays ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY ${order} LIMIT ${arg(q.limit + 1)}`,
        args,
      ),
    );
    const items = rows.slice(0, q.limit).map(toRecord);
    const last = items[items.length - 1];
    if (rows.length <= q.limit || !last) return { items, next: null };
    return {
      items,
      next: byChange
        ? { by: 'change', seq: last.changeSeq }
        : { by: 'captured', capturedAt: last.capturedAt, id: last.id },
    };
  },

  /** Deletes and returns the row (so the caller can remove its object), or null. */
  async delete(db: Queryable, id: string): Promise<XrayRecord | null> {
    const { rows } = await db.query<XrayRow>(`DELETE FROM xrays WHERE id = $1 RETURNING ${XRAY_ROW}`, [id]);
    // The finished upload it came through goes too: its bytes were the X-ray's object.
    // Its finished uploads go with it; another user's unfinished upload naming this id stays theirs.
    if (rows[0]) await db.query('DELETE FROM tus_uploads WHERE xray_id = $1 AND finalized_at IS NOT NULL', [id]);
    return rows[0] ? toRecord(rows[0]) : null;
  },
};

/** The resource without server-only fields. */
export function toResource(r: XrayRecord): Xray {
  const {
    objectKey: _objectKey,
    dekWrapped: _dek,
    kekId: _kek,
    cipherSize: _cipherSize,
    previousWrap: _previousWrap,
    ...resource
  } = r;
  return resource;
}
