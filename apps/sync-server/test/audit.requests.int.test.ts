// The audit trail, request by request: each create, read, list, download, denial, refusal and
// delete leaves exactly one event with what is known of the actor, the X-ray and the patient.
// The tests run in order on one X-ray (created first, deleted last).
import { randomUUID } from 'node:crypto';
import { makePng, sha256Hex } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, AUDIT_SERVER_ENV, DOCTOR, PARAMEDIC, USER_AGENT, auditCalls, eventsOf } from './audit.support.ts';
import { blobOf, headerActor, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';
import { sealed, startTus } from './tus-client.ts';

describe('audit trail: one event per request', () => {
  let server: TestServer;
  const { call, onlyEvent } = auditCalls(() => server);
  let pngId: string;
  const png = makePng({ seed: 21 });
  const patientId = `P-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    server = await startTestServer('fs', AUDIT_SERVER_ENV, { authenticate: headerActor });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('a create leaves one xray.create event in the same transaction; a repeat one more', async () => {
    const id = randomUUID();
    const requestId = randomUUID();
    const res = await postXray(server.url, validMetadata({ id, patientId }), blobOf(png), {
      'X-Request-Id': requestId,
      'User-Agent': USER_AGENT,
      'X-Test-Actor': PARAMEDIC,
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-request-id')).toBe(requestId);
    pngId = id;
    const event = await onlyEvent(requestId);
    expect(event).toMatchObject({
      actor_sub: 'para-1',
      actor_roles: ['paramedic'],
      action: 'xray.create',
      xray_id: id,
      patient_id: patientId,
      outcome: 'success',
    });
    expect(event.details).toMatchObject({ created: true, sha256: sha256Hex(png), sizeBytes: png.length });

    const again = randomUUID();
    const repeat = await postXray(server.url, validMetadata({ id, patientId }), blobOf(png), {
      'X-Request-Id': again,
      'User-Agent': USER_AGENT,
      'X-Test-Actor': PARAMEDIC,
    });
    expect(repeat.status).toBe(200);
    expect(await onlyEvent(again)).toMatchObject({
      action: 'xray.create',
      outcome: 'success',
      details: { created: false },
    });
  });

  it('the tus door: the upload begun, then one xray.create event; another user touching it, a denial', async () => {
    const file = makePng({ seed: 24 });
    const id = randomUUID();
    const requestId = randomUUID(); // every request of this upload carries it
    const { body, metadata } = await sealed(server.url, file, { id, patientId, view: 'PA', priority: 'routine' });
    const run = startTus({
      endpoint: `${server.url}/uploads`,
      file: body,
      metadata,
      headers: { 'X-Test-Actor': PARAMEDIC, 'X-Request-Id': requestId, 'User-Agent': USER_AGENT },
    });
    const { url, xrayId } = await run.done;
    expect(xrayId).toBe(id);
    const uploadId = new URL(url).pathname.split('/').pop();
    const [begun, created, ...more] = await eventsOf(server.pool, requestId);
    expect(more).toEqual([]);
    expect(begun).toMatchObject({
      actor_sub: 'para-1',
      action: 'upload.create',
      xray_id: id,
      patient_id: patientId,
      outcome: 'success',
      details: { uploadId },
    });
    expect(created).toMatchObject({
      actor_sub: 'para-1',
      action: 'xray.create',
      xray_id: id,
      patient_id: patientId,
      outcome: 'success',
      details: { created: true, sizeBytes: file.length },
    });

    const other = await call(new URL(url).pathname, 'para-2; paramedic', {
      method: 'HEAD',
      headers: { 'Tus-Resumable': '1.0.0' },
    });
    expect(other.res.status).toBe(404);
    expect(await onlyEvent(other.requestId)).toMatchObject({
      actor_sub: 'para-2',
      action: 'access.denied',
      xray_id: id,
      outcome: 'denied',
      details: { attempted: 'upload.continue', denial: 'not_owner' },
    });
    expect((await call(`/xrays/${id}`, ADMIN, { method: 'DELETE' })).res.status).toBe(204);
  });

  it('read, list, download and a range download each leave one success event', async () => {
    const read = await call(`/xrays/${pngId}`, DOCTOR);
    expect(read.res.status).toBe(200);
    expect(await onlyEvent(read.requestId)).toMatchObject({
      actor_sub: 'doc-1',
      actor_roles: ['doctor'],
      action: 'xray.read',
      xray_id: pngId,
      patient_id: patientId,
      outcome: 'success',
    });

    const list = await call(`/xrays?patientId=${patientId}&limit=5`, DOCTOR);
    expect(list.res.status).toBe(200);
    const listed = await onlyEvent(list.requestId);
    expect(listed).toMatchObject({ action: 'xray.list', patient_id: patientId, xray_id: null, outcome: 'success' });
    expect(listed.details).toEqual({ filters: { patientId: [patientId], limit: 5 }, count: 1, ids: [pngId] });

    const whole = await call(`/xrays/${pngId}/download`, DOCTOR);
    expect(whole.res.status).toBe(200);
    expect(await onlyEvent(whole.requestId)).toMatchObject({
      action: 'xray.download',
      xray_id: pngId,
      patient_id: patientId,
      outcome: 'success',
      details: { method: 'GET', range: null, bytes: png.length },
    });

    const range = await call(`/xrays/${pngId}/download`, DOCTOR, { headers: { Range: 'bytes=10-19' } });
    expect(range.res.status).toBe(206);
    expect(await onlyEvent(range.requestId)).toMatchObject({
      action: 'xray.download',
      outcome: 'success',
      details: { range: { start: 10, end: 19 }, bytes: 10 },
    });
  });

  it('the client address honours TRUST_PROXY (X-Forwarded-For from a trusted proxy)', async () => {
    const read = await call(`/xrays/${pngId}`, DOCTOR, { headers: { 'X-Forwarded-For': '203.0.113.7' } });
    expect(read.res.status).toBe(200);
    const [event] = await eventsOf(server.pool, read.requestId);
    expect(event?.client_ip).toBe('203.0.113.7');
  });

  it('denials (401, 403 and the policy’s 404) leave one access.denied event with whatever is known of the actor', async () => {
    const anonymous = await call(`/xrays/${pngId}`, undefined);
    expect(anonymous.res.status).toBe(401);
    expect(await onlyEvent(anonymous.requestId)).toMatchObject({
      actor_sub: null,
      actor_roles: [],
      action: 'access.denied',
      outcome: 'denied',
      details: { attempted: null, method: 'GET', path: `/xrays/${pngId}`, error: 'unauthenticated', status: 401 },
    });

    // The policy answers 404 for another paramedic's X-ray (so ids cannot be probed); the trail says what it was.
    const other = await call(`/xrays/${pngId}`, 'para-2; paramedic');
    expect(other.res.status).toBe(404);
    expect(await onlyEvent(other.requestId)).toMatchObject({
      actor_sub: 'para-2',
      actor_roles: ['paramedic'],
      action: 'access.denied',
      xray_id: pngId,
      patient_id: patientId,
      outcome: 'denied',
      details: { attempted: 'xray.read', denial: 'policy', error: 'not_found', status: 404 },
    });

    const doctorDelete = await call(`/xrays/${pngId}`, DOCTOR, { method: 'DELETE' });
    expect(doctorDelete.res.status).toBe(403);
    expect(await onlyEvent(doctorDelete.requestId)).toMatchObject({
      actor_sub: 'doc-1',
      action: 'access.denied',
      // Refused before anything was loaded, yet on the X-ray's trail.
      xray_id: pngId,
      outcome: 'denied',
      details: { attempted: 'xray.delete', method: 'DELETE', error: 'forbidden', status: 403 },
    });

    const doctor = await call('/audit', DOCTOR);
    expect(doctor.res.status).toBe(403);
    expect(await onlyEvent(doctor.requestId)).toMatchObject({
      actor_sub: 'doc-1',
      actor_roles: ['doctor'],
      action: 'access.denied',
      outcome: 'denied',
      details: { attempted: 'audit.list', error: 'forbidden', status: 403, path: '/audit' },
    });
  });

  it('refused actions leave one failed event (unknown X-ray, bad range, not an image)', async () => {
    const missing = randomUUID();
    const notFound = await call(`/xrays/${missing}`, DOCTOR);
    expect(notFound.res.status).toBe(404);
    expect(await onlyEvent(notFound.requestId)).toMatchObject({
      action: 'xray.read',
      xray_id: missing,
      outcome: 'failed',
      details: { error: 'not_found', status: 404 },
    });

    const badRange = await call(`/xrays/${pngId}/download`, DOCTOR, { headers: { Range: 'bytes=999999-' } });
    expect(badRange.res.status).toBe(416);
    expect(await onlyEvent(badRange.requestId)).toMatchObject({
      action: 'xray.download',
      patient_id: patientId,
      outcome: 'failed',
      details: { error: 'range_not_satisfiable' },
    });

    const requestId = randomUUID();
    const garbage = await postXray(server.url, validMetadata({ patientId }), blobOf(Buffer.from('not an image')), {
      'X-Request-Id': requestId,
      'User-Agent': USER_AGENT,
      'X-Test-Actor': PARAMEDIC,
    });
    expect(garbage.status).toBe(415);
    expect(await onlyEvent(requestId)).toMatchObject({
      action: 'xray.create',
      patient_id: patientId,
      outcome: 'failed',
      details: { error: 'unsupported_media_type' },
    });
  });

  it('a delete is audited in its transaction, and the X-ray’s trail outlives it', async () => {
    const del = await call(`/xrays/${pngId}`, ADMIN, { method: 'DELETE' });
    expect(del.res.status).toBe(204);
    expect(await onlyEvent(del.requestId)).toMatchObject({
      actor_sub: 'admin-1',
      actor_roles: ['admin'],
      action: 'xray.delete',
      xray_id: pngId,
      patient_id: patientId,
      outcome: 'success',
    });

    const trail = await call(`/audit?xrayId=${pngId}&order=asc`, ADMIN);
    expect(trail.res.status).toBe(200);
    const { rows } = await server.pool.query<{ action: string; outcome: string }>(
      'SELECT action, outcome FROM audit_events WHERE xray_id = $1 ORDER BY id',
      [pngId],
    );
    expect(rows.map((r) => `${r.action}:${r.outcome}`)).toEqual([
      'xray.create:success',
      'xray.create:success',
      'xray.read:success',
      'xray.download:success',
      'xray.download:success',
      'xray.read:success',
      // Another paramedic's read (the policy's 404), then the doctor's refused DELETE (the role gate's 403).
      'access.denied:denied',
      'access.denied:denied',
      'xray.download:failed',
      'xray.delete:success',
    ]);
  });
});
