import type { DicomJsonDataset } from '@xray/shared';
import { inTransaction, type Pool, type PoolClient } from '../db/pool.ts';
import type { DicomIndexEntry, InstanceUids } from './dicom-index.ts';
import type { Match, QidoLevel, QidoQuery } from './qido-query.ts';
import { FIRST_FILE_WINDOW, firstFileUnder, LOCK_SOP_UID } from './sop-uid-holder.ts';

type Queryable = Pool | PoolClient;

/** Who may be shown what: `capturedBy` confines a paramedic to their own X-rays (policy listScope). */
export interface IndexScope {
  capturedBy?: string;
}

/** One instance as WADO-RS serves it. */
export interface IndexedInstance {
  xrayId: string;
  studyUid: string;
  seriesUid: string;
  sopUid: string;
  transferSyntaxUid: string;
  seriesNumber: number | null;
  instanceNumber: number | null;
  header: DicomJsonDataset;
  /**
   * False when the header read ended before the pixel data: a file with none, or a row indexed
   * from the 64 KiB prefix read before headers were read whole (attributes past it missing) until
   * `xray-admin dicom-index` reads it again.
   */
  headerComplete: boolean;
  /** The X-ray's patient (the audit names it) and who captured it (the policy judges on it). */
  patientId: string;
  /** The X-ray's identity check status (consistent, mismatch, unknown): DICOMweb warns of a mismatch. */
  identityStatus: string;
  capturedBy: { sub: string };
}

/** One QIDO-RS result: the header of the study's, series' or instance's first instance, and what it counts. */
export interface SearchHit {
  header: DicomJsonDataset;
  /** The transfer syntax the (first) instance is stored in. */
  transferSyntaxUid: string;
  /** Every X-ray the result discloses (its instances, counted or listed): the audit names them. */
  xrayIds: string[];
  seriesCount: number;
  instanceCount: number;
  modalities: string[];
  /** The patient the service linked the (first) instance's X-ray to, and its identity status. */
  patientId: string;
  identityStatus: string;
}

interface InstanceRow {
  xray_id: string;
  study_uid: string;
  series_uid: string;
  sop_uid: string;
  transfer_syntax_uid: string;
  series_number: number | null;
  instance_number: number | null;
  header: DicomJsonDataset;
  header_complete: boolean;
  xray_patient_id: string;
  identity_status: string;
  captured_by_sub: string;
}

interface HitRow {
  header: DicomJsonDataset;
  transfer_syntax_uid: string;
  xray_ids: string[];
  series_count: number;
  instance_count: number;
  modalities: string[] | null;
  xray_patient_id: string;
  identity_status: string;
}

/** Builds the SQL of a query with numbered parameters. */
class Sql {
  readonly args: unknown[] = [];
  arg(v: unknown): string {
    this.args.push(v);
    return `$${this.args.length}`;
  }
}

/** What `visible` gives of each instance: the columns QIDO-RS matches, orders and groups by (after xray_id, an index entry's first columns). */
const VISIBLE_COLUMNS = [
  'xray_id',
  'study_uid',
  'series_uid',
  'sop_uid',
  'sop_class_uid',
  'patient_id',
  'patient_name',
  'patient_birth_date',
  'patient_sex',
  'study_date',
  'study_time',
  'accession_number',
  'modality',
  'study_description',
  'series_description',
  'series_number',
  'instance_number',
  'referring_physician_name',
  'study_id',
] as const;

/**
 * The instances the caller may see: per SOP Instance UID, the file stored first under it
 * (sop-uid-holder.ts; other bytes stored later under the UID are not served: a viewer would show
 * one file's pixels under another's header), once per linked patient (the same file stored twice
 * for one patient is one instance, the latest stored; stored for two patients, it is found under
 * each, the conflict in view). Which file holds a UID is judged over every X-ray, then the scope
 * applies: a paramedic never sees their later file under someone else's UID either. Matching
 * columns only; headers are joined for the results. PatientID matches the patient the X-ray is
 * linked to (xrays.patient_id, corrected by PATCH), not the file's (linked-patient.ts).
 */
function visible(sql: Sql, scope: IndexScope, candidates?: readonly string[]): string {
  const inner = VISIBLE_COLUMNS.map((c) => (c === 'patient_id' ? 'x.patient_id' : `d.${c}`)).join(', ');
  // The holder is judged over every instance under a UID (the window), the scope applies after it;
  // a paramedic's statement reads only the UIDs of their own instances, not everyone's, and a
  // search only those of the groups it can find (candidateUids), not the whole index.
  const mine = scope.capturedBy === undefined ? undefined : sql.arg(scope.capturedBy);
  const restrictions = [
    mine === undefined
      ? undefined
      : `d.sop_uid IN (SELECT md.sop_uid FROM dicom_instances md JOIN xrays mx ON mx.id = md.xray_id
                        WHERE mx.captured_by_sub = ${mine})`,
    candidates === undefined ? undefined : `d.sop_uid = ANY(${sql.arg(candidates)}::text[])`,
  ].filter((r) => r !== undefined);
  const uids = restrictions.length ? `WHERE ${restrictions.join(' AND ')}` : '';
  return `SELECT DISTINCT ON (a.sop_uid, a.patient_id) ${VISIBLE_COLUMNS.map((c) => `a.${c}`).join(', ')}
       FROM (SELECT ${inner}, x.uploaded_at, x.captured_by_sub, x.sha256, ${FIRST_FILE_WINDOW} AS holder
               FROM dicom_instances d JOIN xrays x ON x.id = d.xray_id ${uids}) a
      WHERE a.sha256 = a.holder ${mine === undefined ? '' : `AND a.captured_by_sub = ${mine}`}
      ORDER BY a.sop_uid, a.patient_id, a.uploaded_at DESC, a.xray_id`;
}

/** How a condition names a column: `visible`'s (`v.`), or an index row's before the holder is judged. */
type ColumnOf = (column: Match['column']) => string;
const ofVisible: ColumnOf = (c) => `v.${c}`;
/** dicom_instances `md` joined to its X-ray `mx`: PatientID matches the linked patient (linked-patient.ts). */
const ofIndexRow: ColumnOf = (c) => (c === 'patient_id' ? 'mx.patient_id' : `md.${c}`);

function condition(sql: Sql, m: Match, columnOf: ColumnOf): string {
  const col = columnOf(m.column);
  switch (m.kind) {
    case 'any':
      return m.caseInsensitive
        ? `lower(${col}) = ANY(${sql.arg(m.values.map((v) => v.toLowerCase()))}::text[])`
        : `${col} = ANY(${sql.arg(m.values)}::text[])`;
    case 'like':
      return `${col} ${m.caseInsensitive ? 'ILIKE' : 'LIKE'} ${sql.arg(m.pattern)} ESCAPE '\\'`;
    case 'range':
      return [
        m.from === null ? undefined : `${col} >= ${sql.arg(m.from)}`,
        m.to === null ? undefined : `${col} <= ${sql.arg(m.to)}`,
      ]
        .filter(Boolean)
        .join(' AND ');
    case 'integer':
      return `${col} = ${sql.arg(m.value)}`;
  }
}

const conditionsOf = (sql: Sql, matches: readonly Match[], columnOf: ColumnOf = ofVisible): string =>
  matches.length ? matches.map((m) => `(${condition(sql, m, columnOf)})`).join(' AND ') : 'TRUE';

/** Past this many candidate UIDs a search judges the holder over the whole index (one sort is then cheaper). */
const QIDO_CANDIDATE_CAP = 10_000;

/**
 * The SOP Instance UIDs a search at `level` can touch: those of every instance in a group (the
 * study, the series, or the instance itself) with an index row that matches. A superset of what
 * it finds (holder and scope are judged after, on these UIDs' every row), so the window that
 * judges the holder sorts these rows, not the whole index; every instance of such a group is in,
 * so the group's counts stay whole. Asked first, on its own: handed to the search as an array, its
 * size is known to the planner, which then reads these UIDs' rows by index. Undefined when every
 * group can be found (nothing matched, or more than QIDO_CANDIDATE_CAP UIDs).
 */
async function candidateUids(
  db: Queryable,
  level: QidoLevel,
  matches: readonly Match[],
): Promise<string[] | undefined> {
  if (matches.length === 0) return undefined;
  const sql = new Sql();
  // The X-ray joined only to match its linked patient: a join less to plan on every other search.
  const linked = matches.some((m) => m.column === 'patient_id') ? 'JOIN xrays mx ON mx.id = md.xray_id' : '';
  const hits = `FROM dicom_instances md ${linked} WHERE ${conditionsOf(sql, matches, ofIndexRow)}`;
  const text =
    level === 'instance'
      ? `SELECT DISTINCT md.sop_uid ${hits}`
      : level === 'series'
        ? `SELECT DISTINCT gd.sop_uid FROM dicom_instances gd
            WHERE (gd.study_uid, gd.series_uid) IN (SELECT md.study_uid, md.series_uid ${hits})`
        : `SELECT DISTINCT gd.sop_uid FROM dicom_instances gd WHERE gd.study_uid IN (SELECT md.study_uid ${hits})`;
  const { rows } = await db.query<{ sop_uid: string }>(`${text} LIMIT ${QIDO_CANDIDATE_CAP + 1}`, sql.args);
  return rows.length > QIDO_CANDIDATE_CAP ? undefined : rows.map((r) => r.sop_uid);
}

const toInstance = (r: InstanceRow): IndexedInstance => ({
  xrayId: r.xray_id,
  studyUid: r.study_uid,
  seriesUid: r.series_uid,
  sopUid: r.sop_uid,
  transferSyntaxUid: r.transfer_syntax_uid,
  seriesNumber: r.series_number,
  instanceNumber: r.instance_number,
  header: r.header,
  headerComplete: r.header_complete,
  patientId: r.xray_patient_id,
  identityStatus: r.identity_status,
  capturedBy: { sub: r.captured_by_sub },
});

/** The columns an index entry fills, in the order entryValues gives them (xray_id and indexed_at aside). */
const ENTRY_COLUMNS = [
  ...VISIBLE_COLUMNS.slice(1),
  'rows',
  'columns',
  'transfer_syntax_uid',
  'header',
  'header_complete',
] as const;

const entryValues = (e: DicomIndexEntry): unknown[] => [
  e.studyUid,
  e.seriesUid,
  e.sopUid,
  e.sopClassUid,
  e.patientId,
  e.patientName,
  e.patientBirthDate,
  e.patientSex,
  e.studyDate,
  e.studyTime,
  e.accessionNumber,
  e.modality,
  e.studyDescription,
  e.seriesDescription,
  e.seriesNumber,
  e.instanceNumber,
  e.referringPhysicianName,
  e.studyId,
  e.rows,
  e.columns,
  e.transferSyntaxUid,
  JSON.stringify(e.header),
  e.headerComplete,
];

/** `$from, …, $to`. */
const placeholders = (from: number, to: number): string =>
  Array.from({ length: to - from + 1 }, (_, i) => `$${from + i}`).join(',');

/** The search itself, among the candidate UIDs (undefined: over the whole index). */
async function searchAmong(
  db: Queryable,
  level: QidoLevel,
  q: QidoQuery,
  scope: IndexScope,
  candidates: readonly string[] | undefined,
): Promise<SearchHit[]> {
  const sql = new Sql();
  const base = visible(sql, scope, candidates);
  const matching = conditionsOf(sql, q.matches);
  const where = `WHERE ${matching}`;
  const page = `LIMIT ${sql.arg(q.limit)} OFFSET ${sql.arg(q.offset)}`;
  let text: string;
  if (level === 'instance') {
    text = `WITH visible AS (${base})
      SELECT d.header, d.transfer_syntax_uid, ARRAY[v.xray_id] AS xray_ids, 1 AS series_count, 1 AS instance_count,
             ARRAY_REMOVE(ARRAY[v.modality], NULL) AS modalities, x.patient_id AS xray_patient_id,
             x.identity->>'status' AS identity_status
        FROM visible v JOIN dicom_instances d ON d.xray_id = v.xray_id JOIN xrays x ON x.id = v.xray_id
        ${where}
       ORDER BY v.study_uid, v.series_uid, v.instance_number NULLS LAST, v.sop_uid, v.patient_id, v.xray_id
       ${page}`;
  } else {
    const key = level === 'study' ? 'study_uid' : 'study_uid, series_uid';
    const order =
      level === 'study'
        ? 'max(v.study_date) DESC NULLS LAST, v.study_uid'
        : 'v.study_uid, min(v.series_number) NULLS LAST, v.series_uid';
    text = `WITH visible AS (${base}),
      groups AS (
        -- The first instance that matches stands for the group (its header, its linked patient):
        -- a study searched by one patient is never shown under another's instance. A file stored
        -- for two patients is two instances under one SOP UID: the linked patient, then the X-ray,
        -- decide (an order the plan does not choose: every search shows the group alike).
        SELECT (array_agg(v.xray_id ORDER BY v.series_number NULLS LAST, v.series_uid,
                                          v.instance_number NULLS LAST, v.sop_uid, v.patient_id, v.xray_id)
                  FILTER (WHERE ${matching}))[1] AS representative,
               array_agg(v.xray_id ORDER BY v.xray_id) AS xray_ids,
               count(DISTINCT v.series_uid)::int AS series_count,
               count(*)::int AS instance_count,
               array_agg(DISTINCT v.modality) FILTER (WHERE v.modality IS NOT NULL) AS modalities,
               row_number() OVER (ORDER BY ${order}) AS position
          FROM visible v
         GROUP BY ${key.replace(/(\w+)/g, 'v.$1')}
        -- The groups with an instance that matches (a filter, not a join: no row estimate to misjudge).
        HAVING bool_or(${matching})
         ORDER BY ${order}
         ${page})
      SELECT d.header, d.transfer_syntax_uid, g.xray_ids, g.series_count, g.instance_count, g.modalities,
             x.patient_id AS xray_patient_id, x.identity->>'status' AS identity_status
        FROM groups g JOIN dicom_instances d ON d.xray_id = g.representative JOIN xrays x ON x.id = g.representative
       ORDER BY g.position`;
  }
  const { rows } = await db.query<HitRow>(text, sql.args);
  return rows.map((r) => ({
    header: r.header,
    transferSyntaxUid: r.transfer_syntax_uid,
    xrayIds: r.xray_ids,
    seriesCount: r.series_count,
    instanceCount: r.instance_count,
    modalities: r.modalities ?? [],
    patientId: r.xray_patient_id,
    identityStatus: r.identity_status,
  }));
}

export const dicomInstanceRepository = {
  /**
   * Indexes an X-ray's instance (in finalize's transaction; a repeat is a no-op: `inserted`
   * false). `conflict`: whether another file already holds its SOP Instance UID
   * (`Xray.dicomUidConflict` of the X-ray just stored: the statement sees the rows before its
   * own). In a transaction (a client, not the pool): the lock on the UID is held to its COMMIT.
   */
  async insert(db: PoolClient, xrayId: string, e: DicomIndexEntry): Promise<{ inserted: boolean; conflict: boolean }> {
    // One writer per UID until its COMMIT, and the clock read under the lock: the first indexed
    // (the holder) is the first committed, so what an answer said and DICOMweb served stays true.
    // Never before a row already under the UID (one index step), should the clock have been set back.
    await db.query(LOCK_SOP_UID, [e.sopUid]);
    const { rows } = await db.query<{ conflict: boolean; others: number }>(
      `INSERT INTO dicom_instances AS n (xray_id, ${ENTRY_COLUMNS.join(', ')}, indexed_at)
       VALUES (${placeholders(1, ENTRY_COLUMNS.length + 1)},
               greatest(clock_timestamp(), (SELECT max(l.indexed_at) + interval '1 microsecond' FROM dicom_instances l
                                             WHERE l.sop_uid = $${ENTRY_COLUMNS.length + 2})))
       ON CONFLICT (xray_id) DO NOTHING
       RETURNING coalesce(${firstFileUnder('n.sop_uid')} <> (SELECT sha256 FROM xrays WHERE id = n.xray_id), false) AS conflict,
                 (SELECT count(*)::int FROM (SELECT FROM dicom_instances o WHERE o.sop_uid = n.sop_uid LIMIT 2) o) AS others`,
      [xrayId, ...entryValues(e), e.sopUid],
    );
    // Another X-ray under the UID: every X-ray under it is marked, so their reads look the holder
    // up (xrays.dicom_uid_shared; the common case, a UID of one file, reads no more than the row).
    // The second marks the first too; a third or later finds the others marked already (by the
    // second, or as they came; a mark is never cleared) and marks only itself: an upload under a
    // UID a thousand X-rays share does not touch the thousand.
    // No row back: the X-ray was indexed already (a repeat, or another backfill run); nothing changed.
    if (!rows[0]) return { inserted: false, conflict: false };
    const others = rows[0].others;
    if (others === 1)
      await db.query(
        `UPDATE xrays SET dicom_uid_shared = true
          WHERE id IN (SELECT xray_id FROM dicom_instances WHERE sop_uid = $1 UNION SELECT $2::uuid) AND NOT dicom_uid_shared`,
        [e.sopUid, xrayId],
      );
    else if (others > 1) await db.query('UPDATE xrays SET dicom_uid_shared = true WHERE id = $1', [xrayId]);
    return { inserted: true, conflict: rows[0].conflict };
  },

  /**
   * Writes an index row read from a cut header again, in place, from the header read whole
   * (`xray-admin dicom-index`): every column as insert writes it, but only over a row still cut
   * and under the same UIDs (which X-ray holds a SOP Instance UID, sop-uid-holder.ts, does not
   * change). False when no such row is left.
   */
  async replacePartial(db: Queryable, xrayId: string, e: DicomIndexEntry): Promise<boolean> {
    const { rowCount } = await db.query(
      `UPDATE dicom_instances SET (${ENTRY_COLUMNS.join(', ')}) = ROW(${placeholders(2, ENTRY_COLUMNS.length + 1)})
        WHERE xray_id = $1 AND NOT header_complete AND study_uid = $2 AND series_uid = $3 AND sop_uid = $4`,
      [xrayId, ...entryValues(e)],
    );
    return rowCount === 1;
  },

  /**
   * QIDO-RS: the studies, series or instances with an instance that matches, in a stable order
   * (studies newest first), a page of them. Counts are over every instance the caller may see.
   */
  async search(pool: Pool, level: QidoLevel, q: QidoQuery, scope: IndexScope): Promise<SearchHit[]> {
    if (q.matches.length === 0) return searchAmong(pool, level, q, scope, undefined);
    // The candidates and the search read one snapshot: a row written between them (an upload, a
    // PATCH moving an X-ray to the patient searched) would otherwise let a group in whose other
    // instances are no candidates, and count it from part of its instances.
    return inTransaction(
      pool,
      async (tx) => {
        const candidates = await candidateUids(tx, level, q.matches);
        return candidates?.length === 0 ? [] : searchAmong(tx, level, q, scope, candidates);
      },
      'snapshot',
    );
  },

  /**
   * WADO-RS: the instances of a study, of one of its series, or one instance, that the caller
   * may see (as `visible`: per SOP Instance UID only the file stored first, so what names one
   * instance, metadata, frames, rendered, always serves that file), in series and instance order.
   * The lookup by UIDs every DICOMweb resource starts from.
   */
  async instancesOf(
    db: Queryable,
    uids: { study: string; series?: string; instance?: string },
    scope: IndexScope,
  ): Promise<IndexedInstance[]> {
    const sql = new Sql();
    const where = [`d.study_uid = ${sql.arg(uids.study)}`];
    if (uids.series !== undefined) where.push(`d.series_uid = ${sql.arg(uids.series)}`);
    if (uids.instance !== undefined) where.push(`d.sop_uid = ${sql.arg(uids.instance)}`);
    if (scope.capturedBy !== undefined) where.push(`x.captured_by_sub = ${sql.arg(scope.capturedBy)}`);
    where.push(`x.sha256 = ${firstFileUnder('d.sop_uid')}`);
    const { rows } = await db.query<InstanceRow>(
      `SELECT * FROM (
         SELECT DISTINCT ON (d.sop_uid, x.patient_id) d.xray_id, d.study_uid, d.series_uid, d.sop_uid, d.transfer_syntax_uid,
                d.series_number, d.instance_number, d.header, d.header_complete, x.patient_id AS xray_patient_id,
                x.identity->>'status' AS identity_status, x.captured_by_sub
           FROM dicom_instances d JOIN xrays x ON x.id = d.xray_id
          WHERE ${where.join(' AND ')}
          ORDER BY d.sop_uid, x.patient_id, x.uploaded_at DESC, d.xray_id) i
        ORDER BY i.series_number NULLS LAST, i.series_uid, i.instance_number NULLS LAST, i.sop_uid, i.xray_id`,
      sql.args,
    );
    return rows.map(toInstance);
  },

  /**
   * Whether DICOMweb serves an instance under these UIDs, whoever captured it (a refusal is then a
   * denial): a file that does not hold its SOP Instance UID is served to nobody.
   */
  async exists(db: Queryable, uids: { study: string; series?: string; instance?: string }): Promise<boolean> {
    const { rows } = await db.query<{ found: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM dicom_instances d JOIN xrays x ON x.id = d.xray_id
                       WHERE d.study_uid = $1 AND ($2::text IS NULL OR d.series_uid = $2)
                         AND ($3::text IS NULL OR d.sop_uid = $3)
                         AND x.sha256 = ${firstFileUnder('d.sop_uid')}) AS found`,
      [uids.study, uids.series ?? null, uids.instance ?? null],
    );
    return rows[0]?.found === true;
  },

  /**
   * DICOM X-rays stored without an index row (before the index existed), after `afterId`, in id
   * order. `exceptUnindexable`: not those a backfill found to name no UID (markUnindexable).
   */
  async unindexed(
    db: Queryable,
    afterId: string | null,
    limit: number,
    { exceptUnindexable = false }: { exceptUnindexable?: boolean } = {},
  ): Promise<string[]> {
    const { rows } = await db.query<{ id: string }>(
      `SELECT x.id FROM xrays x
        WHERE x.content_type = 'application/dicom' AND ($1::uuid IS NULL OR x.id > $1::uuid)
          AND NOT EXISTS (SELECT 1 FROM dicom_instances d WHERE d.xray_id = x.id)
          ${exceptUnindexable ? 'AND NOT EXISTS (SELECT 1 FROM dicom_unindexable u WHERE u.xray_id = x.id)' : ''}
        ORDER BY x.id LIMIT $2`,
      [afterId, limit],
    );
    return rows.map((r) => r.id);
  },

  /**
   * Records that an X-ray's header names no study, series or instance UID: it never will (its
   * bytes do not change), so the run at start need not read it again. Nothing if it is gone.
   */
  async markUnindexable(db: Queryable, xrayId: string): Promise<void> {
    await db.query(
      'INSERT INTO dicom_unindexable (xray_id) SELECT id FROM xrays WHERE id = $1 ON CONFLICT (xray_id) DO NOTHING',
      [xrayId],
    );
  },

  /**
   * DICOM X-rays indexed from a cut header (header_complete false) whose stored file is longer
   * than `readBytes`, the prefix ingest and the backfill used to read: the rest may hold more of
   * the header. After `afterId`, in id order. A file read whole by then is not: nothing more is in
   * it. A file with no pixel data at all (uploads refuse one today; an older X-ray may be one) is
   * always cut, nothing marking where its header ends: one longer than `readBytes` is read again
   * each time, to the same row.
   */
  async partiallyIndexed(
    db: Queryable,
    readBytes: number,
    afterId: string | null,
    limit: number,
  ): Promise<{ id: string; uids: InstanceUids }[]> {
    const { rows } = await db.query<{ id: string; study_uid: string; series_uid: string; sop_uid: string }>(
      `SELECT x.id, d.study_uid, d.series_uid, d.sop_uid FROM xrays x JOIN dicom_instances d ON d.xray_id = x.id
        WHERE NOT d.header_complete AND x.size_bytes > $1 AND ($2::uuid IS NULL OR x.id > $2::uuid)
        ORDER BY x.id LIMIT $3`,
      [readBytes, afterId, limit],
    );
    return rows.map((r) => ({ id: r.id, uids: { study: r.study_uid, series: r.series_uid, instance: r.sop_uid } }));
  },
};
