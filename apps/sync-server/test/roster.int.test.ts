import { randomUUID } from 'node:crypto';
import { makeDicom, makePng } from '@xray/testkit';
import { RosterSchema, XraySchema, type Xray } from '@xray/shared';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevPatientService, type DevPatientService } from '../src/dev/patient-service.ts';
import {
  apiClient,
  blobOf,
  postXray,
  startTestServer,
  validMetadata,
  type TestServer,
  headerActor,
} from './harness.ts';

const PARAMEDIC = 'para-1; paramedic';

interface EventRow {
  actor_sub: string | null;
  action: string;
  xray_id: string | null;
  patient_id: string | null;
  outcome: string;
  details: Record<string, unknown>;
}

async function eventsOf(db: pg.Pool, requestId: string): Promise<EventRow[]> {
  const { rows } = await db.query<EventRow>(
    `SELECT actor_sub, action, xray_id::text AS xray_id, patient_id, outcome, details
       FROM audit_events WHERE request_id = $1 ORDER BY id`,
    [requestId],
  );
  return rows;
}

/**
 * GET /roster (the patient list a paramedic's device keeps offline) and the patient decision an
 * upload carries, against real PostgreSQL and the dev Patient Service over HTTP.
 */
describe('roster and the wrong-patient decision', () => {
  let patients: DevPatientService;
  let server: TestServer;
  let seed = 7300;

  beforeAll(async () => {
    patients = await startDevPatientService({ port: 0 });
    server = await startTestServer(
      'fs',
      { PATIENT_SERVICE_URL: patients.url, PATIENT_CACHE_TTL_MS: '0' },
      { authenticate: headerActor },
    );
  });
  afterAll(async () => {
    await server?.close();
    await patients?.stop();
  });

  async function call(path: string, actor: string | undefined, init: RequestInit = {}) {
    const requestId = randomUUID();
    const res = await fetch(`${server.url}${path}`, {
      ...init,
      headers: {
        'X-Request-Id': requestId,
        ...(actor ? { 'X-Test-Actor': actor } : {}),
        ...(init.headers as Record<string, string> | undefined),
      },
    });
    return { res, requestId };
  }

  async function onlyEvent(requestId: string): Promise<EventRow> {
    const events = await eventsOf(server.pool, requestId);
    expect(events).toHaveLength(1);
    return events[0] as EventRow;
  }

  it('a paramedic reads the roster: the seeded patients and only open consultations; audited with counts', async () => {
    // Through the client generated from openapi.json, as the edge app reads it.
    const requestId = randomUUID();
    const { data, response } = await apiClient(server.url, {
      actor: PARAMEDIC,
      headers: { 'X-Request-Id': requestId },
    }).GET('/roster');
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toContain('no-store');
    const roster = RosterSchema.parse(data);
    expect(roster.patients.map((p) => p.id)).toEqual(['P-1001', 'P-1002', 'P-1003', 'P-1004', 'P-1005']);
    expect(roster.patients[0]).toMatchObject({ name: 'Maria Keller', birthDate: '1957-03-14' });
    expect(roster.consultations.map((c) => c.id).sort()).toEqual(['C-2001', 'C-2002', 'C-2004', 'C-2005']);
    expect(await onlyEvent(requestId)).toMatchObject({
      actor_sub: 'para-1',
      action: 'roster.read',
      outcome: 'success',
      details: { patients: 5, consultations: 4 },
    });
  });

  it.each([
    ['a doctor', 'doc-1; doctor', 403, 'forbidden'],
    ['an admin', 'adm-1; admin', 403, 'forbidden'],
    ['a token with no role', 'nobody;', 403, 'forbidden'],
    ['no token', undefined, 401, 'unauthenticated'],
  ])('%s is refused (problem+json) and the refusal is audited', async (_who, actor, status, code) => {
    const { res, requestId } = await call('/roster', actor);
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect((await res.json()).code).toBe(code);
    const event = await onlyEvent(requestId);
    expect(event).toMatchObject({ action: 'access.denied', outcome: 'denied' });
    if (status === 403) expect(event.details).toMatchObject({ attempted: 'roster.read' });
  });

  it('the Patient Service down: 503 problem, audited as a failed roster read', async () => {
    await patients.stop();
    try {
      const { res, requestId } = await call('/roster', PARAMEDIC);
      expect(res.status).toBe(503);
      expect((await res.json()).code).toBe('unavailable');
      expect(await onlyEvent(requestId)).toMatchObject({ action: 'roster.read', outcome: 'failed' });
    } finally {
      patients = await startDevPatientService({ port: patients.port });
    }
  });

  const dicom = (patientId: string) => blobOf(makeDicom({ rows: 16, columns: 16, patientId, seed: seed++ }));
  async function upload(metadata: Record<string, unknown>, file: Blob) {
    const requestId = randomUUID();
    const res = await postXray(server.url, validMetadata(metadata), file, {
      'X-Test-Actor': PARAMEDIC,
      'X-Request-Id': requestId,
    });
    return { res, requestId };
  }

  it('a DICOM naming another patient, sent without a decision: stored, but never "verified" (file_patient_mismatch)', async () => {
    const { res, requestId } = await upload({ patientId: 'P-1004' }, dicom('P-1005'));
    expect(res.status, await res.clone().text()).toBe(201);
    const x = XraySchema.parse(await res.json());
    expect(x.link).toMatchObject({ status: 'invalid', reason: 'file_patient_mismatch' });
    expect(x.link.decision).toBeUndefined();
    expect(await onlyEvent(requestId)).toMatchObject({
      action: 'xray.create',
      outcome: 'success',
      details: { link: { status: 'invalid', reason: 'file_patient_mismatch' } },
    });
  });

  it("a mismatched DICOM corrected by PATCH to another known patient stays file_patient_mismatch; to the file's patient it is verified", async () => {
    const { res } = await upload({ patientId: 'P-1004' }, dicom('P-1005'));
    const x = XraySchema.parse(await res.json());
    expect(x.link).toMatchObject({ status: 'invalid', reason: 'file_patient_mismatch' });
    const patch = (patientId: string) =>
      call(`/xrays/${x.id}`, PARAMEDIC, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ patientId }),
      });
    const sideways = await patch('P-1001');
    expect(sideways.res.status).toBe(200);
    expect(XraySchema.parse(await sideways.res.json()).link).toMatchObject({
      status: 'invalid',
      reason: 'file_patient_mismatch',
    });
    const toFile = await patch('P-1005');
    expect(XraySchema.parse(await toFile.res.json()).link).toMatchObject({
      status: 'verified',
      patient: { id: 'P-1005' },
    });
  });

  it('keeping the chosen patient with a reason: verified against the Patient Service, the decision on the link and the audit event', async () => {
    const reason = 'Detector still had the previous patient loaded';
    const { res, requestId } = await upload(
      { patientId: 'P-1004', patientDecision: 'keep_chosen_patient', patientDecisionReason: reason },
      dicom('P-1005'),
    );
    expect(res.status, await res.clone().text()).toBe(201);
    const x = XraySchema.parse(await res.json());
    expect(x.patientId).toBe('P-1004');
    expect(x.link).toMatchObject({
      status: 'verified',
      patient: { id: 'P-1004' },
      decision: { choice: 'keep_chosen_patient', reason },
    });
    expect(await onlyEvent(requestId)).toMatchObject({
      action: 'xray.create',
      patient_id: 'P-1004',
      details: { patientDecision: { choice: 'keep_chosen_patient', reason }, link: { status: 'verified' } },
    });
  });

  it("using the file's patient: verified, the decision recorded", async () => {
    const { res, requestId } = await upload(
      { patientId: 'P-1005', patientDecision: 'use_file_patient' },
      dicom('P-1005'),
    );
    expect(res.status).toBe(201);
    const x = XraySchema.parse(await res.json());
    expect(x.link).toMatchObject({ status: 'verified', decision: { choice: 'use_file_patient' } });
    expect((await onlyEvent(requestId)).details).toMatchObject({ patientDecision: { choice: 'use_file_patient' } });
  });

  it('keeping the chosen patient without a reason is refused field by field; nothing stored', async () => {
    const id = randomUUID();
    const { res } = await upload({ id, patientId: 'P-1004', patientDecision: 'keep_chosen_patient' }, dicom('P-1005'));
    expect(res.status).toBe(400);
    const problem = await res.json();
    expect(problem.errors).toContainEqual({
      field: 'metadata.patientDecisionReason',
      message: 'is required to keep the chosen patient',
    });
    expect((await call(`/xrays/${id}`, PARAMEDIC)).res.status).toBe(404);
  });

  it('an unknown patient, fixed by its own paramedic with PATCH: verified, audited before/after; another paramedic cannot', async () => {
    const { res } = await upload(
      { patientId: 'P-1O01', patientDecision: 'keep_chosen_patient', patientDecisionReason: 'Not on the roster yet' },
      blobOf(makePng({ seed: seed++, width: 8, height: 8 })),
    );
    const x: Xray = XraySchema.parse(await res.json());
    expect(x.link).toMatchObject({ status: 'invalid', reason: 'unknown_patient' });

    const other = await call(`/xrays/${x.id}`, 'para-2; paramedic', {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ patientId: 'P-1001' }),
    });
    expect(other.res.status).toBe(404);

    const fix = await call(`/xrays/${x.id}`, PARAMEDIC, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ patientId: 'P-1001' }),
    });
    expect(fix.res.status).toBe(200);
    expect(XraySchema.parse(await fix.res.json())).toMatchObject({
      patientId: 'P-1001',
      link: { status: 'verified', patient: { id: 'P-1001' } },
    });
    expect(await onlyEvent(fix.requestId)).toMatchObject({
      actor_sub: 'para-1',
      action: 'xray.update',
      outcome: 'success',
      details: { before: { patientId: 'P-1O01' }, after: { patientId: 'P-1001' } },
    });
  });
});
