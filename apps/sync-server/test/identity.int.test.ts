import { randomUUID } from 'node:crypto';
import { makePng } from '@xray/testkit';
import { XraySchema, type Xray } from '@xray/shared';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startDevDoctorService, type DevDoctorService } from '../src/dev/doctor-service.ts';
import { startDevPatientService, type DevPatientService } from '../src/dev/patient-service.ts';
import {
  actorCalls,
  blobOf,
  headerActor,
  postXray,
  startTestServer,
  validMetadata,
  validTusFields,
  type TestServer,
} from './harness.ts';
import {
  DEMOGRAPHICS,
  expectIdentityOutcome,
  IDENTITY_CASES,
  identityDicoms,
  identityMismatchSent,
  KELLER,
  STOW_IDENTITY_CASES,
  tusCreateAs,
} from './identity.support.ts';
import { stowOne } from './stow.support.ts';
import { waitFor } from './integrations.support.ts';
import { sealed, startTus } from './tus-client.ts';

const SECRET = 'identity-webhook-secret-0123456789';
const PARAMEDIC = 'para-1; paramedic';
const OTHER_PARAMEDIC = 'para-2; paramedic';
const DOCTOR = 'doc-1; doctor';

type Door = 'POST' | 'tus';
const DOORS: Door[] = ['POST', 'tus'];

/**
 * Patient identity checked at ingest, at both doors of this server (POST /xrays, tus), against
 * real PostgreSQL, the dev Patient Service over HTTP and the dev Doctor Service receiving the
 * webhook: the resource's `identity`, the list filter, the event, the device's override, scope.
 */
describe('identity at ingest', () => {
  let patients: DevPatientService;
  let doctor: DevDoctorService;
  let server: TestServer;
  let pngSeed = 19_500;

  beforeAll(async () => {
    patients = await startDevPatientService({ port: 0 });
    doctor = await startDevDoctorService({ port: 0, secret: SECRET });
    server = await startTestServer(
      'fs',
      {
        PATIENT_SERVICE_URL: patients.url,
        PATIENT_SERVICE_TIMEOUT_MS: '1000',
        PATIENT_SERVICE_RETRIES: '1',
        PATIENT_CACHE_TTL_MS: '0',
        LINK_CHECK_TIMEOUT_MS: '500',
        LINK_RECHECK_INTERVAL_MS: '200',
        LINK_RECHECK_MAX_MS: '1000',
        DOCTOR_SERVICE_URL: doctor.webhookUrl,
        WEBHOOK_SECRET: SECRET,
        OUTBOX_POLL_INTERVAL_MS: '50',
      },
      { authenticate: headerActor },
    );
  });
  afterAll(async () => {
    await server?.close();
    await doctor?.stop();
    await patients?.stop();
  });
  beforeEach(() => doctor.reset());

  const { call, read } = actorCalls(() => server, DOCTOR);
  const ctx = () => ({ read: (id: string) => read(id), doctor, pool: server.pool });
  const dicom = identityDicoms(19_000);

  /** Stores `file` through `door` as `actor`; returns the stored X-ray's id (and the request id). */
  async function store(
    door: Door,
    metadata: Record<string, unknown>,
    file: Buffer,
    actor = PARAMEDIC,
  ): Promise<{ id: string; requestId: string }> {
    const requestId = randomUUID();
    const headers = { 'X-Test-Actor': actor, 'X-Request-Id': requestId };
    if (door === 'POST') {
      const res = await postXray(server.url, validMetadata(metadata), blobOf(file), headers);
      expect(res.status, await res.clone().text()).toBe(201);
      return { id: XraySchema.parse(await res.json()).id, requestId };
    }
    const { body, metadata: meta } = await sealed(server.url, file, validTusFields(metadata));
    const { xrayId } = await startTus({ endpoint: `${server.url}/uploads`, file: body, metadata: meta, headers }).done;
    if (!xrayId) throw new Error('tus finished without an X-ray id');
    return { id: xrayId, requestId };
  }

  describe.each(DOORS)('through %s', (door) => {
    it.each(IDENTITY_CASES)('$name', async (c) => {
      const { id } = await store(door, { patientId: c.patientId }, dicom(c.tags));
      await expectIdentityOutcome(ctx(), id, c);
    });

    it('unknown: a PNG names no patient', async () => {
      const { id } = await store(door, { patientId: 'P-1001' }, makePng({ seed: pngSeed++, width: 8, height: 8 }));
      expect((await read(id)).identity).toMatchObject({ status: 'unknown', reason: 'not_dicom', fields: [] });
    });

    it('an override decided on the device: carried, stays a mismatch marked overridden, audited, and the event says so', async () => {
      const override = {
        fields: ['patientName', 'patientBirthDate'],
        reason: 'Detector still had the previous patient loaded',
        decidedAt: '2026-11-27T08:14:00Z',
      };
      const { id } = await store(
        door,
        { patientId: 'P-1001', identityOverride: override },
        dicom({ ...KELLER, patientName: 'DOE^JOHN', patientBirthDate: '19800101' }),
      );
      const x = await read(id);
      expect(x.identity).toMatchObject({
        status: 'mismatch',
        overridden: true,
        override: {
          fields: override.fields,
          reason: override.reason,
          decidedAt: '2026-11-27T08:14:00.000Z',
          by: { sub: 'para-1', name: null },
          from: 'identity_override',
        },
      });
      expect(x.identity.fields.map((f) => f.field)).toEqual(['patientName', 'patientBirthDate']);
      // Audited with the X-ray's creation: who, when, why, which fields.
      const { rows } = await server.pool.query<{ actor_sub: string; details: Record<string, unknown> }>(
        `SELECT actor_sub, details FROM audit_events WHERE xray_id = $1 AND action = 'xray.create'`,
        [id],
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        actor_sub: 'para-1',
        details: {
          identity: {
            status: 'mismatch',
            fields: ['patientName', 'patientBirthDate'],
            overridden: true,
            override: {
              by: 'para-1',
              decidedAt: '2026-11-27T08:14:00.000Z',
              reason: override.reason,
              fields: override.fields,
            },
          },
        },
      });
      // The event: overridden, by whom and when; not why (free text), nor any value.
      const event = await identityMismatchSent(doctor, id);
      expect(event.data).toMatchObject({
        fields: ['patientName', 'patientBirthDate'],
        overridden: true,
        override: { by: { sub: 'para-1' }, decidedAt: '2026-11-27T08:14:00.000Z', fields: override.fields },
        cause: 'upload',
      });
      expect(JSON.stringify(event)).not.toContain(override.reason);
      expect(JSON.stringify(event)).not.toMatch(/DOE|19800101/);
    });

    it('an override that does not cover every field that differs: recorded, but not `overridden`', async () => {
      const { id } = await store(
        door,
        {
          patientId: 'P-1001',
          identityOverride: {
            fields: ['patientName'],
            reason: 'Typo on the modality',
            decidedAt: '2026-11-27T08:14:00Z',
          },
        },
        dicom({ ...KELLER, patientName: 'DOE^JOHN', patientSex: 'M' }),
      );
      expect((await read(id)).identity).toMatchObject({
        status: 'mismatch',
        overridden: false,
        override: { fields: ['patientName'] },
      });
    });
  });

  describe('through STOW-RS', () => {
    it.each(STOW_IDENTITY_CASES)('$name', async (c) => {
      const rows = await stowOne(server, PARAMEDIC, dicom(c.tags));
      expect(rows).toHaveLength(1);
      await expectIdentityOutcome(ctx(), rows[0]!.id, c);
    });
  });

  it('a malformed override is refused field by field; nothing stored (both doors)', async () => {
    const id = randomUUID();
    const res = await postXray(
      server.url,
      validMetadata({ id, identityOverride: { fields: ['patientAge'], reason: 'x', decidedAt: 'yesterday' } }),
      blobOf(dicom(KELLER)),
      { 'X-Test-Actor': PARAMEDIC },
    );
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const fields = ((await res.json()) as { errors: { field: string }[] }).errors.map((e) => e.field);
    expect(fields).toEqual(
      expect.arrayContaining([
        'metadata.identityOverride.fields.0',
        'metadata.identityOverride.reason',
        'metadata.identityOverride.decidedAt',
      ]),
    );
    expect((await call(`/xrays/${id}`, DOCTOR)).status).toBe(404);

    const plain = dicom(KELLER);
    const { body, metadata } = await sealed(server.url, plain, { patientId: 'P-1001', identityOverride: '{not json' });
    const tus = await tusCreateAs(server.url, PARAMEDIC, body, metadata);
    expect(tus.status).toBe(400);
    const problem = (await tus.json()) as { errors: { field: string }[] };
    expect(problem.errors.map((e) => e.field)).toContain('metadata.identityOverride');
  });

  it('the Patient Service down: unknown (decided later); when the link settles the mismatch is found and sent', async () => {
    const port = patients.port;
    await patients.stop();
    let id: string;
    try {
      ({ id } = await store('POST', { patientId: 'P-1001' }, dicom({ ...KELLER, patientSex: 'M' })));
      const x = await read(id);
      expect(x.link.status).toBe('pending');
      expect(x.identity).toMatchObject({
        status: 'unknown',
        reason: 'patient_service_unavailable',
        compared: ['patientId'],
      });
    } finally {
      patients = await startDevPatientService({ port });
    }
    const settled = await waitFor('the link to settle', async () => {
      const x = await read(id);
      return x.link.status !== 'pending' && x;
    });
    expect(settled.link.status).toBe('verified');
    expect(settled.identity).toMatchObject({
      status: 'mismatch',
      fields: [{ field: 'patientSex', file: 'M', expected: 'female', source: 'patient_service' }],
    });
    const event = await identityMismatchSent(doctor, id);
    expect(event.data).toMatchObject({ fields: ['patientSex'], cause: 'link_check' });
    const updated = doctor.accepted().find((e) => e.xrayId === id && e.type === 'xray.updated');
    expect(updated?.data).toMatchObject({
      cause: 'link_check',
      changes: {
        identity: {
          before: { status: 'unknown', fields: [] },
          after: { status: 'mismatch', fields: ['patientSex'] },
        },
      },
    });
    expect(JSON.stringify(doctor.accepted().filter((e) => e.xrayId === id))).not.toMatch(DEMOGRAPHICS);
  });

  it("PATCH to another patient decides identity again against that patient's record", async () => {
    const { id } = await store('POST', { patientId: 'P-1001' }, dicom(KELLER));
    expect((await read(id)).identity.status).toBe('consistent');
    const res = await call(`/xrays/${id}`, PARAMEDIC, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ patientId: 'P-1002' }),
    });
    expect(res.status).toBe(200);
    const x = XraySchema.parse(await res.json());
    expect(x.identity.status).toBe('mismatch');
    expect(x.identity.fields.map((f) => f.field)).toEqual([
      'patientId',
      'patientName',
      'patientBirthDate',
      'patientSex',
    ]);
    const event = await identityMismatchSent(doctor, id);
    expect(event.data).toMatchObject({ cause: 'correction' });
  });

  describe('GET /xrays?identity=', () => {
    const ids: Record<'consistent' | 'mismatch' | 'unknown', string[]> = { consistent: [], mismatch: [], unknown: [] };

    beforeAll(async () => {
      ids.consistent.push((await store('POST', { patientId: 'P-1001' }, dicom(KELLER))).id);
      ids.mismatch.push(
        (await store('tus', { patientId: 'P-1001' }, dicom({ ...KELLER, patientName: 'DOE^JOHN' }))).id,
      );
      ids.unknown.push(
        (await store('POST', { patientId: 'P-1001' }, makePng({ seed: pngSeed++, width: 8, height: 8 }))).id,
      );
      // Another paramedic's mismatch.
      ids.mismatch.push(
        (await store('POST', { patientId: 'P-1001' }, dicom({ ...KELLER, patientSex: 'M' }), OTHER_PARAMEDIC)).id,
      );
    });

    const list = async (query: string, actor: string) => {
      const res = await call(`/xrays?${query}`, actor);
      expect(res.status, await res.clone().text()).toBe(200);
      return ((await res.json()) as { items: Xray[] }).items;
    };

    it.each(['consistent', 'mismatch', 'unknown'] as const)('identity=%s lists only those', async (status) => {
      const items = await list(`identity=${status}&limit=200`, DOCTOR);
      expect(items.length).toBeGreaterThan(0);
      expect(items.every((x) => x.identity.status === status)).toBe(true);
      for (const id of ids[status]) expect(items.map((x) => x.id)).toContain(id);
    });

    it('each item of a list carries its identity', async () => {
      const items = await list('limit=200', DOCTOR);
      const mine = items.find((x) => x.id === ids.mismatch[0]);
      expect(mine?.identity).toMatchObject({
        status: 'mismatch',
        fields: [{ field: 'patientName', file: 'DOE^JOHN', expected: 'Maria Keller' }],
      });
    });

    it('a paramedic lists only their own mismatches; a token with no role is refused, audited', async () => {
      const mine = await list('identity=mismatch&limit=200', PARAMEDIC);
      expect(mine.every((x) => x.capturedBy.sub === 'para-1')).toBe(true);
      expect(mine.map((x) => x.id)).toContain(ids.mismatch[0]);
      expect(mine.map((x) => x.id)).not.toContain(ids.mismatch[1]);
      const theirs = await list('identity=mismatch&limit=200', OTHER_PARAMEDIC);
      expect(theirs.map((x) => x.id)).toContain(ids.mismatch[1]);
      expect(theirs.map((x) => x.id)).not.toContain(ids.mismatch[0]);

      const requestId = randomUUID();
      const refused = await call('/xrays?identity=mismatch', 'nobody; ', { headers: { 'X-Request-Id': requestId } });
      expect(refused.status).toBe(403);
      expect(refused.headers.get('content-type')).toContain('application/problem+json');
      const { rows } = await server.pool.query<{ action: string; outcome: string }>(
        'SELECT action, outcome FROM audit_events WHERE request_id = $1',
        [requestId],
      );
      expect(rows).toEqual([{ action: 'access.denied', outcome: 'denied' }]);
    });

    it('an unknown status is refused with problem+json naming the parameter', async () => {
      const res = await call('/xrays?identity=overridden', DOCTOR);
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(((await res.json()) as { errors: { field: string }[] }).errors.map((e) => e.field)).toContain('identity');
    });
  });
});
