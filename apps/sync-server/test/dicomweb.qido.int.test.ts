import { randomUUID } from 'node:crypto';
import { makeDicom, makePng } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfillOn } from './dicom-index-backfill.support.ts';
import { blobOf, headerActor, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';
import { sealed, startTus } from './tus-client.ts';

const MEDIC = 'medic-qido; paramedic';
const OTHER_MEDIC = 'medic-qido-other; paramedic';
const DOCTOR = 'doctor-qido; doctor';
const ADMIN = 'admin-qido; admin';
const NO_ROLE = 'nobody-qido; ';

const STUDY_A = '1.2.826.0.1.3680043.10.19.1';
const STUDY_B = '1.2.826.0.1.3680043.10.19.2';
const STUDY_C = '1.2.826.0.1.3680043.10.19.3';
const SERIES_A = '1.2.826.0.1.3680043.10.19.1.1';

type Dataset = Record<string, { vr: string; Value?: unknown[] }>;
const value = (d: Dataset | undefined, tag: string): unknown => d?.[tag]?.Value?.[0];
const uids = (list: Dataset[], tag = '0020000D') => list.map((d) => value(d, tag));

/**
 * QIDO-RS against the real server (PostgreSQL, disk storage): the index written at ingest answers
 * a viewer's queries; scope, refusals and the audit trail are those of `GET /xrays`.
 */
describe('QIDO-RS (GET /dicom-web/studies, /series, /instances)', () => {
  let server: TestServer;
  const ids: Record<string, string> = {};

  async function store(name: string, actor: string, options: Parameters<typeof makeDicom>[0], patientId: string) {
    const id = randomUUID();
    const res = await postXray(
      server.url,
      validMetadata({ id, patientId }),
      blobOf(makeDicom({ rows: 32, columns: 32, patientId, ...options })),
      { 'X-Test-Actor': actor },
    );
    expect(res.status, await res.clone().text()).toBe(201);
    ids[name] = id;
  }

  /** `xray-admin dicom-index`'s backfill over this server; its report. */
  const backfill = async (hooks: Parameters<typeof backfillOn>[1] = {}) => (await backfillOn(server, hooks)).report;

  const qido = (path: string, actor = DOCTOR, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/dicom-web${path}`, {
      headers: { 'X-Test-Actor': actor, Accept: 'application/dicom+json', ...headers },
    });
  const json = async (path: string, actor = DOCTOR): Promise<Dataset[]> => {
    const res = await qido(path, actor);
    expect(res.status, await res.clone().text()).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/dicom\+json/);
    const body: unknown = await res.json();
    if (!Array.isArray(body)) throw new Error('not an array');
    return body as Dataset[];
  };

  beforeAll(async () => {
    server = await startTestServer('fs', {}, { authenticate: headerActor });
    // Study A: two instances of one series; study B: one; study C: another paramedic's, a UTF-8 name.
    const a = { studyInstanceUid: STUDY_A, seriesInstanceUid: SERIES_A, studyDate: '20260110' };
    await store('a1', MEDIC, { ...a, seed: 1, patientName: 'Doe^John' }, 'P-1901');
    await store('a2', MEDIC, { ...a, seed: 2, patientName: 'Doe^John' }, 'P-1901');
    await store(
      'b',
      MEDIC,
      { studyInstanceUid: STUDY_B, studyDate: '20260220', seed: 3, patientName: 'Doe^Jane' },
      'P-1902',
    );
    await store(
      'c',
      OTHER_MEDIC,
      { studyInstanceUid: STUDY_C, studyDate: '20260315', seed: 4, patientName: 'Müller^Jörg' },
      'P-1903',
    );
    // A PNG X-ray is no DICOM instance: never in DICOMweb.
    const png = await postXray(server.url, validMetadata({ patientId: 'P-1901' }), blobOf(makePng()), {
      'X-Test-Actor': MEDIC,
    });
    expect(png.status).toBe(201);
  });
  afterAll(async () => {
    await server?.close();
  });

  it("answers a viewer's study list: PatientName with wildcards, includefield, limit and offset, newest first", async () => {
    const q = 'PatientName=doe*&fuzzymatching=false&includefield=00081030%2C00080060&includefield=BodyPartExamined';
    const first = await json(`/studies?${q}&limit=1&offset=0`);
    const second = await json(`/studies?${q}&limit=1&offset=1`);
    const past = await json(`/studies?${q}&limit=1&offset=2`);
    expect(uids(first)).toEqual([STUDY_B]);
    expect(uids(second)).toEqual([STUDY_A]);
    expect(past).toEqual([]);
    const [a] = second;
    expect(a?.['00100010']).toEqual({ vr: 'PN', Value: [{ Alphabetic: 'Doe^John' }] });
    expect(a?.['00100020']).toEqual({ vr: 'LO', Value: ['P-1901'] });
    expect(a?.['00080020']).toEqual({ vr: 'DA', Value: ['20260110'] });
    // Computed at the study level over its instances.
    expect(a?.['00201206']).toEqual({ vr: 'IS', Value: [1] });
    expect(a?.['00201208']).toEqual({ vr: 'IS', Value: [2] });
    expect(a?.['00080061']).toEqual({ vr: 'CS', Value: ['DX'] });
    expect(value(a, '00081190')).toBe(`${server.url}/dicom-web/studies/${STUDY_A}`);
    // includefield by tag (comma-separated), repeated, and by keyword.
    expect(a?.['00080060']).toEqual({ vr: 'CS', Value: ['DX'] });
    expect(a?.['00180015']).toEqual({ vr: 'CS', Value: ['CHEST'] });
    // Not asked for: not returned at the study level.
    expect(a?.['00080018']).toBeUndefined();
    // Without limit: both.
    expect(uids(await json(`/studies?${q}`))).toEqual([STUDY_B, STUDY_A]);
  });

  it('matches PatientName with `?` and whatever its case, a UTF-8 name too', async () => {
    expect(uids(await json('/studies?PatientName=D%3Fe%5EJ*'))).toEqual([STUDY_B, STUDY_A]);
    expect(uids(await json('/studies?PatientName=DOE%5EJOHN'))).toEqual([STUDY_A]);
    expect(uids(await json('/studies?00100010=*jane'))).toEqual([STUDY_B]);
    const [c] = await json(`/studies?PatientName=${encodeURIComponent('müller*')}`);
    expect(c?.['00100010']).toEqual({ vr: 'PN', Value: [{ Alphabetic: 'Müller^Jörg' }] });
  });

  it('matches StudyDate ranges, UID lists, PatientID, ModalitiesInStudy, AccessionNumber', async () => {
    expect(uids(await json('/studies?StudyDate=20260101-20260131'))).toEqual([STUDY_A]);
    expect(uids(await json('/studies?StudyDate=-20260220'))).toEqual([STUDY_B, STUDY_A]);
    expect(uids(await json('/studies?StudyDate=20260201-'))).toEqual([STUDY_C, STUDY_B]);
    expect(uids(await json('/studies?StudyDate=20260220'))).toEqual([STUDY_B]);
    expect(uids(await json(`/studies?StudyInstanceUID=${STUDY_A}%5C${STUDY_C}`))).toEqual([STUDY_C, STUDY_A]);
    expect(uids(await json('/studies?PatientID=P-1902'))).toEqual([STUDY_B]);
    expect(uids(await json('/studies?ModalitiesInStudy=DX&limit=10'))).toHaveLength(3);
    expect(await json('/studies?ModalitiesInStudy=CT')).toEqual([]);
    expect(await json('/studies?AccessionNumber=ACC-NONE')).toEqual([]);
  });

  it('series and instances: of a study, of a series, and across studies', async () => {
    const series = await json(`/studies/${STUDY_A}/series`);
    expect(uids(series, '0020000E')).toEqual([SERIES_A]);
    expect(series[0]?.['00201209']).toEqual({ vr: 'IS', Value: [2] });
    expect(value(series[0], '00081190')).toBe(`${server.url}/dicom-web/studies/${STUDY_A}/series/${SERIES_A}`);
    const instances = await json(`/studies/${STUDY_A}/series/${SERIES_A}/instances`);
    expect(instances).toHaveLength(2);
    for (const i of instances) {
      expect(value(i, '00080016')).toBe('1.2.840.10008.5.1.4.1.1.1.1');
      expect(value(i, '00083002')).toBe('1.2.840.10008.1.2.1');
      expect(value(i, '00280010')).toBe(32);
      expect(value(i, '00081190')).toBe(
        `${server.url}/dicom-web/studies/${STUDY_A}/series/${SERIES_A}/instances/${String(value(i, '00080018'))}`,
      );
    }
    expect(await json(`/studies/${STUDY_A}/instances`)).toHaveLength(2);
    expect(await json('/instances?PatientID=P-1901')).toHaveLength(2);
    expect(uids(await json('/series?PatientName=doe*'))).toEqual([STUDY_A, STUDY_B]);
    const [one] = await json(`/instances?PatientID=P-1902&includefield=all`);
    expect(value(one, '00280004')).toBe('MONOCHROME2');
    // Bulk data is not returned by a search, even with `all`.
    expect(one?.['7FE00010']).toBeUndefined();
  });

  it('no match is 200 []; application/json is served; other Accept 406; bad parameters 400; fuzzymatching warned', async () => {
    expect(await json('/studies?PatientID=NOBODY')).toEqual([]);
    const asJson = await qido('/studies?PatientID=P-1902', DOCTOR, { Accept: 'application/json' });
    expect(asJson.status).toBe(200);
    expect(asJson.headers.get('content-type')).toMatch(/^application\/json/);
    const refused = await qido('/studies', DOCTOR, { Accept: 'image/png' });
    expect(refused.status).toBe(406);
    expect(await refused.json()).toMatchObject({ code: 'not_acceptable', status: 406 });
    for (const bad of [
      'StudyDate=2026-01-01',
      'limit=ten',
      'StudyInstanceUID=abc',
      'NoSuchKeyword=1',
      'limit=1&limit=2',
    ]) {
      const res = await qido(`/studies?${bad}`);
      expect(res.status, bad).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const problem = (await res.json()) as { code: string; errors: { field: string }[] };
      expect(problem.code, bad).toBe('validation_failed');
      expect(problem.errors.length, bad).toBeGreaterThan(0);
    }
    const bad = await qido('/studies/not-a-uid/series');
    expect(bad.status).toBe(400);
    const fuzzy = await qido('/studies?PatientName=doe*&fuzzymatching=true');
    expect(fuzzy.status).toBe(200);
    expect(fuzzy.headers.get('warning')).toMatch(/^299 - ".*fuzzymatching/);
  });

  it('a paramedic finds only what they captured, a doctor everything, a token with no role nothing (refused, audited)', async () => {
    expect(uids(await json('/studies', MEDIC))).toEqual([STUDY_B, STUDY_A]);
    expect(uids(await json('/studies', OTHER_MEDIC))).toEqual([STUDY_C]);
    expect(await json(`/studies/${STUDY_A}/series`, OTHER_MEDIC)).toEqual([]);
    expect(uids(await json('/studies'))).toEqual([STUDY_C, STUDY_B, STUDY_A]);
    const requestId = `qido-no-role-${randomUUID()}`;
    const refused = await fetch(`${server.url}/dicom-web/studies`, {
      headers: { 'X-Test-Actor': NO_ROLE, 'X-Request-Id': requestId },
    });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: 'forbidden' });
    const { rows } = await server.pool.query<{ action: string; outcome: string; details: Record<string, unknown> }>(
      'SELECT action, outcome, details FROM audit_events WHERE request_id = $1',
      [requestId],
    );
    expect(rows).toEqual([
      expect.objectContaining({
        action: 'access.denied',
        outcome: 'denied',
        details: expect.objectContaining({ attempted: 'xray.list', error: 'forbidden' }),
      }),
    ]);
  });

  it('each search is one audit event naming the X-rays it disclosed', async () => {
    const requestId = `qido-audit-${randomUUID()}`;
    const res = await fetch(`${server.url}/dicom-web/studies?PatientID=P-1901`, {
      headers: { 'X-Test-Actor': DOCTOR, 'X-Request-Id': requestId },
    });
    expect(res.status).toBe(200);
    const { rows } = await server.pool.query<{
      action: string;
      outcome: string;
      actor_sub: string;
      patient_id: string | null;
      details: { interface: string; level: string; count: number; ids: string[] };
    }>('SELECT action, outcome, actor_sub, patient_id, details FROM audit_events WHERE request_id = $1', [requestId]);
    expect(rows).toHaveLength(1);
    const [event] = rows;
    expect(event).toMatchObject({
      action: 'xray.list',
      outcome: 'success',
      actor_sub: 'doctor-qido',
      patient_id: 'P-1901',
    });
    expect(event?.details).toMatchObject({ interface: 'dicomweb', level: 'study', count: 1 });
    expect([...(event?.details.ids ?? [])].sort()).toEqual([ids.a1, ids.a2].sort());
  });

  it('every door indexes: an X-ray sent by tus (XRE1, verified on arrival) is found too', async () => {
    const study = '1.2.826.0.1.3680043.10.19.4';
    const file = makeDicom({ rows: 32, columns: 32, seed: 5, studyInstanceUid: study, patientId: 'P-1904' });
    const { body, metadata } = await sealed(server.url, file, { patientId: 'P-1904' });
    const { xrayId } = await startTus({
      endpoint: `${server.url}/uploads`,
      file: body,
      metadata,
      headers: { 'X-Test-Actor': MEDIC },
    }).done;
    const [found] = await json(`/studies?StudyInstanceUID=${study}`, MEDIC);
    expect(found?.['00100020']).toEqual({ vr: 'LO', Value: ['P-1904'] });
    const { rows } = await server.pool.query('SELECT 1 FROM dicom_instances WHERE xray_id = $1', [xrayId]);
    expect(rows).toHaveLength(1);
  });

  it('a header with a NUL inside a value is stored and indexed all the same', async () => {
    const study = '1.2.826.0.1.3680043.10.19.5';
    await store('nul', MEDIC, { studyInstanceUid: study, seed: 6, patientName: 'Nul\u0000Name' }, 'P-1905');
    const [found] = await json(`/studies?StudyInstanceUID=${study}`, MEDIC);
    expect(found?.['00100010']).toEqual({ vr: 'PN', Value: [{ Alphabetic: 'Nul\uFFFDName' }] });
  });

  it("a search reads only the groups it can find, yet judges each UID's file over every study: a reuse of a UID in another study is found in neither; counts stay whole", async () => {
    const sop = '1.2.826.0.1.3680043.10.19.7.1';
    const [held, reused] = ['1.2.826.0.1.3680043.10.19.7', '1.2.826.0.1.3680043.10.19.8'];
    const series = `${held}.1`;
    await store(
      'held',
      MEDIC,
      { studyInstanceUid: held, seriesInstanceUid: series, sopInstanceUid: sop, seed: 71 },
      'P-1907',
    );
    await store('held2', MEDIC, { studyInstanceUid: held, seriesInstanceUid: series, seed: 72 }, 'P-1907');
    // Other bytes under the same SOP Instance UID, in another study, for another patient: not served.
    await store('reused', OTHER_MEDIC, { studyInstanceUid: reused, sopInstanceUid: sop, seed: 73 }, 'P-1908');
    for (const path of [
      `/studies?StudyInstanceUID=${reused}`,
      `/studies?PatientID=P-1908`,
      `/studies/${reused}/series`,
      `/instances?PatientID=P-1908`,
    ])
      expect(await json(path), path).toEqual([]);
    expect(await json(`/studies?PatientID=P-1908`, OTHER_MEDIC)).toEqual([]);
    // The study holding the UID: found by one instance's attribute, counted over both.
    const [study] = await json(`/studies?SOPInstanceUID=${sop}`);
    expect(value(study, '0020000D')).toBe(held);
    expect(value(study, '00201208')).toBe(2);
    const [found] = await json(`/studies/${held}/series?SOPInstanceUID=${sop}`);
    expect(value(found, '0020000E')).toBe(series);
    expect(value(found, '00201209')).toBe(2);
    expect(uids(await json(`/instances?SOPInstanceUID=${sop}`), '00100020')).toEqual(['P-1907']);
    // A search that finds nothing answers at once, empty.
    expect(await json('/studies?StudyInstanceUID=1.2.826.0.1.3680043.10.19.999')).toEqual([]);
  });

  it('a deleted X-ray leaves the index; one stored before the index gets it from the backfill', async () => {
    const del = await fetch(`${server.url}/xrays/${ids.b}`, { method: 'DELETE', headers: { 'X-Test-Actor': ADMIN } });
    expect(del.status).toBe(204);
    expect(await json(`/studies?StudyInstanceUID=${STUDY_B}`)).toEqual([]);
    const { rows } = await server.pool.query('SELECT 1 FROM dicom_instances WHERE xray_id = $1', [ids.b]);
    expect(rows).toEqual([]);

    // As if stored before this release: its row is gone; the backfill reads its header back.
    await server.pool.query('DELETE FROM dicom_instances WHERE xray_id = $1', [ids.c]);
    expect(await json(`/studies?StudyInstanceUID=${STUDY_C}`)).toEqual([]);
    const report = await backfill();
    expect(report).toEqual({ indexed: 1, indexedMeanwhile: 0, reread: 0, skipped: [], deleted: [], failed: [] });
    const [c] = await json(`/studies?StudyInstanceUID=${STUDY_C}`);
    expect(c?.['00100010']).toEqual({ vr: 'PN', Value: [{ Alphabetic: 'Müller^Jörg' }] });
    // Run again: nothing left to do.
    expect((await backfill()).indexed).toBe(0);
  });

  it('the backfill counts an X-ray another run indexed meanwhile as such, and one deleted meanwhile as deleted, not failed', async () => {
    await server.pool.query('DELETE FROM dicom_instances WHERE xray_id = $1', [ids.c]);
    // Another run (the CLI beside the server) indexes it between this run's look and its insert.
    const raced = await backfill({ beforeGet: () => backfill().then(() => undefined) });
    expect(raced).toEqual({ indexed: 0, indexedMeanwhile: 1, reread: 0, skipped: [], deleted: [], failed: [] });
    const rows = await server.pool.query('SELECT count(*)::int AS n FROM dicom_instances WHERE xray_id = $1', [ids.c]);
    expect(rows.rows[0].n).toBe(1);

    // Deleted by an admin while the run reads it: before its row is read, and after (its object gone).
    await server.pool.query('DELETE FROM dicom_instances WHERE xray_id = ANY($1::uuid[])', [[ids.c, ids.a2]]);
    const remove = (id: string) =>
      fetch(`${server.url}/xrays/${id}`, { method: 'DELETE', headers: { 'X-Test-Actor': ADMIN } }).then((res) =>
        expect(res.status).toBe(204),
      );
    const gone = await backfill({
      beforeGet: (id) => (id === ids.c ? remove(id) : undefined),
      beforeRead: (id) => (id === ids.a2 ? remove(id) : undefined),
    });
    expect(gone).toEqual({
      indexed: 0,
      indexedMeanwhile: 0,
      reread: 0,
      skipped: [],
      deleted: [ids.a2, ids.c].sort(),
      failed: [],
    });
    await expect(
      server.pool.query('SELECT 1 FROM xrays WHERE id = ANY($1::uuid[])', [[ids.a2, ids.c]]),
    ).resolves.toMatchObject({
      rows: [],
    });
  });
});
