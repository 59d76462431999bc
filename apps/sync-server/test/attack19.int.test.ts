import { createHash, randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { makeDicom, makeJpeg, makePng } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dicomIndexCommand } from '../src/cli/dicom-index.command.ts';
import { rendersPrefixOf } from '../src/rendering/render.cache.ts';
import { MAX_RENDERS_PER_XRAY } from '../src/rendering/render.service.ts';
import {
  blobOf,
  countRows,
  headerActor,
  openMultipartUploads,
  postXray,
  startTestServer,
  storedObjects,
  validMetadata,
  type TestServer,
} from './harness.ts';
import { multipartParts } from './multipart-parts.ts';
import { holdInsertsFor } from './slow-inserts.ts';
import { postStow, readStowAnswer, rowsOfSop, stowAs } from './stow.support.ts';

/**
 * Issue 19, attacked from outside: a second paramedic, a token with no role, a doctor and an admin
 * at the DICOMweb doors (QIDO, WADO, rendered, STOW) and the REST preview.
 */

const MEDIC = 'medic-a19; paramedic';
const OTHER = 'medic-b19; paramedic';
const DOCTOR = 'doctor-a19; doctor';
const ADMIN = 'admin-a19; admin';
const NO_ROLE = 'nobody-a19; ';

const SHARED_STUDY = '1.2.826.0.1.3680043.10.1919.1';
const OWN_STUDY = '1.2.826.0.1.3680043.10.1919.2';

type Dataset = Record<string, { vr: string; Value?: unknown[] }>;
const run = promisify(execFile);
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const value = (d: Dataset | undefined, tag: string): unknown => d?.[tag]?.Value?.[0];

describe('issue 19 attacked: DICOMweb and rendering doors', () => {
  let server: TestServer;
  const x: Record<string, { id: string; study: string; series: string; sop: string }> = {};

  async function store(name: string, actor: string, o: Parameters<typeof makeDicom>[0], patientId: string) {
    const id = randomUUID();
    const res = await postXray(
      server.url,
      validMetadata({ id, patientId }),
      blobOf(makeDicom({ rows: 32, columns: 32, patientId, ...o })),
      { 'X-Test-Actor': actor },
    );
    expect(res.status, await res.clone().text()).toBe(201);
    const body = (await res.json()) as {
      dicom: { studyInstanceUid: string; seriesInstanceUid: string; sopInstanceUid: string };
    };
    x[name] = {
      id,
      study: body.dicom.studyInstanceUid,
      series: body.dicom.seriesInstanceUid,
      sop: body.dicom.sopInstanceUid,
    };
  }
  const get = (path: string, actor: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/dicom-web${path}`, { headers: { 'X-Test-Actor': actor, ...headers } });
  const json = async (path: string, actor: string): Promise<Dataset[]> => {
    const res = await get(path, actor, { Accept: 'application/dicom+json' });
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as Dataset[];
  };
  const instancePath = (n: string) => `/studies/${x[n]!.study}/series/${x[n]!.series}/instances/${x[n]!.sop}`;
  const eventsOf = async (requestId: string) =>
    (
      await server.pool.query<{
        action: string;
        outcome: string;
        xray_id: string | null;
        details: Record<string, unknown>;
      }>('SELECT action, outcome, xray_id, details FROM audit_events WHERE request_id = $1 ORDER BY id', [requestId])
    ).rows;

  beforeAll(async () => {
    server = await startTestServer('fs', { MAX_UPLOAD_BYTES: String(2 * 1024 * 1024) }, { authenticate: headerActor });
    // One study with an instance of each paramedic (the same patient brought twice), and one of A's own.
    await store('a1', MEDIC, { studyInstanceUid: SHARED_STUDY, seed: 1901, patientName: 'Ab%_c^Zed' }, 'P-1991');
    await store('b1', OTHER, { studyInstanceUid: SHARED_STUDY, seed: 1902, patientName: 'Ab%_c^Zed' }, 'P-1991');
    await store('b2', OTHER, { studyInstanceUid: SHARED_STUDY, seed: 1903, patientName: 'Ab%_c^Zed' }, 'P-1991');
    await store('a2', MEDIC, { studyInstanceUid: OWN_STUDY, seed: 1904, patientName: 'Abxyc^Zed' }, 'P-1992');
  });
  afterAll(async () => {
    await server?.close();
  });

  it("a second paramedic: QIDO shows only their own instances, and the study's counts count only those", async () => {
    const studies = await json(`/studies?StudyInstanceUID=${SHARED_STUDY}`, MEDIC);
    expect(studies).toHaveLength(1);
    expect(studies[0]?.['00201208']).toEqual({ vr: 'IS', Value: [1] });
    expect(studies[0]?.['00201206']).toEqual({ vr: 'IS', Value: [1] });
    const other = await json(`/studies?StudyInstanceUID=${SHARED_STUDY}`, OTHER);
    expect(other[0]?.['00201208']).toEqual({ vr: 'IS', Value: [2] });
    const doctor = await json(`/studies?StudyInstanceUID=${SHARED_STUDY}`, DOCTOR);
    expect(doctor[0]?.['00201208']).toEqual({ vr: 'IS', Value: [3] });
    const sops = (list: Dataset[]) => list.map((d) => value(d, '00080018')).sort();
    expect(sops(await json(`/studies/${SHARED_STUDY}/instances`, MEDIC))).toEqual([x.a1!.sop]);
    expect(sops(await json(`/instances?PatientID=P-1991`, MEDIC))).toEqual([x.a1!.sop]);
    expect(sops(await json(`/instances?SOPInstanceUID=${x.b1!.sop}`, MEDIC))).toEqual([]);
    const series = await json(`/studies/${SHARED_STUDY}/series?includefield=all`, MEDIC);
    for (const s of series) expect(s['00201209']).toEqual({ vr: 'IS', Value: [1] });
    expect(await json(`/studies/${SHARED_STUDY}/series/${x.b1!.series}/instances`, MEDIC)).toEqual(
      x.b1!.series === x.a1!.series ? expect.any(Array) : [],
    );
  });

  it("a second paramedic is refused another's retrieve, metadata, rendered and thumbnail: 404, each audited as a denial", async () => {
    const paths = [
      instancePath('b1'),
      `${instancePath('b1')}/metadata`,
      `${instancePath('b1')}/rendered`,
      `${instancePath('b1')}/thumbnail`,
      `/studies/${x.b1!.study}/series/${x.b1!.series}/metadata`,
    ];
    for (const path of paths) {
      const requestId = `a19-deny-${randomUUID()}`;
      const res = await get(path, MEDIC, { 'X-Request-Id': requestId });
      if (x.b1!.series === x.a1!.series && path.endsWith(`${x.b1!.series}/metadata`)) continue;
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const events = await eventsOf(requestId);
      expect(events, path).toEqual([
        expect.objectContaining({ action: 'access.denied', outcome: 'denied', xray_id: null }),
      ]);
      expect(events[0]?.details).toMatchObject({ denial: 'not_owner' });
    }
    // The shared study: A's retrieve holds A's instance only, and is audited per that X-ray.
    const requestId = `a19-mixed-${randomUUID()}`;
    const res = await get(`/studies/${SHARED_STUDY}/metadata`, MEDIC, { 'X-Request-Id': requestId });
    expect(res.status).toBe(200);
    const meta = (await res.json()) as Dataset[];
    expect(meta.map((d) => value(d, '00080018'))).toEqual([x.a1!.sop]);
    expect((await eventsOf(requestId)).map((e) => [e.action, e.xray_id])).toEqual([['xray.read', x.a1!.id]]);
    // A study thumbnail shows one of A's instances, never B's.
    const thumbId = `a19-thumb-${randomUUID()}`;
    const thumb = await get(`/studies/${SHARED_STUDY}/thumbnail`, MEDIC, { 'X-Request-Id': thumbId });
    expect(thumb.status).toBe(200);
    await thumb.arrayBuffer();
    expect((await eventsOf(thumbId)).map((e) => [e.action, e.xray_id])).toEqual([['xray.preview', x.a1!.id]]);
  });

  it('a token with no role is refused everywhere (403), audited; a doctor and an admin read, audited per X-ray', async () => {
    for (const path of [
      '/studies',
      `/studies/${SHARED_STUDY}/series`,
      '/instances',
      instancePath('a1'),
      `${instancePath('a1')}/metadata`,
      `${instancePath('a1')}/rendered`,
      `/studies/${SHARED_STUDY}/thumbnail`,
    ]) {
      const requestId = `a19-norole-${randomUUID()}`;
      const res = await get(path, NO_ROLE, { 'X-Request-Id': requestId });
      expect(res.status, path).toBe(403);
      expect(
        (await eventsOf(requestId)).map((e) => e.action),
        path,
      ).toEqual(['access.denied']);
    }
    const noRolePreview = await fetch(`${server.url}/xrays/${x.a1!.id}/preview`, {
      headers: { 'X-Test-Actor': NO_ROLE },
    });
    expect(noRolePreview.status).toBe(403);
    for (const actor of [DOCTOR, ADMIN]) {
      const requestId = `a19-read-${randomUUID()}`;
      const res = await get(`/studies/${SHARED_STUDY}/metadata`, actor, { 'X-Request-Id': requestId });
      expect(res.status).toBe(200);
      expect(((await res.json()) as Dataset[]).length).toBe(3);
      expect((await eventsOf(requestId)).map((e) => `${e.action} ${e.xray_id}`).sort()).toEqual(
        [x.a1!.id, x.b1!.id, x.b2!.id].map((id) => `xray.read ${id}`).sort(),
      );
    }
  });

  it("an upload reusing another's SOP Instance UID does not hide their instance: DICOMweb serves theirs (the one stored first), the reuse only by REST, flagged; the same file twice is one", async () => {
    const sopInstanceUid = '1.2.826.0.1.3680043.10.1919.77.1';
    const studyA = '1.2.826.0.1.3680043.10.1919.77';
    const studyB = '1.2.826.0.1.3680043.10.1919.78';
    const original = makeDicom({ rows: 16, columns: 16, seed: 1977, studyInstanceUid: studyA, sopInstanceUid });
    const reuse = makeDicom({ rows: 16, columns: 16, seed: 1978, studyInstanceUid: studyB, sopInstanceUid });
    const ids: string[] = [];
    for (const [actor, bytes, patientId] of [
      [MEDIC, original, 'P-1977'],
      // The same file again under another id: still one instance.
      [MEDIC, original, 'P-1977'],
      [OTHER, reuse, 'P-1978'],
    ] as const) {
      const id = randomUUID();
      const res = await postXray(server.url, validMetadata({ id, patientId }), blobOf(bytes), {
        'X-Test-Actor': actor,
      });
      expect(res.status).toBe(201);
      ids.push(id);
    }
    // One file per SOP Instance UID, whose bytes were stored first, even when the reuse names
    // another study: the reuse's study has no instance to show.
    const studies = await json(`/studies?StudyInstanceUID=${studyA}%5C${studyB}`, DOCTOR);
    expect(studies.map((d) => value(d, '0020000D'))).toEqual([studyA]);
    expect(studies[0]!['00201208']).toEqual({ vr: 'IS', Value: [1] });
    const instances = await json(`/instances?SOPInstanceUID=${sopInstanceUid}`, DOCTOR);
    expect(instances.map((d) => value(d, '00100020'))).toEqual(['P-1977']);
    expect(await json(`/studies/${studyA}/instances`, MEDIC)).toHaveLength(1);
    // Nor to the reuse's own capturer, under either study.
    expect((await get(`/studies/${studyB}/metadata`, OTHER)).status).toBe(404);
    const scoped = await get(`/instances?SOPInstanceUID=${sopInstanceUid}`, OTHER, {
      Accept: 'application/dicom+json',
    });
    expect(scoped.status === 200 ? await scoped.json() : []).toEqual([]);
    // The REST resource says which X-ray DICOMweb does not serve under the UID (and nothing of whose it is).
    const flags = await Promise.all(
      ids.map(async (id) => {
        const res = await fetch(`${server.url}/xrays/${id}`, { headers: { 'X-Test-Actor': DOCTOR } });
        return ((await res.json()) as { dicomUidConflict: unknown }).dicomUidConflict;
      }),
    );
    expect(flags).toEqual([false, false, true]);
  });

  it('QIDO: LIKE metacharacters, backslashes and SQL-ish values match literally; limit and offset extremes', async () => {
    const names = async (q: string) => (await json(`/studies?${q}`, DOCTOR)).map((d) => value(d, '0020000D')).sort();
    // `%` and `_` are no wildcards: "Ab%_c" matches the name holding them, not "Abxyc".
    expect(await names(`PatientName=${encodeURIComponent('ab%_c*')}`)).toEqual([SHARED_STUDY]);
    expect(await names(`PatientName=${encodeURIComponent('ab__c*')}`)).toEqual([]);
    expect(await names(`PatientName=${encodeURIComponent('%')}`)).toEqual([]);
    expect(await names(`PatientName=${encodeURIComponent('ab?yc*')}`)).toEqual([OWN_STUDY]);
    expect(await names(`PatientID=${encodeURIComponent("' OR '1'='1")}`)).toEqual([]);
    expect(await names(`PatientID=${encodeURIComponent('P-199%')}`)).toEqual([]);
    expect(await names(`PatientID=${encodeURIComponent('P-199*')}`)).toEqual([OWN_STUDY, SHARED_STUDY].sort());
    expect(await names(`PatientName=${encodeURIComponent('\\')}`)).toEqual([]);
    expect(await names(`PatientName=${encodeURIComponent('ab\\*')}`)).toEqual([]);
    expect(await names(`StudyInstanceUID=${SHARED_STUDY}%5C${OWN_STUDY}`)).toEqual([OWN_STUDY, SHARED_STUDY].sort());
    expect(await names('limit=0')).toEqual([]);
    expect(await names('offset=2147483647')).toEqual([]);
    for (const bad of [
      'limit=-1',
      'limit=1001',
      'offset=2147483648',
      'offset=99999999999999999999',
      'limit=1&limit=2',
      'limit=1e3',
      "StudyInstanceUID=1.2'--",
      'PatientName=%00',
      'StudyDate=20260101-20250101',
      'NoSuchKeyword=1',
      'includefield=NoSuchKeyword',
    ]) {
      const res = await get(`/studies?${bad}`, DOCTOR, { Accept: 'application/dicom+json' });
      expect(res.status, bad).toBe(400);
      expect(res.headers.get('content-type'), bad).toMatch(/^application\/problem\+json/);
    }
  });

  it('odd path shapes: encoded slashes, over-long or non-UID segments are 400 problem+json; unknown ones 404', async () => {
    for (const path of [
      `/studies/${SHARED_STUDY}%2F..%2F${OWN_STUDY}/metadata`,
      `/studies/${'1'.repeat(65)}/metadata`,
      `/studies/1.2.x/metadata`,
      `/studies/${SHARED_STUDY}/series/${x.a1!.series}%2Finstances/metadata`,
      `/studies/%2e%2e/metadata`,
    ]) {
      const res = await get(path, DOCTOR, { Accept: 'application/dicom+json' });
      expect([400, 404], path).toContain(res.status);
      expect(res.headers.get('content-type'), path).toMatch(/^application\/problem\+json/);
    }
    const unknown = await get('/studies/1.2.3.4.5.6/metadata', DOCTOR);
    expect(unknown.status).toBe(404);
    // A trailing slash is the same resource.
    expect((await get(`/studies/${OWN_STUDY}/metadata/`, MEDIC)).status).toBe(200);
    // Another case, a double slash, no token: never an unauthenticated answer with data.
    for (const p of ['/DICOM-WEB/studies', '/Dicom-Web/studies', '//dicom-web/studies', '/dicom-web//studies']) {
      const res = await fetch(`${server.url}${p}`, { headers: { Accept: 'application/dicom+json' } });
      expect([401, 404], p).toContain(res.status);
      expect(res.headers.get('content-type'), p).toMatch(/^application\/problem\+json/);
    }
    // Resources PS3.18 has that are not served here: problem+json, not Express's HTML.
    for (const p of [`/studies/${OWN_STUDY}/rendered`, `/studies/${OWN_STUDY}/series/${x.a2!.series}/rendered`]) {
      const res = await get(p, MEDIC);
      expect([404, 405], p).toContain(res.status);
      expect(res.headers.get('content-type'), p).toMatch(/^application\/problem\+json/);
    }
  });

  it('rendering parameters out of range are 400 problem+json, before anything is decoded; nothing cached', async () => {
    const path = `${instancePath('a2')}/rendered`;
    for (const q of [
      'viewport=0,0',
      'viewport=100000,100000',
      'viewport=10,10,0,0,0,10',
      'viewport=10,10,999999,0,10,10',
      'viewport=10',
      'quality=0',
      'quality=101',
      'quality=abc',
      'window=40,0',
      'window=40,-10',
      'window=40,0.5',
      'window=40,0,sigmoid',
      'window=40,100,nonsense',
      'window=NaN,100',
      'window=1e999,100',
      'window=40,100&window=50,100',
      'viewport=64,64&viewport=32,32',
    ]) {
      const res = await get(`${path}?${q}`, MEDIC);
      expect(res.status, q).toBe(400);
      expect(res.headers.get('content-type'), q).toMatch(/^application\/problem\+json/);
    }
    // A source region past the image is refused (the image is 32 × 32).
    const outside = await get(`${path}?viewport=16,16,40,40,10,10`, MEDIC);
    expect(outside.status).toBe(400);
    for (const q of ['size=0', 'size=63', 'size=2049', 'size=-5', 'size=1e3']) {
      const res = await fetch(`${server.url}/xrays/${x.a2!.id}/preview?${q}`, { headers: { 'X-Test-Actor': MEDIC } });
      expect(res.status, q).toBe(400);
    }
    expect(await server.store.list(rendersPrefixOf(x.a2!.id))).toEqual([]);
    // A huge window center is a valid (if useless) window: an image, not a 500.
    const huge = await get(`${path}?window=1e300,1e300`, MEDIC);
    expect(huge.status).toBe(200);
    const tiny = await get(`${path}?window=-1e300,1e-300,sigmoid`, MEDIC);
    expect(tiny.status).toBe(200);
  });

  it('the render cache is bounded per X-ray: distinct parameters past the bound are served, not stored', async () => {
    await store('many', MEDIC, { seed: 1998 }, 'P-1998');
    const path = `${instancePath('many')}/rendered`;
    for (let n = 1; n <= MAX_RENDERS_PER_XRAY + 6; n++) {
      const res = await get(`${path}?viewport=${n},${n}`, MEDIC);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    expect((await server.store.list(rendersPrefixOf(x.many!.id))).length).toBe(MAX_RENDERS_PER_XRAY);
    // Still served from the cache when it holds the render.
    const again = await get(`${path}?viewport=1,1`, MEDIC);
    expect(again.status).toBe(200);
  }, 120_000);

  it('a deleted X-ray vanishes from QIDO, WADO and rendered, and its DICOMweb render cache entries go with it', async () => {
    await store('gone', MEDIC, { seed: 1999 }, 'P-1999');
    const g = x.gone!;
    for (const p of ['/thumbnail', '/rendered', '/rendered?viewport=20,20'])
      expect((await get(`${instancePath('gone')}${p}`, MEDIC)).status).toBe(200);
    const keys = await server.store.list(rendersPrefixOf(g.id));
    expect(keys.length).toBe(3);
    for (const key of keys) {
      const chunks: Buffer[] = [];
      for await (const c of await server.store.get(key)) chunks.push(Buffer.from(c as Uint8Array));
      const stored = Buffer.concat(chunks);
      expect(stored.includes(Buffer.from([0xff, 0xd8, 0xff])), key).toBe(false);
      expect(stored.includes(Buffer.from('JFIF')), key).toBe(false);
    }
    const del = await fetch(`${server.url}/xrays/${g.id}`, { method: 'DELETE', headers: { 'X-Test-Actor': ADMIN } });
    expect(del.status).toBe(204);
    expect(await server.store.list(rendersPrefixOf(g.id))).toEqual([]);
    expect(await json(`/instances?SOPInstanceUID=${g.sop}`, DOCTOR)).toEqual([]);
    expect(await json(`/studies?StudyInstanceUID=${g.study}`, DOCTOR)).toEqual([]);
    for (const p of ['', '/metadata', '/rendered', '/thumbnail'])
      expect((await get(`${instancePath('gone')}${p}`, DOCTOR)).status, p).toBe(404);
    expect((await get(`/studies/${g.study}/thumbnail`, DOCTOR)).status).toBe(404);
  });

  it('a DELETE while renders of the X-ray are running leaves no render behind', async () => {
    await store('racing', MEDIC, { seed: 1997, rows: 900, columns: 900 }, 'P-1997');
    const r = x.racing!;
    const renders = [64, 96, 128, 160].map((n) =>
      get(`${instancePath('racing')}/rendered?viewport=${n},${n}`, DOCTOR).then(async (res) => {
        await res.arrayBuffer();
        return res.status;
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 30));
    const del = await fetch(`${server.url}/xrays/${r.id}`, { method: 'DELETE', headers: { 'X-Test-Actor': ADMIN } });
    expect(del.status).toBe(204);
    for (const status of await Promise.all(renders)) expect([200, 404]).toContain(status);
    expect(await server.store.list(rendersPrefixOf(r.id))).toEqual([]);
  });

  describe('STOW-RS abuse', () => {
    const stowUrl = (study?: string) => `${server.url}/dicom-web/studies${study ? `/${study}` : ''}`;

    it('the same SOP Instance UID from another paramedic: refused 0111, audited as a denial, A’s X-ray untouched', async () => {
      const sopInstanceUid = '1.2.826.0.1.3680043.10.1919.11.1';
      const bytes = makeDicom({ rows: 16, columns: 16, seed: 1911, patientId: 'P-1911', sopInstanceUid });
      const first = await stowAs(server.url, MEDIC, [{ bytes }]);
      expect(first.status).toBe(200);
      const [stored] = readStowAnswer(await first.json()).stored;
      for (const other of [
        bytes,
        makeDicom({ rows: 16, columns: 16, seed: 1911, patientId: 'P-1912', sopInstanceUid }),
      ]) {
        const requestId = `a19-stow-dup-${randomUUID()}`;
        const res = await stowAs(server.url, OTHER, [{ bytes: other }], { headers: { 'X-Request-Id': requestId } });
        expect(res.status, await res.clone().text()).toBe(409);
        const answer = readStowAnswer(await res.json());
        expect(answer.stored).toEqual([]);
        expect(answer.failed).toEqual([expect.objectContaining({ reason: 0x0111 })]);
        expect((await eventsOf(requestId)).map((e) => [e.action, e.outcome])).toEqual([['access.denied', 'denied']]);
      }
      expect(await rowsOfSop(server.pool, stored!.sopInstanceUid)).toEqual([
        expect.objectContaining({ captured_by_sub: 'medic-a19' }),
      ]);
    });

    it('the same SOP Instance UID twice in one request: stored once; other bytes the second time fail 0111', async () => {
      const one = makeDicom({ rows: 16, columns: 16, seed: 1921, patientId: 'P-1921' });
      const res = await stowAs(server.url, MEDIC, [{ bytes: one }, { bytes: one }]);
      expect(res.status).toBe(200);
      const answer = readStowAnswer(await res.json());
      expect(answer.stored).toHaveLength(2);
      expect(await rowsOfSop(server.pool, answer.stored[0]!.sopInstanceUid)).toHaveLength(1);
      const sopInstanceUid = '1.2.826.0.1.3680043.10.1919.12.1';
      const two = makeDicom({ rows: 16, columns: 16, seed: 1922, patientId: 'P-1922', sopInstanceUid });
      const twoOther = makeDicom({ rows: 16, columns: 16, seed: 1922, patientId: 'P-1923', sopInstanceUid });
      const mixed = await stowAs(server.url, MEDIC, [{ bytes: two }, { bytes: twoOther }]);
      expect(mixed.status).toBe(202);
      const m = readStowAnswer(await mixed.json());
      expect(m.stored).toHaveLength(1);
      expect(m.failed).toEqual([expect.objectContaining({ reason: 0x0111 })]);
    });

    it('framing abuse is 400 and stores nothing: no boundary, a wrong boundary, no closing delimiter, an empty body', async () => {
      const before = (await storedObjects(server)).length;
      const rowsBefore = await countRows(server);
      const bytes = makeDicom({ rows: 16, columns: 16, seed: 1931, patientId: 'P-1931' });
      const cases: [string, Parameters<typeof postStow>[2]][] = [
        ['no boundary', { contentType: 'multipart/related; type="application/dicom"' }],
        ['wrong boundary', { contentType: 'multipart/related; type="application/dicom"; boundary=nope' }],
        ['no closing', { closing: false }],
        ['no closing, chunked', { closing: false, chunked: true }],
      ];
      for (const [name, opts] of cases) {
        const res = await stowAs(server.url, MEDIC, [{ bytes }], opts);
        expect(res.status, name).toBe(400);
        expect(res.headers.get('content-type'), name).toMatch(/^application\/problem\+json/);
      }
      const empty = await fetch(stowUrl(), {
        method: 'POST',
        headers: {
          'X-Test-Actor': MEDIC,
          'content-type': 'multipart/related; type="application/dicom"; boundary=x',
        },
        body: '',
      });
      expect(empty.status).toBe(400);
      expect((await storedObjects(server)).length).toBe(before);
      expect(await countRows(server)).toBe(rowsBefore);
    });

    it('part and body media types as other STOW clients write them: parameters, case, a quoted boundary', async () => {
      const dicom = (seed: number) => makeDicom({ rows: 16, columns: 16, seed, patientId: `P-${seed}` });
      const boundary = 'a19 quoted:boundary';
      const parts = (bytes: Uint8Array, type: string) =>
        Buffer.concat([
          Buffer.from(`--${boundary}\r\nContent-Type: ${type}\r\n\r\n`),
          bytes,
          Buffer.from(`\r\n--${boundary}--\r\n`),
        ]);
      const outcomes: Record<string, number> = {};
      for (const [name, type, seed] of [
        ['transfer-syntax parameter', 'application/dicom; transfer-syntax=1.2.840.10008.1.2.1', 19991],
        ['upper case', 'Application/DICOM', 19992],
      ] as const) {
        const res = await fetch(stowUrl(), {
          method: 'POST',
          headers: {
            'X-Test-Actor': MEDIC,
            Accept: 'application/dicom+json',
            'Content-Type': `Multipart/Related; type="application/dicom"; boundary="${boundary}"`,
          },
          body: parts(dicom(seed), type),
        });
        outcomes[name] = res.status;
      }
      expect(outcomes).toEqual({ 'transfer-syntax parameter': 200, 'upper case': 200 });
    });

    it('a token with no role, and a doctor, may not store: 403, audited, nothing read', async () => {
      for (const actor of [NO_ROLE, DOCTOR]) {
        const requestId = `a19-stow-role-${randomUUID()}`;
        const res = await postStow(stowUrl(), [{ bytes: makeDicom({ rows: 16, columns: 16, seed: 1971 }) }], {
          headers: { 'X-Test-Actor': actor, 'X-Request-Id': requestId },
        });
        expect(res.status, actor).toBe(403);
        expect(
          (await eventsOf(requestId)).map((e) => e.action),
          actor,
        ).toEqual(['access.denied']);
      }
    });

    it('framing that breaks after an instance was stored: 202 naming it stored and the rest failed, not a bare 400', async () => {
      const b = 'a19-partial';
      const one = makeDicom({ rows: 16, columns: 16, seed: 1935, patientId: 'P-1935' });
      const two = makeDicom({ rows: 16, columns: 16, seed: 1936, patientId: 'P-1936' });
      const requestId = `a19-partial-${randomUUID()}`;
      const res = await fetch(stowUrl(), {
        method: 'POST',
        headers: {
          'X-Test-Actor': MEDIC,
          'X-Request-Id': requestId,
          Accept: 'application/dicom+json',
          'content-type': `multipart/related; type="application/dicom"; boundary=${b}`,
        },
        body: Buffer.concat([
          Buffer.from(`--${b}\r\nContent-Type: application/dicom\r\n\r\n`),
          one,
          Buffer.from(`\r\n--${b}\r\nContent-Type: application/dicom\r\n\r\n`),
          two.subarray(0, 500),
        ]),
      });
      expect(res.status).toBe(202);
      const answer = readStowAnswer(await res.json());
      expect(answer.stored).toHaveLength(1);
      expect(answer.failed).toEqual([expect.objectContaining({ reason: 0xc000 })]);
      expect((await rowsOfSop(server.pool, answer.stored[0]!.sopInstanceUid)).length).toBe(1);
      expect((await eventsOf(requestId)).map((e) => `${e.action} ${e.outcome}`)).toEqual([
        'xray.create success',
        'xray.create failed',
      ]);
    });

    it('a part that is not DICOM, and a part larger than MAX_UPLOAD_BYTES, fail per instance and leave nothing', async () => {
      const before = await storedObjects(server);
      const huge = makeDicom({ rows: 1100, columns: 1100, seed: 1941, patientId: 'P-1941' });
      const res = await stowAs(server.url, MEDIC, [{ bytes: Buffer.from('hello, not dicom') }, { bytes: huge }], {
        chunked: true,
      });
      expect(res.status).toBe(409);
      const answer = readStowAnswer(await res.json());
      expect(answer.failed.map((f) => f.reason)).toEqual([0xc000, 0xa700]);
      expect(await storedObjects(server)).toEqual(before);
    });
  });

  describe('one file per SOP Instance UID, attacked', () => {
    const flagOf = async (id: string) => {
      const res = await fetch(`${server.url}/xrays/${id}`, { headers: { 'X-Test-Actor': DOCTOR } });
      expect(res.status).toBe(200);
      return ((await res.json()) as { dicomUidConflict: boolean }).dicomUidConflict;
    };
    const servedPatients = async (sop: string) =>
      (await json(`/instances?SOPInstanceUID=${sop}`, DOCTOR)).map((d) => value(d, '00100020'));
    const post = async (id: string, bytes: Uint8Array, actor: string, patientId: string) =>
      postXray(server.url, validMetadata({ id, patientId }), blobOf(bytes), { 'X-Test-Actor': actor });
    const lastSeq = async () =>
      Number(
        (await server.pool.query<{ seq: string }>('SELECT coalesce(max(seq), 0) AS seq FROM xray_changes')).rows[0]!
          .seq,
      );
    /** What a client syncing by the feed, the Doctor Service and the audit trail learnt of a flag since change `after`. */
    const flagNews = async (after: number, ids: string[]) => {
      const feed = (await (
        await fetch(`${server.url}/changes?after=${after}&limit=100`, { headers: { 'X-Test-Actor': DOCTOR } })
      ).json()) as { items: { kind: string; xrayId: string; xray: { dicomUidConflict: boolean } | null }[] };
      const events = await server.pool.query<{ xray_id: string; payload: { data: Record<string, unknown> } }>(
        `SELECT xray_id, payload FROM outbox_events WHERE type = 'xray.updated' AND xray_id = ANY($1::uuid[])
            AND payload->'data'->>'cause' = 'dicom_uid_holder'`,
        [ids],
      );
      const audits = await server.pool.query<{ xray_id: string; actor_sub: string; details: unknown }>(
        `SELECT xray_id, actor_sub, details FROM audit_events WHERE action = 'xray.update' AND xray_id = ANY($1::uuid[])
            AND details->>'cause' = 'dicom_uid_holder'`,
        [ids],
      );
      return ids.map((id) => ({
        feed: feed.items.filter((c) => c.xrayId === id).map((c) => `${c.kind}:${c.xray?.dicomUidConflict ?? '-'}`),
        event: events.rows
          .filter((e) => e.xray_id === id)
          .map((e) => ({ changes: e.payload.data.changes, by: e.payload.data.by })),
        audit: audits.rows.filter((a) => a.xray_id === id).map((a) => ({ actor: a.actor_sub, details: a.details })),
      }));
    };
    const flip = (before: boolean, after: boolean) => ({ dicomUidConflict: { before, after } });
    const flipDetails = (before: boolean, after: boolean) => ({
      before: { dicomUidConflict: before },
      after: { dicomUidConflict: after },
    });

    it('`xray-admin dicom-index` indexing an older X-ray under a UID already served: the served file stays, STOW-RS judges a reuse against it', async () => {
      const sopInstanceUid = '1.2.826.0.1.3680043.10.1919.91.1';
      const older = makeDicom({ rows: 16, columns: 16, seed: 1991, patientId: 'P-1991A', sopInstanceUid });
      const later = makeDicom({ rows: 16, columns: 16, seed: 1992, patientId: 'P-1991B', sopInstanceUid });
      const olderId = randomUUID();
      const laterId = randomUUID();
      expect((await post(olderId, older, MEDIC, 'P-1991A')).status).toBe(201);
      // As if stored before the index existed: its row is gone until the backfill.
      await server.pool.query('DELETE FROM dicom_instances WHERE xray_id = $1', [olderId]);
      expect((await post(laterId, later, OTHER, 'P-1991B')).status).toBe(201);
      expect(await servedPatients(sopInstanceUid)).toEqual(['P-1991B']);
      const since = await lastSeq();
      const out: string[] = [];
      expect(
        await dicomIndexCommand.run([], { out: (l) => out.push(l), err: (l) => out.push(l), env: server.env }),
      ).toBe(0);
      // The file a viewer was already shown under the UID keeps it; the one indexed late is flagged.
      expect(await servedPatients(sopInstanceUid)).toEqual(['P-1991B']);
      expect([await flagOf(olderId), await flagOf(laterId)]).toEqual([true, false]);
      // Its flag turned without the X-ray being written: the feed, an event and the audit say so.
      expect(await flagNews(since, [olderId, laterId])).toEqual([
        {
          feed: ['updated:true'],
          event: [{ changes: flip(false, true), by: null }],
          audit: [
            { actor: 'xray-admin dicom-index', details: { cause: 'dicom_uid_holder', ...flipDetails(false, true) } },
          ],
        },
        { feed: [], event: [], audit: [] },
      ]);
      // The older file's capturer sends it again by STOW-RS: it is not the instance under the UID,
      // so not "stored already" (whose RetrieveURL would serve the other patient's file): refused.
      const again = await stowAs(server.url, MEDIC, [{ bytes: older }]);
      const answer = readStowAnswer(await again.clone().json());
      for (const s of answer.stored) {
        const res = await fetch(s.retrieveUrl, {
          headers: { 'X-Test-Actor': DOCTOR, Accept: 'multipart/related; type="application/dicom"' },
        });
        expect(res.status, `${s.retrieveUrl}: what STOW-RS says is stored is served there`).toBe(200);
        const parts = multipartParts(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type') ?? '');
        expect(
          parts.map((p) => sha256(p.bytes)),
          'what STOW-RS says is stored is what its RetrieveURL serves',
        ).toEqual([sha256(older)]);
      }
      expect(again.status, await again.clone().text()).toBe(409);
      // The served file's own capturer sending it again: stored already.
      const mine = await stowAs(server.url, OTHER, [{ bytes: later }]);
      expect(mine.status, await mine.clone().text()).toBe(200);
    });

    it('two different files under one SOP Instance UID committing out of order: the file served, once served, stays served', async () => {
      const sopInstanceUid = '1.2.826.0.1.3680043.10.1919.92.1';
      const first = makeDicom({ rows: 16, columns: 16, seed: 1993, patientId: 'P-RACE-A', sopInstanceUid });
      const second = makeDicom({ rows: 16, columns: 16, seed: 1994, patientId: 'P-RACE-B', sopInstanceUid });
      // The first upload's transaction held after it began (its uploaded_at taken) and before it
      // indexes: a slow finalize while a second upload starts, indexes and commits.
      const hold = await holdInsertsFor(server, 'xrays', 'P-RACE-A');
      try {
        const firstId = randomUUID();
        const secondId = randomUUID();
        const firstPost = post(firstId, first, MEDIC, 'P-RACE-A');
        // Until the first upload waits on the hold (in its transaction).
        for (let i = 0; (await hold.waiting()) < 1; i++) expect(i).toBeLessThan(5000);
        const res = await post(secondId, second, OTHER, 'P-RACE-B');
        expect(res.status).toBe(201);
        expect(((await res.json()) as { dicomUidConflict: boolean }).dicomUidConflict).toBe(false);
        // A viewer reads the header under the UID now: the second file's.
        expect(await servedPatients(sopInstanceUid)).toEqual(['P-RACE-B']);
        await hold.release();
        const firstRes = await firstPost;
        expect(firstRes.status).toBe(201);
        const firstAnswer = ((await firstRes.json()) as { dicomUidConflict: boolean }).dicomUidConflict;
        // Its frames, asked next, must come from the same file; and exactly one X-ray is flagged,
        // the one its answer said.
        expect(await servedPatients(sopInstanceUid)).toEqual(['P-RACE-B']);
        expect([await flagOf(firstId), await flagOf(secondId)]).toEqual([true, false]);
        expect(firstAnswer).toBe(true);
      } finally {
        await hold.drop();
      }
    });

    it('`xray-admin dicom-index` indexing an older X-ray while an upload under its UID commits: one file served, and every flag and answer says which', async () => {
      const sopInstanceUid = '1.2.826.0.1.3680043.10.1919.93.1';
      const older = makeDicom({ rows: 16, columns: 16, seed: 1995, patientId: 'P-LATE-OLD', sopInstanceUid });
      const upload = makeDicom({ rows: 16, columns: 16, seed: 1996, patientId: 'P-LATE-NEW', sopInstanceUid });
      const olderId = randomUUID();
      const uploadId = randomUUID();
      expect((await post(olderId, older, MEDIC, 'P-LATE-OLD')).status).toBe(201);
      await server.pool.query('DELETE FROM dicom_instances WHERE xray_id = $1', [olderId]);
      // The backfill's insert of the older X-ray held in its statement (a slow disk): the upload
      // comes meanwhile.
      const hold = await holdInsertsFor(server, 'dicom_instances', 'P-LATE-OLD');
      try {
        const backfill = dicomIndexCommand.run([], { out: () => undefined, err: () => undefined, env: server.env });
        for (let i = 0; (await hold.waiting()) < 1; i++) expect(i).toBeLessThan(5000);
        // The upload either answers, or waits for the backfill's lock on the UID.
        let answered: Response | undefined;
        const uploaded = post(uploadId, upload, OTHER, 'P-LATE-NEW').then((r) => (answered = r));
        for (let i = 0; !answered && (await hold.waiting(true)) < 2; i++) expect(i).toBeLessThan(5000);
        // What a viewer was shown once the upload was answered (if it was before the backfill ended).
        const shownFirst = answered ? await servedPatients(sopInstanceUid) : undefined;
        await hold.release();
        expect(await backfill).toBe(0);
        const res = await uploaded;
        expect(res.status).toBe(201);
        const answer = ((await res.json()) as { dicomUidConflict: boolean }).dicomUidConflict;
        const served = await servedPatients(sopInstanceUid);
        expect(served).toHaveLength(1);
        if (shownFirst) expect(served, 'a file served, once served, stays served').toEqual(shownFirst);
        const holder = served[0] === 'P-LATE-NEW' ? uploadId : olderId;
        expect(answer, "the upload's answer says whether it is the file served").toBe(holder !== uploadId);
        expect({ older: await flagOf(olderId), upload: await flagOf(uploadId) }).toEqual({
          older: holder !== olderId,
          upload: holder !== uploadId,
        });
      } finally {
        await hold.drop();
      }
    });

    it("the database's clock stepped back since the holder was indexed: a later upload does not take its UID", async () => {
      const sopInstanceUid = '1.2.826.0.1.3680043.10.1919.95.1';
      const heldId = randomUUID();
      const laterId = randomUUID();
      const bytes = (seed: number, patientId: string) =>
        makeDicom({ rows: 16, columns: 16, seed, patientId, sopInstanceUid });
      expect((await post(heldId, bytes(1990, 'P-CLOCK-A'), MEDIC, 'P-CLOCK-A')).status).toBe(201);
      // As if indexed an hour before the clock was set back an hour (NTP step, a host moved).
      await server.pool.query("UPDATE dicom_instances SET indexed_at = now() + interval '1 hour' WHERE xray_id = $1", [
        heldId,
      ]);
      expect(await servedPatients(sopInstanceUid)).toEqual(['P-CLOCK-A']);
      const res = await post(laterId, bytes(1989, 'P-CLOCK-B'), OTHER, 'P-CLOCK-B');
      expect(res.status).toBe(201);
      expect(((await res.json()) as { dicomUidConflict: boolean }).dicomUidConflict).toBe(true);
      expect(await servedPatients(sopInstanceUid)).toEqual(['P-CLOCK-A']);
      expect([await flagOf(heldId), await flagOf(laterId)]).toEqual([false, true]);
    });

    it('a third and fourth file under a UID (marked on their own), the holder deleted: the next is served, every flag follows', async () => {
      const sopInstanceUid = '1.2.826.0.1.3680043.10.1919.94.1';
      const ids = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
      for (const [i, id] of ids.entries()) {
        const res = await post(
          id,
          makeDicom({ rows: 16, columns: 16, seed: 1997 + i, sopInstanceUid }),
          OTHER,
          `P-4-${i}`,
        );
        expect(res.status).toBe(201);
        expect(((await res.json()) as { dicomUidConflict: boolean }).dicomUidConflict, `upload ${i}`).toBe(i > 0);
      }
      const flags = async () => Promise.all(ids.slice(1).map(flagOf));
      expect(await flags()).toEqual([true, true, true]);
      const since = await lastSeq();
      const del = await fetch(`${server.url}/xrays/${ids[0]}`, {
        method: 'DELETE',
        headers: { 'X-Test-Actor': ADMIN },
      });
      expect(del.status).toBe(204);
      expect(await servedPatients(sopInstanceUid)).toEqual(['P-4-1']);
      expect(await flags()).toEqual([false, true, true]);
      // Only the X-ray whose flag turned has a change, an event (by the admin who deleted) and an audit event.
      const admin = { sub: 'admin-a19' };
      expect(await flagNews(since, ids)).toEqual([
        { feed: ['deleted:-'], event: [], audit: [] },
        {
          feed: ['updated:false'],
          event: [{ changes: flip(true, false), by: admin }],
          audit: [{ actor: 'admin-a19', details: { cause: 'dicom_uid_holder', ...flipDetails(true, false) } }],
        },
        { feed: [], event: [], audit: [] },
        { feed: [], event: [], audit: [] },
      ]);
    });

    it("the holder deleted while its very file is stored for another patient too: that X-ray's file is no longer served, and it says so", async () => {
      const sopInstanceUid = '1.2.826.0.1.3680043.10.1919.96.1';
      const file = makeDicom({ rows: 16, columns: 16, seed: 2001, sopInstanceUid });
      const other = makeDicom({ rows: 16, columns: 16, seed: 2002, sopInstanceUid });
      const [holderId, otherId, sameId] = [randomUUID(), randomUUID(), randomUUID()];
      expect((await post(holderId, file, OTHER, 'P-96-A')).status).toBe(201);
      expect((await post(otherId, other, OTHER, 'P-96-B')).status).toBe(201);
      expect((await post(sameId, file, OTHER, 'P-96-C')).status).toBe(201);
      expect((await servedPatients(sopInstanceUid)).sort()).toEqual(['P-96-A', 'P-96-C']);
      expect([await flagOf(otherId), await flagOf(sameId)]).toEqual([true, false]);
      const since = await lastSeq();
      const del = await fetch(`${server.url}/xrays/${holderId}`, {
        method: 'DELETE',
        headers: { 'X-Test-Actor': ADMIN },
      });
      expect(del.status).toBe(204);
      // The next file indexed under the UID is the other bytes: the copy of the deleted file is hidden now.
      expect(await servedPatients(sopInstanceUid)).toEqual(['P-96-B']);
      expect([await flagOf(otherId), await flagOf(sameId)]).toEqual([false, true]);
      const news = await flagNews(since, [otherId, sameId]);
      expect(news.map((n) => n.feed)).toEqual([['updated:false'], ['updated:true']]);
      expect(news.map((n) => n.event.map((e) => e.changes))).toEqual([[flip(true, false)], [flip(false, true)]]);
      expect(news.map((n) => n.audit.length)).toEqual([1, 1]);
    });
  });
});

describe('issue 19 attacked: STOW-RS on S3, a client that leaves mid-part, two at once', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('s3', {}, { authenticate: headerActor });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('a client that disconnects mid-part leaves no row, no object and no open multipart upload', async () => {
    const bytes = makeDicom({ rows: 3000, columns: 3000, seed: 1951, patientId: 'P-1951' });
    const boundary = `a19-${randomUUID()}`;
    const url = new URL(`${server.url}/dicom-web/studies`);
    const requestId = `a19-gone-${randomUUID()}`;
    await new Promise<void>((resolve) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: {
            'X-Test-Actor': MEDIC,
            'X-Request-Id': requestId,
            'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
            'Transfer-Encoding': 'chunked',
          },
        },
        () => undefined,
      );
      req.on('error', () => resolve());
      req.on('close', () => resolve());
      req.write(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`);
      let at = 0;
      const step = () => {
        if (at >= 12 * 1024 * 1024) {
          // Give the server time to have started its multipart upload, then leave.
          setTimeout(() => req.destroy(), 500);
          return;
        }
        const piece = bytes.subarray(at, at + 256 * 1024);
        at += piece.length;
        if (req.write(piece)) setImmediate(step);
        else req.once('drain', step);
      };
      step();
    });
    const deadline = Date.now() + 20_000;
    for (;;) {
      const uploads = await openMultipartUploads(server.env);
      const objects = await storedObjects(server);
      const rows = await countRows(server);
      const index = await countRows(server, 'dicom_instances');
      const audited = (
        await server.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_events WHERE request_id = $1', [
          requestId,
        ])
      ).rows[0]!.n;
      if (uploads === 0 && objects.length === 0 && rows === 0 && index === 0 && audited > 0) break;
      if (Date.now() > deadline)
        expect({ uploads, objects, rows, index }).toEqual({ uploads: 0, objects: [], rows: 0, index: 0 });
      await new Promise((r) => setTimeout(r, 250));
    }
    // The server had begun storing it: the attempt is on the trail as a failed create.
    const { rows: events } = await server.pool.query<{ action: string; outcome: string; error: string }>(
      `SELECT action, outcome, details->>'error' AS error FROM audit_events WHERE request_id = $1`,
      [requestId],
    );
    expect(events).toEqual([{ action: 'xray.create', outcome: 'failed', error: expect.any(String) }]);
  }, 60_000);

  it('the same instance sent twice at once: one X-ray, both answered, nothing orphaned', async () => {
    const bytes = makeDicom({ rows: 64, columns: 64, seed: 1961, patientId: 'P-1961' });
    const send = (actor: string) => stowAs(server.url, actor, [{ bytes }], { chunked: true });
    const [a, b] = await Promise.all([send(MEDIC), send(MEDIC)]);
    expect([a.status, b.status].sort()).toEqual([200, 200]);
    const [c, d] = await Promise.all([
      send(OTHER),
      stowAs(server.url, OTHER, [{ bytes: makeDicom({ rows: 64, columns: 64, seed: 1962, patientId: 'P-1962' }) }]),
    ]);
    expect(c.status).toBe(409);
    expect(d.status).toBe(200);
    const { rows } = await server.pool.query<{ sub: string; n: number }>(
      `SELECT captured_by_sub AS sub, count(*)::int AS n FROM xrays WHERE patient_id = 'P-1961' GROUP BY 1`,
    );
    expect(rows).toEqual([{ sub: 'medic-a19', n: 1 }]);
    expect(await openMultipartUploads(server.env)).toBe(0);
  });

  it('two paramedics sending other bytes under one SOP Instance UID at once: one X-ray, the other refused, no orphan', async () => {
    const sopInstanceUid = '1.2.826.0.1.3680043.10.1919.88.1';
    const send = (actor: string, seed: number) =>
      stowAs(
        server.url,
        actor,
        [{ bytes: makeDicom({ rows: 900, columns: 900, seed, patientId: `P-${seed}`, sopInstanceUid }) }],
        { chunked: true },
      );
    const [a, b] = await Promise.all([send(MEDIC, 1981), send(OTHER, 1982)]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const rows = await rowsOfSop(server.pool, sopInstanceUid);
    expect(rows).toHaveLength(1);
    const objects = (await storedObjects(server)).filter((k) => k.includes(rows[0]!.id));
    expect(objects.length).toBeGreaterThan(0);
    const all = await storedObjects(server);
    const { rows: keys } = await server.pool.query<{ object_key: string }>('SELECT object_key FROM xrays');
    // Every X-ray object belongs to a row (its recovery record beside it).
    for (const k of all.filter((o) => o.startsWith('xrays/')))
      expect(
        keys.some((r) => k.startsWith(r.object_key)),
        k,
      ).toBe(true);
    expect(await openMultipartUploads(server.env)).toBe(0);
  }, 60_000);
});

describe('issue 19 attacked: instances and uploads that are no image a renderer can show', () => {
  let server: TestServer;
  let dir: string;
  beforeAll(async () => {
    server = await startTestServer('fs', {}, { authenticate: headerActor });
    dir = await mkdtemp(path.join(tmpdir(), 'a19-'));
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** makeDicom's file with dcmodify's changes; stored (201) or refused at the door (4xx), never 500. */
  async function variant(
    seed: number,
    mods: string[],
  ): Promise<{ status: number; id: string; sop: string; study: string; series: string }> {
    const file = path.join(dir, `v${seed}.dcm`);
    await writeFile(file, makeDicom({ rows: 32, columns: 32, seed, patientId: `P-${seed}` }));
    await run('dcmodify', ['-nb', ...mods.flatMap((m) => ['-i', m]), file]);
    const id = randomUUID();
    const res = await postXray(
      server.url,
      validMetadata({ id, patientId: `P-${seed}` }),
      blobOf(await readFile(file)),
      {
        'X-Test-Actor': MEDIC,
      },
    );
    const body = (await res.json()) as {
      dicom?: { studyInstanceUid: string; seriesInstanceUid: string; sopInstanceUid: string };
    };
    return {
      status: res.status,
      id,
      sop: body.dicom?.sopInstanceUid ?? '',
      study: body.dicom?.studyInstanceUid ?? '',
      series: body.dicom?.seriesInstanceUid ?? '',
    };
  }

  it('a stored DICOM whose pixels cannot be shown is 422 not_renderable at every rendered door, never a 500', async () => {
    const cases: [string, string[]][] = [
      ['palette without its LUT', ['(0028,0004)=PALETTE COLOR']],
      ['RGB declared over one sample', ['(0028,0002)=3', '(0028,0004)=RGB']],
      ['32 bits allocated', ['(0028,0100)=32', '(0028,0101)=32', '(0028,0102)=31']],
      ['1 bit allocated', ['(0028,0100)=1', '(0028,0101)=1', '(0028,0102)=0']],
      ['no rows', ['(0028,0010)=0']],
      ['high bit past bits stored', ['(0028,0102)=40']],
      ['YBR over one sample', ['(0028,0004)=YBR_FULL']],
      ['two frames declared', ['(0028,0008)=2']],
    ];
    const outcomes: string[] = [];
    for (const [n, [name, mods]] of cases.entries()) {
      const v = await variant(19700 + n, mods);
      expect(v.status, name).toBeLessThan(500);
      if (v.status !== 201) {
        outcomes.push(`${name}: refused at ingest ${v.status}`);
        continue;
      }
      const preview = await fetch(`${server.url}/xrays/${v.id}/preview`, { headers: { 'X-Test-Actor': MEDIC } });
      const rendered = await fetch(
        `${server.url}/dicom-web/studies/${v.study}/series/${v.series}/instances/${v.sop}/rendered`,
        { headers: { 'X-Test-Actor': MEDIC } },
      );
      outcomes.push(`${name}: preview ${preview.status}, rendered ${rendered.status}`);
      for (const res of [preview, rendered]) {
        expect([200, 422], `${name}: ${await res.clone().text()}`).toContain(res.status);
        if (res.status === 422) expect(await res.json()).toMatchObject({ code: 'not_renderable' });
      }
    }
    console.log(outcomes.join('\n'));
  });

  it('a PNG or JPEG X-ray whose image data is damaged past its structure: 422 not_renderable, never a 500', async () => {
    const jpeg = Buffer.from(makeJpeg({ width: 64, height: 64, seed: 1981 }));
    // The entropy-coded data after the SOS header scrambled (markers kept out of it).
    const sos = jpeg.indexOf(Buffer.from([0xff, 0xda]));
    for (let i = sos + 20; i < jpeg.length - 4; i++) jpeg[i] = (jpeg[i]! * 7 + 13) & 0x7f;
    const png = Buffer.from(makePng({ width: 64, height: 64, seed: 1982 }));
    const outcomes: string[] = [];
    for (const [name, bytes] of [
      ['jpeg', jpeg],
      ['png', png],
    ] as const) {
      const id = randomUUID();
      const res = await postXray(server.url, validMetadata({ id }), blobOf(bytes), { 'X-Test-Actor': MEDIC });
      expect(res.status, name).toBeLessThan(500);
      if (res.status !== 201) {
        outcomes.push(`${name}: refused at ingest ${res.status}`);
        continue;
      }
      const preview = await fetch(`${server.url}/xrays/${id}/preview?size=64`, { headers: { 'X-Test-Actor': MEDIC } });
      outcomes.push(`${name}: preview ${preview.status}`);
      expect([200, 422], `${name}: ${await preview.clone().text()}`).toContain(preview.status);
    }
    console.log(outcomes.join('\n'));
  });
});
