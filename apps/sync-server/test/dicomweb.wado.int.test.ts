import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dcmtk, makeDicom, makePng } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobOf, headerActor, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';
import { startTestIssuer, SUBJECTS, type Person, type TestIssuer } from './oidc-tokens.ts';
import { multipartParts } from './multipart-parts.ts';

const MEDIC = 'medic-wado; paramedic';
const OTHER_MEDIC = 'medic-wado-other; paramedic';
const DOCTOR = 'doctor-wado; doctor';
const NO_ROLE = 'nobody-wado; ';

const PLAIN_STUDY = '1.2.826.0.1.3680043.10.19.11';
const PLAIN_SERIES = '1.2.826.0.1.3680043.10.19.11.1';
const PACKED_STUDY = '1.2.826.0.1.3680043.10.19.12';
const PACKED_SERIES = '1.2.826.0.1.3680043.10.19.12.1';
const UTF8_STUDY = '1.2.826.0.1.3680043.10.19.13';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const DICOM_MULTIPART = 'multipart/related; type="application/dicom"';

type Attribute = { vr: string; Value?: unknown[]; InlineBinary?: string; BulkDataURI?: string };
type Dataset = Record<string, Attribute>;

interface Sample {
  name: string;
  path: string;
  bytes: Buffer;
  sha256: string;
  study: string;
  series: string;
  instance: string;
  transferSyntax: string;
  xrayId: string;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * WADO-RS against the real server (PostgreSQL, disk storage), with files made and read by dcmtk:
 * `/metadata` is what dcm2json says of the same file, attribute by attribute; a retrieve gives
 * back the stored bytes (sha256); scope, refusals and the audit trail are the REST API's.
 */
describe('WADO-RS (retrieve and /metadata)', () => {
  let server: TestServer;
  let dir: string;
  const samples: Sample[] = [];
  const sample = (name: string) => {
    const s = samples.find((x) => x.name === name);
    if (!s) throw new Error(name);
    return s;
  };

  const wado = (p: string, actor = DOCTOR, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/dicom-web${p}`, { headers: { 'X-Test-Actor': actor, ...headers } });
  const instancePath = (s: Sample) => `/studies/${s.study}/series/${s.series}/instances/${s.instance}`;

  async function make(
    name: string,
    options: NonNullable<Parameters<typeof makeDicom>[0]>,
    transform?: (input: string, output: string) => Promise<void>,
  ): Promise<void> {
    const source = path.join(dir, `${name}.source.dcm`);
    await writeFile(source, makeDicom({ rows: 64, columns: 64, ...options }));
    const file = path.join(dir, `${name}.dcm`);
    if (transform) await transform(source, file);
    else await writeFile(file, await readFile(source));
    const bytes = await readFile(file);
    const xrayId = randomUUID();
    const res = await postXray(
      server.url,
      validMetadata({ id: xrayId, patientId: options.patientId ?? 'PAT-0001' }),
      blobOf(bytes),
      { 'X-Test-Actor': MEDIC },
    );
    expect(res.status, await res.clone().text()).toBe(201);
    const dump = (await dcmtk('dcmdump', ['-Un', '+P', '0002,0010', '+P', '0008,0018', file])).stdout;
    const [ts = '', sop = ''] = [...dump.matchAll(/\[([0-9.]+)\]/g)].map((m) => m[1]);
    samples.push({
      name,
      path: file,
      bytes,
      sha256: sha256(bytes),
      study: options.studyInstanceUid ?? '',
      series: options.seriesInstanceUid ?? '',
      instance: sop,
      transferSyntax: ts,
      xrayId,
    });
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'wado-'));
    server = await startTestServer('fs', {}, { authenticate: headerActor });
    const plain = { studyInstanceUid: PLAIN_STUDY, seriesInstanceUid: PLAIN_SERIES, patientId: 'P-1911' };
    await make('monochrome2', { ...plain, seed: 11, patientName: 'Doe^John' });
    // MONOCHROME1 with a window in the file, and the attributes a study list shows.
    await make('monochrome1', { ...plain, seed: 12, patientName: 'Doe^John' }, async (input, output) => {
      await writeFile(output, await readFile(input));
      await dcmtk('dcmodify', [
        '-nb',
        ...['-i', '(0028,0004)=MONOCHROME1', '-i', '(0028,1050)=2048\\1024', '-i', '(0028,1051)=4096\\2048'],
        ...[
          '-i',
          '(0008,0050)=ACC-1911',
          '-i',
          '(0008,1030)=Thorax pa',
          '-i',
          '(0020,0013)=7',
          '-i',
          '(0008,0030)=101500',
        ],
        output,
      ]);
    });
    const packed = { studyInstanceUid: PACKED_STUDY, seriesInstanceUid: PACKED_SERIES, patientId: 'P-1912' };
    const compress = (tool: string) => async (input: string, output: string) => {
      await dcmtk(tool, [input, output]);
    };
    await make('jpeg-lossless', { ...packed, seed: 21 }, compress('dcmcjpeg'));
    await make('jpeg-ls', { ...packed, seed: 22 }, compress('dcmcjpls'));
    await make('rle', { ...packed, seed: 23 }, compress('dcmcrle'));
    await make('utf8', {
      studyInstanceUid: UTF8_STUDY,
      seriesInstanceUid: `${UTF8_STUDY}.1`,
      seed: 31,
      patientName: 'Müller^Jörg',
      patientId: 'P-1913',
    });
    const png = await postXray(server.url, validMetadata({ patientId: 'P-1911' }), blobOf(makePng()), {
      'X-Test-Actor': MEDIC,
    });
    expect(png.status).toBe(201);
  });
  afterAll(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** dcm2json's DICOM JSON of a file; of compressed pixel data it writes none, so a copy without it. */
  async function dcm2json(s: Sample): Promise<Dataset> {
    let file = s.path;
    if (s.transferSyntax !== EXPLICIT_LE) {
      file = `${s.path}.nopixels.dcm`;
      await writeFile(file, s.bytes);
      await dcmtk('dcmodify', ['-nb', '-ea', '(7fe0,0010)', file]);
    }
    return JSON.parse((await dcmtk('dcm2json', ['-fc', file])).stdout) as Dataset;
  }

  it('/metadata is what dcm2json reads from the same file, attribute by attribute (MONOCHROME1/2, JPEG, JPEG-LS, RLE, UTF-8)', async () => {
    expect(samples.map((s) => s.transferSyntax)).toEqual([
      EXPLICIT_LE,
      EXPLICIT_LE,
      '1.2.840.10008.1.2.4.70',
      '1.2.840.10008.1.2.4.80',
      '1.2.840.10008.1.2.5',
      EXPLICIT_LE,
    ]);
    for (const s of samples) {
      const res = await wado(`${instancePath(s)}/metadata`, DOCTOR, { Accept: 'application/dicom+json' });
      expect(res.status, s.name).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/dicom\+json/);
      const [ours, ...more] = (await res.json()) as Dataset[];
      expect(more, s.name).toEqual([]);
      if (!ours) throw new Error(s.name);
      const reference = await dcm2json(s);
      const bulk = `${server.url}/dicom-web${instancePath(s)}`;
      for (const [tag, expected] of Object.entries(reference)) {
        const got = ours[tag];
        expect(got?.vr, `${s.name} ${tag} vr`).toBe(expected.vr);
        if (expected.InlineBinary !== undefined) expect(got?.BulkDataURI, `${s.name} ${tag}`).toBe(bulk);
        else expect(got?.Value, `${s.name} ${tag} Value`).toEqual(expected.Value);
      }
      // Nothing dcm2json does not see, but the compressed pixel data it cannot write.
      const extra = Object.keys(ours).filter((t) => !(t in reference));
      expect(extra, s.name).toEqual(s.transferSyntax === EXPLICIT_LE ? [] : ['7FE00010']);
      expect(ours['7FE00010'], s.name).toEqual({
        vr: s.transferSyntax === EXPLICIT_LE ? 'OW' : 'OB',
        BulkDataURI: bulk,
      });
    }
    const m1 = (await (await wado(`${instancePath(sample('monochrome1'))}/metadata`)).json()) as Dataset[];
    expect(m1[0]?.['00280004']).toEqual({ vr: 'CS', Value: ['MONOCHROME1'] });
    expect(m1[0]?.['00281050']).toEqual({ vr: 'DS', Value: [2048, 1024] });
    const utf8 = (await (await wado(`${instancePath(sample('utf8'))}/metadata`)).json()) as Dataset[];
    expect(utf8[0]?.['00100010']).toEqual({ vr: 'PN', Value: [{ Alphabetic: 'Müller^Jörg' }] });
  });

  it('/metadata of a series and a study: every instance; application/json on request; other Accept 406', async () => {
    const study = (await (await wado(`/studies/${PACKED_STUDY}/metadata`)).json()) as Dataset[];
    expect(study.map((d) => d['00080018']?.Value?.[0]).sort()).toEqual(
      ['jpeg-lossless', 'jpeg-ls', 'rle'].map((n) => sample(n).instance).sort(),
    );
    const series = await wado(`/studies/${PLAIN_STUDY}/series/${PLAIN_SERIES}/metadata`, DOCTOR, {
      Accept: 'application/json',
    });
    expect(series.status).toBe(200);
    expect(series.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await series.json()) as Dataset[]).length).toBe(2);
    const refused = await wado(`/studies/${PLAIN_STUDY}/metadata`, DOCTOR, { Accept: 'image/png' });
    expect(refused.status).toBe(406);
    expect(await refused.json()).toMatchObject({ code: 'not_acceptable' });
  });

  it('retrieves an instance, a series and a study as multipart/related, each part the stored bytes (sha256)', async () => {
    for (const s of samples) {
      const res = await wado(instancePath(s), DOCTOR, { Accept: `${DICOM_MULTIPART}; transfer-syntax=*` });
      expect(res.status, s.name).toBe(200);
      const type = res.headers.get('content-type') ?? '';
      expect(type).toMatch(/^multipart\/related; type="application\/dicom"; boundary=/);
      const parts = multipartParts(Buffer.from(await res.arrayBuffer()), type);
      expect(parts).toHaveLength(1);
      expect(parts[0]?.headers).toContain(`Content-Type: application/dicom; transfer-syntax=${s.transferSyntax}`);
      expect(sha256(parts[0]?.bytes ?? Buffer.alloc(0)), s.name).toBe(s.sha256);
    }
    const study = await wado(`/studies/${PACKED_STUDY}`);
    expect(study.status).toBe(200);
    const studyParts = multipartParts(Buffer.from(await study.arrayBuffer()), study.headers.get('content-type') ?? '');
    expect(studyParts.map((p) => sha256(p.bytes)).sort()).toEqual(
      ['jpeg-lossless', 'jpeg-ls', 'rle'].map((n) => sample(n).sha256).sort(),
    );
    const series = await wado(`/studies/${PLAIN_STUDY}/series/${PLAIN_SERIES}`, DOCTOR, {
      Accept: `${DICOM_MULTIPART}; transfer-syntax=${EXPLICIT_LE}`,
    });
    expect(series.status).toBe(200);
    const seriesParts = multipartParts(
      Buffer.from(await series.arrayBuffer()),
      series.headers.get('content-type') ?? '',
    );
    expect(seriesParts.map((p) => sha256(p.bytes)).sort()).toEqual(
      [sample('monochrome2').sha256, sample('monochrome1').sha256].sort(),
    );
  });

  it('another transfer syntax, or another type, is 406; an unknown UID 404; a malformed one 400 (problem+json)', async () => {
    const jpeg = sample('jpeg-lossless');
    const transcode = await wado(instancePath(jpeg), DOCTOR, {
      Accept: `${DICOM_MULTIPART}; transfer-syntax=${EXPLICIT_LE}`,
    });
    expect(transcode.status).toBe(406);
    expect(transcode.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await transcode.json()).toMatchObject({ code: 'not_acceptable', status: 406 });
    expect((await wado(`/studies/${PACKED_STUDY}`, DOCTOR, { Accept: 'application/dicom+json' })).status).toBe(406);
    for (const p of [
      '/studies/1.2.3.4.5.404',
      `/studies/${PLAIN_STUDY}/series/1.2.3.404`,
      `/studies/${PLAIN_STUDY}/series/${PLAIN_SERIES}/instances/1.2.3.404/metadata`,
    ]) {
      const res = await wado(p);
      expect(res.status, p).toBe(404);
      expect(await res.json()).toMatchObject({ code: 'not_found' });
    }
    const bad = await wado(`/studies/${PLAIN_STUDY}/series/abc/metadata`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'bad_request', errors: [{ field: 'series' }] });
  });

  it('another paramedic sees nothing (404, audited as denied), a doctor everything, a token with no role is refused (403, audited)', async () => {
    const s = sample('monochrome2');
    const theirs = `wado-other-${randomUUID()}`;
    const other = await wado(instancePath(s), OTHER_MEDIC, { 'X-Request-Id': theirs });
    expect(other.status).toBe(404);
    expect((await wado(`/studies/${PLAIN_STUDY}/metadata`, OTHER_MEDIC)).status).toBe(404);
    expect((await wado(`/studies/${PLAIN_STUDY}/metadata`, MEDIC)).status).toBe(200);
    const none = `wado-none-${randomUUID()}`;
    const refused = await wado(`/studies/${PLAIN_STUDY}/metadata`, NO_ROLE, { 'X-Request-Id': none });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: 'forbidden' });
    const { rows } = await server.pool.query<{
      request_id: string;
      action: string;
      outcome: string;
      details: Record<string, unknown>;
    }>(`SELECT request_id, action, outcome, details FROM audit_events WHERE request_id = ANY($1) ORDER BY id`, [
      [theirs, none],
    ]);
    expect(rows).toEqual([
      expect.objectContaining({
        request_id: theirs,
        action: 'access.denied',
        outcome: 'denied',
        details: expect.objectContaining({ attempted: 'xray.download', denial: 'not_owner' }),
      }),
      expect.objectContaining({
        request_id: none,
        action: 'access.denied',
        outcome: 'denied',
        details: expect.objectContaining({ attempted: 'xray.read', error: 'forbidden' }),
      }),
    ]);
  });

  it('a retrieve is audited per X-ray as its download, /metadata per X-ray as its read', async () => {
    const retrieveId = `wado-retrieve-${randomUUID()}`;
    const res = await wado(`/studies/${PACKED_STUDY}`, DOCTOR, { 'X-Request-Id': retrieveId });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const metadataId = `wado-metadata-${randomUUID()}`;
    expect((await wado(`/studies/${PLAIN_STUDY}/metadata`, DOCTOR, { 'X-Request-Id': metadataId })).status).toBe(200);
    const events = async (requestId: string) =>
      (
        await server.pool.query<{
          action: string;
          outcome: string;
          xray_id: string;
          patient_id: string;
          details: Record<string, unknown>;
        }>('SELECT action, outcome, xray_id, patient_id, details FROM audit_events WHERE request_id = $1 ORDER BY id', [
          requestId,
        ])
      ).rows;
    const retrieved = await events(retrieveId);
    expect(retrieved.map((e) => e.xray_id).sort()).toEqual(
      ['jpeg-lossless', 'jpeg-ls', 'rle'].map((n) => sample(n).xrayId).sort(),
    );
    for (const e of retrieved)
      expect(e).toMatchObject({
        action: 'xray.download',
        outcome: 'success',
        patient_id: 'P-1912',
        details: { interface: 'dicomweb', dicomweb: 'retrieve', study: PACKED_STUDY },
      });
    const read = await events(metadataId);
    expect(read.map((e) => e.xray_id).sort()).toEqual(
      [sample('monochrome2').xrayId, sample('monochrome1').xrayId].sort(),
    );
    for (const e of read)
      expect(e).toMatchObject({ action: 'xray.read', outcome: 'success', details: { dicomweb: 'metadata' } });
  });

  it('a header longer than 64 KiB: read whole at ingest (to its pixel data), its metadata complete, its retrieve whole', async () => {
    const study = '1.2.826.0.1.3680043.10.19.14';
    await make(
      'long-header',
      { studyInstanceUid: study, seriesInstanceUid: `${study}.1`, seed: 41 },
      async (input, output) => {
        await writeFile(output, await readFile(input));
        // A 70 kB text (UT) after the image attributes, before the pixel data.
        await dcmtk('dcmodify', ['-nb', '-i', `(0040,a160)=${'x'.repeat(70_000)}`, output]);
      },
    );
    const s = sample('long-header');
    expect(s.bytes.indexOf(Buffer.from('xxxx'))).toBeLessThan(64 * 1024);
    const res = await wado(`${instancePath(s)}/metadata`);
    expect(res.status).toBe(200);
    expect(res.headers.get('warning')).toBeNull();
    const [ours] = (await res.json()) as Dataset[];
    const reference = await dcm2json(s);
    expect(reference['0040A160']).toBeDefined();
    expect(ours?.['0040A160']).toEqual(reference['0040A160']);
    // What was read agrees with dcm2json.
    expect(ours?.['00280010']).toEqual(reference['00280010']);
    expect(ours?.['00080018']).toEqual(reference['00080018']);
    const whole = await wado(instancePath(s));
    const parts = multipartParts(Buffer.from(await whole.arrayBuffer()), whole.headers.get('content-type') ?? '');
    expect(parts.map((p) => sha256(p.bytes))).toEqual([s.sha256]);
  });

  it('only DICOM X-rays are in DICOMweb: the PNG has no index row', async () => {
    const { rows } = await server.pool.query<{ n: number; dicom: number }>(
      `SELECT (SELECT count(*)::int FROM dicom_instances) AS n,
              (SELECT count(*)::int FROM xrays WHERE content_type = 'application/dicom') AS dicom`,
    );
    expect(rows[0]).toEqual({ n: samples.length, dicom: samples.length });
  });
});

/** The same doors with real tokens from a real issuer, and the X-ray in S3: JWT, roles, scope. */
describe('DICOMweb with real tokens (OIDC JWT), stored in S3', () => {
  let auth: TestIssuer;
  let server: TestServer;
  const study = '1.2.826.0.1.3680043.10.19.21';
  const file = makeDicom({ rows: 48, columns: 48, seed: 41, studyInstanceUid: study, patientId: 'P-1921' });
  const call = (p: string, who: Person | null, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/dicom-web${p}`, {
      headers: { ...(who ? { Authorization: `Bearer ${auth.tokens[who]}` } : {}), ...headers },
    });

  beforeAll(async () => {
    auth = await startTestIssuer('dicomweb');
    server = await startTestServer('s3', auth.env);
    const res = await postXray(server.url, validMetadata({ patientId: 'P-1921' }), blobOf(file), {
      Authorization: `Bearer ${auth.tokens.owner}`,
    });
    expect(res.status, await res.clone().text()).toBe(201);
  });
  afterAll(async () => {
    await server?.close();
    await auth?.stop();
  });

  it('a doctor searches and retrieves (sha256 equal, decrypted from S3); the capturer too; another paramedic finds nothing', async () => {
    for (const who of ['doctor', 'owner'] as const) {
      const found = (await (await call(`/studies?StudyInstanceUID=${study}`, who)).json()) as Dataset[];
      expect(found, who).toHaveLength(1);
      const res = await call(`/studies/${study}`, who);
      expect(res.status, who).toBe(200);
      const parts = multipartParts(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type') ?? '');
      expect(
        parts.map((p) => sha256(p.bytes)),
        who,
      ).toEqual([sha256(file)]);
    }
    expect(await (await call(`/studies?StudyInstanceUID=${study}`, 'other')).json()).toEqual([]);
    expect((await call(`/studies/${study}/metadata`, 'other')).status).toBe(404);
  });

  it('no token is 401, a token with no role 403 (problem+json)', async () => {
    const none = await call('/studies', null);
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ code: 'unauthenticated' });
    for (const p of ['/studies', `/studies/${study}`, `/studies/${study}/metadata`]) {
      const refused = await call(p, 'noRole');
      expect(refused.status, p).toBe(403);
      expect(await refused.json()).toMatchObject({ code: 'forbidden' });
    }
    const { rows } = await server.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM audit_events WHERE action = 'access.denied' AND actor_sub = $1`,
      [SUBJECTS.noRole],
    );
    expect(rows[0]?.n).toBe(3);
  });
});
