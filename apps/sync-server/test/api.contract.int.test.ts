import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { makePng, sha256Hex } from '@xray/testkit';
import type { ApiClient } from '@xray/shared/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevPatientService, type DevPatientService } from '../src/dev/patient-service.ts';
import { apiClient, blobOf, headerActor, startTestServer, uploadXray, type TestServer } from './harness.ts';
import { encodeMeta, sealed } from './tus-client.ts';

const PARAMEDIC = 'para-contract; paramedic';
const DOCTOR = 'doc-contract; doctor';
const ADMIN = 'adm-contract; admin';

/**
 * The API as an integrator's generated client sees it: each documented operation called through
 * the typed client (openapi-typescript + openapi-fetch, `@xray/shared/api`), so a path, parameter
 * or body the document does not have fails to compile, and every answer is checked against the
 * document by the suite's response check (test/global-setup.ts). The devices' operations need
 * DPoP proofs and are walked in dpop.int.test.ts.
 */
describe('the documented API through the generated client', () => {
  let patients: DevPatientService;
  let server: TestServer;
  let anyone: ApiClient;
  let paramedic: ApiClient;
  let doctor: ApiClient;
  let admin: ApiClient;
  const png = makePng({ seed: 4242 });
  let xrayId: string;

  beforeAll(async () => {
    patients = await startDevPatientService({ port: 0 });
    server = await startTestServer(
      'fs',
      {
        PATIENT_SERVICE_URL: patients.url,
        PATIENT_CACHE_TTL_MS: '0',
        // A Doctor Service that is not there: events wait in the outbox for an admin to see.
        DOCTOR_SERVICE_URL: 'http://127.0.0.1:9/events',
        WEBHOOK_SECRET: 'contract-walk-secret',
        OUTBOX_BACKOFF_BASE_MS: '600000',
      },
      { authenticate: headerActor },
    );
    anyone = apiClient(server.url);
    paramedic = apiClient(server.url, { actor: PARAMEDIC });
    doctor = apiClient(server.url, { actor: DOCTOR });
    admin = apiClient(server.url, { actor: ADMIN });
  });
  afterAll(async () => {
    await server?.close();
    await patients?.stop();
  });

  it('public: liveness, readiness, the edge config, the upload keys and the document itself (the committed one)', async () => {
    expect((await anyone.GET('/healthz')).response.status).toBe(200);
    expect((await anyone.GET('/readyz')).response.status).toBe(200);
    const config = await anyone.GET('/edge-config');
    expect(config.data?.patientServiceUrl).toBe(patients.url);
    const keys = await anyone.GET('/keys/upload');
    expect(keys.data?.keys.length).toBeGreaterThan(0);
    const served = await anyone.GET('/openapi.json');
    expect(served.data).toEqual(JSON.parse(readFileSync(new URL('../openapi.json', import.meta.url), 'utf8')));
  });

  it('a paramedic reads the roster and uploads (multipart as the document encodes it); a repeat answers the same X-ray', async () => {
    const roster = await paramedic.GET('/roster');
    expect(roster.data?.patients.map((p) => p.id)).toContain('P-1001');
    const metadata = {
      id: randomUUID(),
      patientId: 'P-1001',
      consultationId: 'C-2001',
      capturedAt: new Date(Date.now() - 60_000).toISOString(),
      bodyPart: 'CHEST',
      view: 'PA' as const,
      priority: 'urgent' as const,
      notes: 'contract walk',
      sha256: sha256Hex(png),
    };
    const created = await uploadXray(paramedic, metadata, blobOf(png));
    expect(created.response.status).toBe(201);
    expect(created.data).toMatchObject({ id: metadata.id, sha256: sha256Hex(png), notes: 'contract walk' });
    xrayId = metadata.id;
    const again = await uploadXray(paramedic, metadata, blobOf(png));
    expect(again.response.status).toBe(200);
    expect(again.data?.id).toBe(xrayId);
  });

  it('a doctor lists, reads (ETag, 304), downloads (whole, a range, HEAD, 304), corrects with If-Match and follows the change feed', async () => {
    const list = await doctor.GET('/xrays', { params: { query: { patientId: ['P-1001'], limit: 10 } } });
    expect(list.data?.items.map((x) => x.id)).toContain(xrayId);

    const read = await doctor.GET('/xrays/{id}', { params: { path: { id: xrayId } } });
    expect(read.data?.link.status).toBe('verified');
    const etag = read.response.headers.get('etag') ?? '';
    expect(etag).not.toBe('');
    const unchanged = await doctor.GET('/xrays/{id}', {
      params: { path: { id: xrayId }, header: { 'If-None-Match': etag } },
    });
    expect(unchanged.response.status).toBe(304);

    const whole = await doctor.GET('/xrays/{id}/download', {
      params: { path: { id: xrayId } },
      parseAs: 'arrayBuffer',
    });
    expect(whole.response.headers.get('content-type')).toBe('image/png');
    expect(sha256Hex(Buffer.from(whole.data ?? new ArrayBuffer(0)))).toBe(sha256Hex(png));
    const part = await doctor.GET('/xrays/{id}/download', {
      params: { path: { id: xrayId }, header: { Range: 'bytes=0-9' } },
      parseAs: 'arrayBuffer',
    });
    expect(part.response.status).toBe(206);
    expect(Buffer.from(part.data ?? new ArrayBuffer(0))).toEqual(Buffer.from(png.subarray(0, 10)));
    const head = await doctor.HEAD('/xrays/{id}/download', { params: { path: { id: xrayId } } });
    expect(head.response.headers.get('content-length')).toBe(String(png.length));
    const cached = await doctor.GET('/xrays/{id}/download', {
      params: { path: { id: xrayId }, header: { 'If-None-Match': whole.response.headers.get('etag') ?? '' } },
    });
    expect(cached.response.status).toBe(304);

    const corrected = await doctor.PATCH('/xrays/{id}', {
      params: { path: { id: xrayId }, header: { 'If-Match': etag } },
      body: { notes: 'corrected by the doctor' },
    });
    expect(corrected.response.status).toBe(200);
    expect(corrected.data?.notes).toBe('corrected by the doctor');

    const changes = await doctor.GET('/changes', { params: { query: { after: 0 } } });
    expect(changes.response.status).toBe(200);
    expect(JSON.stringify(changes.data)).toContain(xrayId);
  });

  it('the tus door: capabilities, creation, offset, the last chunk (the X-ray stored), termination', async () => {
    expect((await paramedic.OPTIONS('/uploads')).response.status).toBe(204);
    const upload = await sealed(server.url, Buffer.from(makePng({ seed: 4243 })), { patientId: 'P-1002' });
    const created = await paramedic.POST('/uploads', {
      params: {
        header: {
          'Tus-Resumable': '1.0.0',
          'Upload-Length': upload.body.length,
          'Upload-Metadata': encodeMeta(upload.metadata),
        },
      },
    });
    expect(created.response.status).toBe(201);
    const id = new URL(created.response.headers.get('location') ?? '').pathname.split('/').pop() ?? '';
    const tus = { 'Tus-Resumable': '1.0.0' as const };
    expect((await paramedic.OPTIONS('/uploads/{id}', { params: { path: { id } } })).response.status).toBe(204);
    const offset = await paramedic.HEAD('/uploads/{id}', { params: { path: { id }, header: tus } });
    expect(offset.response.headers.get('upload-offset')).toBe('0');
    const done = await paramedic.PATCH('/uploads/{id}', {
      params: { path: { id }, header: { ...tus, 'Upload-Offset': 0 } },
      body: blobOf(upload.body),
      bodySerializer: (body) => body,
      headers: { 'Content-Type': 'application/offset+octet-stream' },
    });
    expect(done.response.status).toBe(204);
    expect(done.response.headers.get('x-xray-id')).toBe(upload.metadata.id);

    const abandoned = await sealed(server.url, Buffer.from(makePng({ seed: 4244 })));
    const second = await paramedic.POST('/uploads', {
      params: {
        header: {
          ...tus,
          'Upload-Length': abandoned.body.length,
          'Upload-Metadata': encodeMeta(abandoned.metadata),
        },
      },
    });
    const secondId = new URL(second.response.headers.get('location') ?? '').pathname.split('/').pop() ?? '';
    const ended = await paramedic.DELETE('/uploads/{id}', { params: { path: { id: secondId }, header: tus } });
    expect(ended.response.status).toBe(204);
  });

  it('an admin reads the audit trail (JSON and FHIR), the outbox, retries an event, lists devices and deletes the X-ray', async () => {
    const audit = await admin.GET('/audit', { params: { query: { xrayId, limit: 50 } } });
    // One operation, two media types (JSON, FHIR): the client's type is their union.
    const events = audit.data && 'items' in audit.data ? audit.data.items : [];
    expect(events.map((e) => e.action)).toContain('xray.create');
    const fhir = await admin.GET('/audit', {
      params: { query: { xrayId, format: 'fhir' } },
      headers: { Accept: 'application/fhir+json' },
    });
    expect(fhir.response.headers.get('content-type')).toContain('application/fhir+json');

    const outbox = await admin.GET('/admin/outbox', { params: { query: { limit: 100 } } });
    const entry = outbox.data?.items.find((e) => JSON.stringify(e).includes(xrayId));
    expect(entry).toBeDefined();
    const retried = await admin.POST('/admin/outbox/{id}/retry', { params: { path: { id: entry?.id ?? '' } } });
    expect(retried.response.status).toBe(202);

    const devices = await admin.GET('/admin/devices');
    expect(devices.response.status).toBe(200);

    const deleted = await admin.DELETE('/xrays/{id}', { params: { path: { id: xrayId } } });
    expect(deleted.response.status).toBe(204);
    const gone = await doctor.GET('/xrays/{id}', { params: { path: { id: xrayId } } });
    expect(gone.response.status).toBe(404);
    expect(gone.error).toMatchObject({ code: 'not_found' });
  });
});
