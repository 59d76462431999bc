import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeDicom, sha256Hex } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevDoctorService, type DevDoctorService } from '../src/dev/doctor-service.ts';
import { startDevIssuer, type DevIssuer } from '../src/dev/oidc-issuer.ts';
import { startDevPatientService, type DevPatientService } from '../src/dev/patient-service.ts';
import { xrayIdOfSopInstance } from '../src/dicomweb/stow.metadata.ts';
import { countRows, startTestServer, type TestServer } from './harness.ts';
import { expectPublishedEvent, waitFor } from './integrations.support.ts';
import { startOrthanc, type Orthanc } from './orthanc.ts';
import { postStow, readStowAnswer } from './stow.support.ts';

const AUDIENCE = 'xray-api';
const SECRET = 'orthanc-webhook-secret-0123456789';

/**
 * Orthanc (Debian's `orthanc` with `orthanc-dicomweb`) as the DICOMweb client a hospital would
 * point at the server, with real tokens from the development OIDC issuer in its `HttpHeaders`:
 * a paramedic's for storing, a doctor's for reading. Everything Orthanc sends goes through the
 * same doors, policy and audit as any other client.
 */
describe('Orthanc as a DICOMweb client', () => {
  let issuerDir: string;
  let issuer: DevIssuer;
  let patients: DevPatientService;
  let doctorService: DevDoctorService;
  let server: TestServer;
  let orthanc: Orthanc;
  const tokens = { paramedic: '', doctor: '' };

  beforeAll(async () => {
    issuerDir = await mkdtemp(path.join(tmpdir(), 'xray-oidc-'));
    issuer = await startDevIssuer({ port: 0, dataDir: issuerDir, audience: AUDIENCE });
    patients = await startDevPatientService({ port: 0 });
    doctorService = await startDevDoctorService({ port: 0, secret: SECRET });
    server = await startTestServer('s3', {
      AUTH_DISABLED: 'false',
      OIDC_ISSUER: issuer.issuer,
      OIDC_AUDIENCE: AUDIENCE,
      PATIENT_SERVICE_URL: patients.url,
      PATIENT_CACHE_TTL_MS: '0',
      DOCTOR_SERVICE_URL: doctorService.webhookUrl,
      WEBHOOK_SECRET: SECRET,
      OUTBOX_POLL_INTERVAL_MS: '50',
    });
    tokens.paramedic = await issuer.mintToken('paramedic');
    tokens.doctor = await issuer.mintToken('doctor');
    orthanc = await startOrthanc({
      servers: {
        // The modality side stores as a paramedic (who may create X-rays); the reading side reads as a doctor.
        'xray-store': { url: `${server.url}/dicom-web`, token: tokens.paramedic },
        xray: { url: `${server.url}/dicom-web`, token: tokens.doctor },
      },
    });
  });
  afterAll(async () => {
    await orthanc?.stop();
    await server?.close();
    await doctorService?.stop();
    await patients?.stop();
    await issuer?.stop();
    if (issuerDir) await rm(issuerDir, { recursive: true, force: true });
  });

  /** Orthanc's STOW-RS client (a synchronous job): its answer, or the job's failure. */
  const orthancStow = (server: string, resources: string[]) =>
    orthanc.json<{ Description?: string; Instances?: string[] }>('POST', `/dicom-web/servers/${server}/stow`, {
      Resources: resources,
      Synchronous: true,
    });

  it('sends us an instance with STOW-RS: stored as sent, linked, encrypted at rest, audited, announced', async () => {
    const bytes = makeDicom({ rows: 128, columns: 128, seed: 9001, patientId: 'P-1001', patientName: 'KELLER^MARIA' });
    const inOrthanc = await orthanc.upload(bytes);
    // Orthanc keeps the file as received: what it sends is these bytes.
    expect(sha256Hex(await orthanc.file(inOrthanc.ID))).toBe(sha256Hex(bytes));

    await orthancStow('xray-store', [inOrthanc.ID]);

    const sop = (await orthanc.json<{ MainDicomTags: { SOPInstanceUID: string } }>('GET', `/instances/${inOrthanc.ID}`))
      .MainDicomTags.SOPInstanceUID;
    const id = xrayIdOfSopInstance(sop);
    const { rows } = await server.pool.query<{
      sha256: string;
      patient_id: string;
      captured_by_sub: string;
      link: { status: string };
      object_key: string;
    }>('SELECT sha256, patient_id, captured_by_sub, link, object_key FROM xrays WHERE id = $1', [id]);
    expect(rows).toHaveLength(1);
    const x = rows[0]!;
    expect(x.sha256).toBe(sha256Hex(bytes));
    expect(x.patient_id).toBe('P-1001');
    expect(x.captured_by_sub).toBe('demo-paramedic');
    // Linked: the Patient Service knows P-1001.
    expect(x.link.status).toBe('verified');
    // At rest in S3: XRE1 ciphertext.
    const stored: Buffer[] = [];
    for await (const c of await server.store.get(x.object_key)) stored.push(Buffer.from(c as Buffer));
    expect(Buffer.concat(stored).subarray(0, 4).toString('latin1')).toBe('XRE1');
    expect(Buffer.concat(stored).includes(Buffer.from('KELLER^MARIA'))).toBe(false);
    // Audited as the paramedic's create, from Orthanc's request.
    const { rows: audit } = await server.pool.query<{ actor_sub: string; outcome: string; user_agent: string | null }>(
      `SELECT actor_sub, outcome, user_agent FROM audit_events WHERE xray_id = $1 AND action = 'xray.create'`,
      [id],
    );
    expect(audit).toEqual([expect.objectContaining({ actor_sub: 'demo-paramedic', outcome: 'success' })]);
    // Announced: the Doctor Service's webhook receives xray.uploaded (signature checked by it).
    await waitFor('the xray.uploaded webhook', () =>
      doctorService.requests().some((r) => r.status === 204 && r.event?.xrayId === id),
    );
    const event = expectPublishedEvent(
      doctorService.requests().find((r) => r.status === 204 && r.event?.xrayId === id)!.body,
    );
    expect(event.type).toBe('xray.uploaded');

    // Orthanc sending it again (a retried job) is answered as stored: the job succeeds, nothing is added.
    const before = await countRows(server);
    await orthancStow('xray-store', [inOrthanc.ID]);
    expect(await countRows(server)).toBe(before);
  });

  it('queries us (QIDO-RS) and retrieves a study into itself (WADO-RS): every instance byte for byte', async () => {
    // A study of two instances, stored by a paramedic through STOW-RS.
    const study = '1.2.826.0.1.3680043.10.1.9100';
    const files = [9101, 9102].map((seed) =>
      makeDicom({
        rows: 96,
        columns: 96,
        seed,
        patientId: 'P-1002',
        patientName: 'HUBER^JONAS',
        studyInstanceUid: study,
      }),
    );
    const stored = await postStow(
      `${server.url}/dicom-web/studies`,
      files.map((bytes) => ({ bytes })),
      { headers: { authorization: `Bearer ${tokens.paramedic}` } },
    );
    expect(stored.status).toBe(200);
    const sops = readStowAnswer(await stored.json()).stored.map((s) => s.sopInstanceUid);
    expect(sops).toHaveLength(2);

    // QIDO-RS from Orthanc, as a doctor: the study list a viewer asks for, with a name wildcard.
    // Orthanc answers in its own JSON (a single value as a string, with the tag's name).
    type OrthancTags = Record<string, { Value?: unknown }>;
    const value = (d: OrthancTags | undefined, tag: string) => {
      const v = d?.[tag]?.Value;
      return Array.isArray(v) ? (v[0] as unknown) : v;
    };
    const studies = await orthanc.json<OrthancTags[]>('POST', '/dicom-web/servers/xray/qido', {
      Uri: '/studies',
      Arguments: { PatientName: 'HUB*', includefield: '00081030,00080060', limit: '10' },
    });
    const found = studies.find((d) => value(d, '0020000D') === study);
    expect(value(found, '00100020')).toBe('P-1002');
    expect(value(found, '00100010')).toBe('HUBER^JONAS');
    expect(value(found, '00081190')).toBe(`${server.url}/dicom-web/studies/${study}`);
    const instances = await orthanc.json<OrthancTags[]>('POST', '/dicom-web/servers/xray/qido', {
      Uri: `/studies/${study}/instances`,
    });
    expect(instances.map((d) => value(d, '00080018')).sort()).toEqual([...sops].sort());

    // WADO-RS retrieve of the whole study into Orthanc.
    await orthanc.json('POST', '/dicom-web/servers/xray/retrieve', {
      Resources: [{ Study: study }],
      Synchronous: true,
    });
    for (const [i, sop] of sops.entries()) {
      const lookup = await orthanc.json<{ ID: string; Type: string }[]>('POST', '/tools/lookup', sop);
      const instance = lookup.find((l) => l.Type === 'Instance');
      expect(instance, `instance ${sop} in Orthanc`).toBeDefined();
      const bytes = files.find((f) => f.includes(Buffer.from(sop)))!;
      expect(sha256Hex(await orthanc.file(instance!.ID)), `instance ${i}`).toBe(sha256Hex(bytes));
    }
    // Each read is on the audit trail as the doctor's, per X-ray.
    const { rows } = await server.pool.query<{ action: string }>(
      `SELECT DISTINCT action FROM audit_events WHERE actor_sub = 'demo-doctor' AND xray_id = ANY($1::uuid[])`,
      [sops.map(xrayIdOfSopInstance)],
    );
    expect(rows.map((r) => r.action).sort()).toContain('xray.download');
  });

  it("is refused with the doctor's token (doctors may not create X-rays): the job fails, nothing is stored", async () => {
    const bytes = makeDicom({ rows: 64, columns: 64, seed: 9002, patientId: 'P-1001' });
    const inOrthanc = await orthanc.upload(bytes);
    const before = await countRows(server);
    const res = await orthanc.request('POST', '/dicom-web/servers/xray/stow', {
      Resources: [inOrthanc.ID],
      Synchronous: true,
    });
    expect(res.ok).toBe(false);
    expect(await countRows(server)).toBe(before);
    const { rows } = await server.pool.query(
      `SELECT 1 FROM audit_events WHERE action = 'access.denied' AND actor_sub = 'demo-doctor' AND details->>'attempted' = 'xray.create'`,
    );
    expect(rows.length).toBeGreaterThanOrEqual(1);
  });
});
