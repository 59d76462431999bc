import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makePng } from '@xray/testkit';
import type { AuditEventList, Xray } from '@xray/shared';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startDevDoctorService, type DevDoctorService } from '../src/dev/doctor-service.ts';
import { startDevIssuer, type DevIssuer } from '../src/dev/oidc-issuer.ts';
import { startDevPatientService, type DevPatientService } from '../src/dev/patient-service.ts';
import { blobOf, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';
import { waitFor } from './integrations.support.ts';

const SECRET = 'links-webhook-secret-0123456789';
let seed = 9000;
const png = () => blobOf(makePng({ seed: seed++, width: 8, height: 8 }));

async function created(res: Response): Promise<Xray> {
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as Xray;
}

/**
 * X-rays linked to the Patient Service (the dev one, seeded: P-1001…P-1005, C-2001…C-2005), and
 * corrected with PATCH, against real PostgreSQL; events go to the dev Doctor Service.
 */
describe('patient links and corrections', () => {
  let patients: DevPatientService;
  let patientPort: number;
  let doctor: DevDoctorService;
  let server: TestServer;

  beforeAll(async () => {
    patients = await startDevPatientService({ port: 0 });
    patientPort = patients.port;
    doctor = await startDevDoctorService({ port: 0, secret: SECRET });
    server = await startTestServer('fs', {
      PATIENT_SERVICE_URL: patients.url,
      PATIENT_SERVICE_TIMEOUT_MS: '1000',
      PATIENT_SERVICE_RETRIES: '1',
      // Off, so "down" is seen at once; the cache has its own test below.
      PATIENT_CACHE_TTL_MS: '0',
      LINK_CHECK_TIMEOUT_MS: '500',
      LINK_RECHECK_INTERVAL_MS: '200',
      LINK_RECHECK_MAX_MS: '1000',
      DOCTOR_SERVICE_URL: doctor.webhookUrl,
      WEBHOOK_SECRET: SECRET,
      OUTBOX_POLL_INTERVAL_MS: '50',
    });
  });
  afterAll(async () => {
    await server?.close();
    await doctor?.stop();
    await patients?.stop();
  });
  beforeEach(() => doctor.reset());

  const get = async (id: string): Promise<Xray> => (await (await fetch(`${server.url}/xrays/${id}`)).json()) as Xray;
  const patch = (id: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/xrays/${id}`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  const eventsFor = (xrayId: string, type: string) =>
    doctor.accepted().filter((e) => e.xrayId === xrayId && e.type === type);

  it('a patient and their consultation: verified, with both summaries on GET /xrays/{id}', async () => {
    const x = await created(
      await postXray(server.url, validMetadata({ patientId: 'P-1001', consultationId: 'C-2001' }), png()),
    );
    expect(x.link).toMatchObject({
      status: 'verified',
      patient: { id: 'P-1001', name: 'Maria Keller' },
      consultation: { id: 'C-2001', patientId: 'P-1001' },
    });
    expect((await get(x.id)).link).toEqual(x.link);
    const [uploaded] = await waitFor(
      'xray.uploaded',
      () => eventsFor(x.id, 'xray.uploaded').length > 0 && eventsFor(x.id, 'xray.uploaded'),
    );
    expect(uploaded?.data).toMatchObject({ xray: { link: { status: 'verified' } } });
    // Ids, not demographics: the consumer looks the patient up; nothing of the summary is in the
    // event, as delivered or as the outbox keeps it.
    const subject = uploaded?.type === 'xray.uploaded' ? uploaded.data.xray : undefined;
    expect(subject).toMatchObject({ patientId: 'P-1001', consultationId: 'C-2001' });
    expect(subject?.link).not.toHaveProperty('patient');
    expect(subject?.link).not.toHaveProperty('consultation');
    expect(JSON.stringify(uploaded)).not.toMatch(/Maria Keller|1957-03-14/);
    const { rows } = await server.pool.query<{ payload: unknown }>(
      'SELECT payload FROM outbox_events WHERE xray_id = $1',
      [x.id],
    );
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) expect(JSON.stringify(r.payload)).not.toMatch(/Maria Keller|1957-03-14/);
    expect(eventsFor(x.id, 'xray.link_invalid')).toEqual([]);
  });

  it('a consultation of another patient: stored, invalid, and xray.link_invalid emitted', async () => {
    const x = await created(
      await postXray(server.url, validMetadata({ patientId: 'P-1002', consultationId: 'C-2001' }), png()),
    );
    expect(x.link).toMatchObject({
      status: 'invalid',
      reason: 'consultation_of_other_patient',
      consultation: { id: 'C-2001', patientId: 'P-1001' },
    });
    const [event] = await waitFor('xray.link_invalid', () => {
      const got = eventsFor(x.id, 'xray.link_invalid');
      return got.length > 0 && got;
    });
    expect(event?.data).toMatchObject({
      reason: 'consultation_of_other_patient',
      xray: { id: x.id, patientId: 'P-1002' },
    });
  });

  it('an unknown patient: stored, invalid (unknown_patient), and an event', async () => {
    const x = await created(await postXray(server.url, validMetadata({ patientId: 'P-9999' }), png()));
    expect(x.link).toMatchObject({ status: 'invalid', reason: 'unknown_patient' });
    await waitFor('xray.link_invalid', () => eventsFor(x.id, 'xray.link_invalid').length === 1);
  });

  it('the Patient Service down during an upload: stored as pending, verified later with no user action', async () => {
    await patients.stop();
    let x: Xray;
    try {
      const started = Date.now();
      x = await created(
        await postXray(server.url, validMetadata({ patientId: 'P-1003', consultationId: 'C-2004' }), png()),
      );
      expect(Date.now() - started).toBeLessThan(3000);
      expect(x.link).toMatchObject({ status: 'pending' });
      // Still pending while it stays down (the checker keeps trying, with backoff).
      await new Promise((r) => setTimeout(r, 800));
      expect((await get(x.id)).link.status).toBe('pending');
    } finally {
      patients = await startDevPatientService({ port: patientPort });
    }
    const settled = await waitFor('the link to settle', async () => {
      const now = await get(x.id);
      return now.link.status !== 'pending' && now;
    });
    expect(settled.link).toMatchObject({
      status: 'verified',
      patient: { id: 'P-1003' },
      consultation: { id: 'C-2004', patientId: 'P-1003' },
    });
    // The Doctor Service hears of it: xray.uploaded (pending), then xray.updated (cause link_check).
    const [updated] = await waitFor('xray.updated', () => {
      const got = eventsFor(x.id, 'xray.updated');
      return got.length > 0 && got;
    });
    expect(updated?.data).toMatchObject({
      cause: 'link_check',
      by: null,
      changes: { link: { before: { status: 'pending' }, after: { status: 'verified' } } },
    });
    expect(eventsFor(x.id, 'xray.uploaded')[0]?.data).toMatchObject({ xray: { link: { status: 'pending' } } });
  });

  it('a Patient Service that hangs holds an upload no longer than LINK_CHECK_TIMEOUT_MS', async () => {
    const sockets = new Set<Socket>();
    const blackHole: Server = createServer((s) => {
      sockets.add(s); // accepts, never answers
    });
    await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', r));
    const address = blackHole.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const other = await startTestServer('fs', {
      PATIENT_SERVICE_URL: `http://127.0.0.1:${port}`,
      LINK_CHECK_TIMEOUT_MS: '300',
      LINK_RECHECK_INTERVAL_MS: '60000',
    });
    try {
      const started = Date.now();
      const x = await created(await postXray(other.url, validMetadata(), png()));
      expect(Date.now() - started).toBeLessThan(2000);
      expect(x.link.status).toBe('pending');
    } finally {
      await other.close();
      for (const s of sockets) s.destroy();
      blackHole.close();
    }
  });

  it('PATCH to another patient: link re-verified, audit before/after, xray.updated delivered', async () => {
    const x = await created(
      await postXray(server.url, validMetadata({ patientId: 'P-1001', consultationId: 'C-2001' }), png()),
    );
    const res = await patch(x.id, { patientId: 'P-1002', consultationId: 'C-2002', notes: 'wrong patient picked' });
    expect(res.status).toBe(200);
    const moved = (await res.json()) as Xray;
    expect(moved).toMatchObject({ patientId: 'P-1002', consultationId: 'C-2002', notes: 'wrong patient picked' });
    expect(moved.link).toMatchObject({ status: 'verified', patient: { id: 'P-1002' }, consultation: { id: 'C-2002' } });
    expect(await get(x.id)).toEqual(moved);

    const audit = (await (
      await fetch(`${server.url}/audit?xrayId=${x.id}&action=xray.update`)
    ).json()) as AuditEventList;
    expect(audit.items).toHaveLength(1);
    expect(audit.items[0]).toMatchObject({
      outcome: 'success',
      patientId: 'P-1002',
      details: {
        before: { patientId: 'P-1001', consultationId: 'C-2001', notes: null },
        after: { patientId: 'P-1002', consultationId: 'C-2002', notes: 'wrong patient picked' },
      },
    });

    const [updated] = await waitFor('xray.updated', () => {
      const got = eventsFor(x.id, 'xray.updated');
      return got.length > 0 && got;
    });
    expect(updated?.data).toMatchObject({
      cause: 'correction',
      changes: {
        patientId: { before: 'P-1001', after: 'P-1002' },
        consultationId: { before: 'C-2001', after: 'C-2002' },
      },
      xray: { patientId: 'P-1002', link: { status: 'verified' } },
    });
    // Order per X-ray: the upload's event went first.
    const order = doctor
      .requests()
      .filter((r) => r.event?.xrayId === x.id)
      .map((r) => r.type);
    expect(order).toEqual(['xray.uploaded', 'xray.updated']);
  });

  it('PATCH keeping a consultation of the old patient: invalid, and xray.link_invalid', async () => {
    const x = await created(
      await postXray(server.url, validMetadata({ patientId: 'P-1001', consultationId: 'C-2001' }), png()),
    );
    const res = await patch(x.id, { patientId: 'P-1004' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Xray).link).toMatchObject({
      status: 'invalid',
      reason: 'consultation_of_other_patient',
    });
    await waitFor('xray.link_invalid', () => eventsFor(x.id, 'xray.link_invalid').length === 1);
    // Clearing the consultation settles it.
    const fixed = await patch(x.id, { consultationId: null });
    expect(((await fixed.json()) as Xray).link).toMatchObject({ status: 'verified', patient: { id: 'P-1004' } });
  });

  it('PATCH refuses bad input field by field, and unknown X-rays', async () => {
    const x = await created(await postXray(server.url, validMetadata(), png()));
    for (const [body, field] of [
      [{}, '(root)'],
      [{ patientId: '' }, 'patientId'],
      [{ view: 'UPSIDE' }, 'view'],
      [{ sha256: 'x' }, '(root)'],
    ] as const) {
      const res = await patch(x.id, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const problem = (await res.json()) as { code: string; errors?: { field: string }[] };
      expect(problem.code).toBe('validation_failed');
      expect(problem.errors?.map((e) => e.field)).toContain(field);
    }
    expect((await patch(crypto.randomUUID(), { notes: 'x' })).status).toBe(404);
    const notJson = await fetch(`${server.url}/xrays/${x.id}`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json' },
      body: '{',
    });
    expect(notJson.status).toBe(400);
  });
});

describe('PATCH /xrays/{id} with real tokens: the capturing paramedic, a doctor or an admin', () => {
  let issuerDir: string;
  let dev: DevIssuer;
  let server: TestServer;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    issuerDir = await mkdtemp(path.join(tmpdir(), 'xray-oidc-links-'));
    dev = await startDevIssuer({ port: 0, dataDir: issuerDir, audience: 'xray-api' });
    server = await startTestServer('fs', { AUTH_DISABLED: 'false', OIDC_ISSUER: dev.issuer });
    for (const user of ['paramedic', 'paramedic2', 'doctor', 'admin'] as const)
      tokens[user] = await dev.mintToken(user);
  });
  afterAll(async () => {
    await server?.close();
    await dev?.stop();
    await rm(issuerDir, { recursive: true, force: true });
  });

  const as = (user: string) => ({ Authorization: `Bearer ${tokens[user] ?? ''}` });
  const patchAs = (user: string, id: string, body: unknown) =>
    fetch(`${server.url}/xrays/${id}`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json', ...as(user) },
      body: JSON.stringify(body),
    });

  it('each may correct; another paramedic gets 404 (as for a missing X-ray); outbox is admin-only', async () => {
    const x = await created(await postXray(server.url, validMetadata(), png(), as('paramedic')));
    expect((await patchAs('paramedic', x.id, { view: 'AP' })).status).toBe(200);
    expect((await patchAs('paramedic2', x.id, { view: 'LL' })).status).toBe(404);
    expect((await patchAs('doctor', x.id, { bodyPart: 'hand' })).status).toBe(200);
    const last = await patchAs('admin', x.id, { notes: 'checked' });
    expect(last.status).toBe(200);
    expect(await last.json()).toMatchObject({ view: 'AP', bodyPart: 'HAND', notes: 'checked' });
    expect((await fetch(`${server.url}/admin/outbox`, { headers: as('doctor') })).status).toBe(403);
    expect((await fetch(`${server.url}/admin/outbox`)).status).toBe(401);
    expect((await fetch(`${server.url}/admin/outbox`, { headers: as('admin') })).status).toBe(200);
  });
});
