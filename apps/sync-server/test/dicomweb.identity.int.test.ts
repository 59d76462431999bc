import { createHash, randomUUID } from 'node:crypto';
import { XraySchema } from '@xray/shared';
import { makeDicom } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevPatientService, type DevPatientService } from '../src/dev/patient-service.ts';
import { blobOf, headerActor, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';
import { KELLER } from './identity.support.ts';

const PARAMEDIC = 'para-dwid; paramedic';
const DOCTOR = 'doc-dwid; doctor';
const STUDY = '1.2.826.0.1.3680043.10.19.77';
const SERIES = '1.2.826.0.1.3680043.10.19.77.1';
const INSTANCE = '1.2.826.0.1.3680043.10.19.77.1.1';
const CONSISTENT_STUDY = '1.2.826.0.1.3680043.10.19.78';

type Dataset = Record<string, { vr: string; Value?: unknown[] }>;
const value = (d: Dataset | undefined, tag: string): unknown => d?.[tag]?.Value?.[0];
/** The PatientIDs of OtherPatientIDsSequence (0010,1002). */
const otherIds = (d: Dataset | undefined): unknown[] =>
  (d?.['00101002']?.Value ?? []).map((item) => value(item as Dataset, '00100020'));
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * DICOMweb shows the patient the service linked the X-ray to, as the REST API does: a file that
 * names P-1003 but is stored under (or corrected to) another patient is found and shown under
 * that patient, the file's own PatientID kept in OtherPatientIDsSequence, a Warning saying so.
 * Real PostgreSQL and the dev Patient Service (P-1001 Maria Keller, P-1003 Aylin Demir).
 */
describe('DICOMweb patient: the linked patient, not the file’s', () => {
  let patients: DevPatientService;
  let server: TestServer;
  let xrayId = '';
  const file = makeDicom({
    rows: 16,
    columns: 16,
    ...KELLER,
    patientId: 'P-1003',
    studyInstanceUid: STUDY,
    seriesInstanceUid: SERIES,
    sopInstanceUid: INSTANCE,
    seed: 7701,
  });

  beforeAll(async () => {
    patients = await startDevPatientService({ port: 0 });
    server = await startTestServer(
      'fs',
      {
        PATIENT_SERVICE_URL: patients.url,
        PATIENT_SERVICE_TIMEOUT_MS: '1000',
        PATIENT_SERVICE_RETRIES: '1',
        PATIENT_CACHE_TTL_MS: '0',
        LINK_CHECK_TIMEOUT_MS: '500',
      },
      { authenticate: headerActor },
    );
    xrayId = randomUUID();
    const res = await postXray(server.url, validMetadata({ id: xrayId, patientId: 'P-1001' }), blobOf(file), {
      'X-Test-Actor': PARAMEDIC,
    });
    expect(res.status, await res.clone().text()).toBe(201);
    const ok = await postXray(
      server.url,
      validMetadata({ patientId: 'P-1001' }),
      blobOf(makeDicom({ rows: 16, columns: 16, ...KELLER, studyInstanceUid: CONSISTENT_STUDY, seed: 7702 })),
      { 'X-Test-Actor': PARAMEDIC },
    );
    expect(ok.status, await ok.clone().text()).toBe(201);
  });
  afterAll(async () => {
    await server?.close();
    await patients?.stop();
  });

  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, { headers: { 'X-Test-Actor': DOCTOR, ...headers } });
  async function dicomJson(path: string): Promise<{ body: Dataset[]; warning: string | null }> {
    const res = await get(`/dicom-web${path}`, { Accept: 'application/dicom+json' });
    expect(res.status, await res.clone().text()).toBe(200);
    return { body: (await res.json()) as Dataset[], warning: res.headers.get('warning') };
  }
  const studiesOf = async (patientId: string) =>
    (await dicomJson(`/studies?PatientID=${patientId}`)).body.map((d) => value(d, '0020000D'));

  /** The study, series and instance searches and the three /metadata: all show `patientId`. */
  async function expectShownAs(patientId: string, fileDiffers: boolean) {
    for (const path of [
      `/studies?PatientID=${patientId}&StudyInstanceUID=${STUDY}`,
      `/series?PatientID=${patientId}&StudyInstanceUID=${STUDY}`,
      `/instances?PatientID=${patientId}&StudyInstanceUID=${STUDY}`,
      `/studies/${STUDY}/metadata`,
      `/studies/${STUDY}/series/${SERIES}/metadata`,
      `/studies/${STUDY}/series/${SERIES}/instances/${INSTANCE}/metadata`,
    ]) {
      const { body, warning } = await dicomJson(path);
      expect(body, path).toHaveLength(1);
      const [d] = body;
      expect(value(d, '00100020'), path).toBe(patientId);
      // PatientName stays the file's own (the identity Warning says it disagrees).
      expect(value(d, '00100010'), path).toEqual({ Alphabetic: 'KELLER^MARIA' });
      expect(otherIds(d), path).toEqual(fileDiffers ? ['P-1003'] : []);
      if (fileDiffers) expect(warning, path).toMatch(/Patient corrected: PatientID of 1 .*OtherPatientIDsSequence/);
      else expect(warning ?? '', path).not.toMatch(/corrected/);
      expect(warning, path).toMatch(/identity status mismatch/);
    }
  }

  it('stored under P-1001, the file naming P-1003: found and shown under P-1001, the file’s id kept and warned of', async () => {
    expect(await studiesOf('P-1001')).toContain(STUDY);
    expect(await studiesOf('P-1003')).toEqual([]);
    expect(await studiesOf('P-100*')).toContain(STUDY);
    await expectShownAs('P-1001', true);
    // A consistent X-ray: nothing corrected, nothing to warn of.
    const plain = await dicomJson(`/studies?StudyInstanceUID=${CONSISTENT_STUDY}`);
    expect(value(plain.body[0], '00100020')).toBe('P-1001');
    expect(plain.body[0]?.['00101002']).toBeUndefined();
    expect(plain.warning).toBeNull();
    expect((await dicomJson(`/studies/${CONSISTENT_STUDY}/metadata`)).warning).toBeNull();
  });

  it('WADO-RS retrieve serves the original file, byte for byte (the metadata is what is corrected)', async () => {
    const res = await get(`/dicom-web/studies/${STUDY}/series/${SERIES}/instances/${INSTANCE}`, {
      Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*',
    });
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    const start = body.indexOf('\r\n\r\n') + 4;
    const part = body.subarray(start, start + file.length);
    expect(sha256(part)).toBe(sha256(file));
  });

  it('a doctor’s PATCH moving the X-ray to another patient: DICOMweb follows at once', async () => {
    const patch = async (patientId: string) => {
      const read = await get(`/xrays/${xrayId}`);
      const etag = read.headers.get('etag') ?? '';
      const res = await fetch(`${server.url}/xrays/${xrayId}`, {
        method: 'PATCH',
        headers: { 'X-Test-Actor': DOCTOR, 'Content-Type': 'application/json', 'If-Match': etag },
        body: JSON.stringify({ patientId }),
      });
      expect(res.status, await res.clone().text()).toBe(200);
      expect(XraySchema.parse(await res.json()).patientId).toBe(patientId);
    };
    await patch('P-1002');
    expect(await studiesOf('P-1002')).toEqual([STUDY]);
    expect(await studiesOf('P-1001')).not.toContain(STUDY);
    await expectShownAs('P-1002', true);

    // Back to the file's own patient: no correction left, but the name still is not Aylin Demir's.
    await patch('P-1003');
    expect(await studiesOf('P-1003')).toEqual([STUDY]);
    expect(await studiesOf('P-1002')).toEqual([]);
    await expectShownAs('P-1003', false);
  });
});
