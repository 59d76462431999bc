import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { makePng, sha256Hex } from '@xray/testkit';
import { AuditEventListSchema, FhirAuditBundleSchema } from '@xray/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { verifyAuditChain } from '../src/audit/audit.verifier.ts';
import {
  blobOf,
  blockAuditFor,
  headerActor,
  postXray,
  startTestServer,
  validMetadata,
  type TestServer,
} from './harness.ts';
import { runAdmin, spawnServer, type ServerProcess } from './server-process.ts';
import { sealed, startTus } from './tus-client.ts';

const PARAMEDIC = 'para-1; paramedic';
const DOCTOR = 'doc-1; doctor';
const ADMIN = 'admin-1; admin';
const USER_AGENT = 'audit-test/1.0';

interface EventRow {
  id: string;
  actor_sub: string | null;
  actor_roles: string[];
  action: string;
  xray_id: string | null;
  patient_id: string | null;
  outcome: string;
  client_ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  details: Record<string, unknown>;
}

async function eventsOf(db: pg.Pool, requestId: string): Promise<EventRow[]> {
  const { rows } = await db.query<EventRow>(
    `SELECT id::text AS id, actor_sub, actor_roles, action, xray_id::text AS xray_id, patient_id, outcome,
            client_ip, user_agent, request_id, details
       FROM audit_events WHERE request_id = $1 ORDER BY audit_events.id`,
    [requestId],
  );
  return rows;
}

async function countEvents(db: pg.Pool): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_events');
  return rows[0]?.n ?? 0;
}

/**
 * `xray-admin verify-audit` as an operator runs it, with the server's settings in the environment
 * (DATABASE_URL; DATA_DIR, where the checkpoints and the development anchor key are).
 */
const verifyAuditCli = (env: Record<string, string>) => runAdmin(['verify-audit', '--batch-size', '7'], env);

const IdSchema = z.object({ id: z.string() });
const idOf = async (res: Response): Promise<string> => IdSchema.parse(await res.json()).id;

describe('audit trail', () => {
  let server: TestServer;
  let pngId: string;
  const png = makePng({ seed: 21 });
  const patientId = `P-${randomUUID().slice(0, 8)}`;

  /** One request as `actor` (undefined: no identity), tagged with a fresh request id. */
  async function call(
    urlPath: string,
    actor: string | undefined,
    init: { method?: string; headers?: Record<string, string> } = {},
  ) {
    const requestId = randomUUID();
    const res = await fetch(`${server.url}${urlPath}`, {
      method: init.method ?? 'GET',
      headers: {
        'X-Request-Id': requestId,
        'User-Agent': USER_AGENT,
        ...(actor ? { 'X-Test-Actor': actor } : {}),
        ...init.headers,
      },
    });
    await res.arrayBuffer();
    return { res, requestId };
  }

  /** The one event a request left. */
  async function onlyEvent(requestId: string): Promise<EventRow> {
    const events = await eventsOf(server.pool, requestId);
    expect(events).toHaveLength(1);
    const [event] = events;
    if (!event) throw new Error('no event');
    expect(event.request_id).toBe(requestId);
    expect(event.user_agent).toBe(USER_AGENT);
    expect(event.client_ip).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
    return event;
  }

  beforeAll(async () => {
    server = await startTestServer('fs', { TRUST_PROXY: 'loopback' }, { authenticate: headerActor });
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

  it('a change and its audit event commit together, and nothing is read unaudited', async () => {
    const blocked = `P-BLOCK-${randomUUID().slice(0, 6)}`;
    const kept = await postXray(server.url, validMetadata({ patientId: blocked }), blobOf(makePng({ seed: 22 })), {
      'X-Test-Actor': PARAMEDIC,
    });
    expect(kept.status).toBe(201);
    const keptId = await idOf(kept);
    // From here on the trail refuses every event about this patient, as a broken audit store would.
    const unblock = await blockAuditFor(server, blocked);
    try {
      const id = randomUUID();
      const create = await postXray(
        server.url,
        validMetadata({ id, patientId: blocked }),
        blobOf(makePng({ seed: 23 })),
        {
          'X-Test-Actor': PARAMEDIC,
        },
      );
      expect(create.status).toBe(500);
      expect((await server.pool.query('SELECT 1 FROM xrays WHERE id = $1', [id])).rows).toHaveLength(0);

      expect((await call(`/xrays/${keptId}`, ADMIN, { method: 'DELETE' })).res.status).toBe(500);
      expect((await server.pool.query('SELECT 1 FROM xrays WHERE id = $1', [keptId])).rows).toHaveLength(1);

      expect((await call(`/xrays/${keptId}`, DOCTOR)).res.status).toBe(500);
      const download = await call(`/xrays/${keptId}/download`, DOCTOR);
      expect(download.res.status).toBe(500);
      expect(download.res.headers.get('content-type')).toContain('application/problem+json');
    } finally {
      await unblock();
    }
    expect((await call(`/xrays/${keptId}`, ADMIN, { method: 'DELETE' })).res.status).toBe(204);
  });

  it('GET /audit filters by X-ray, patient, actor, action, outcome and time, with cursor pagination', async () => {
    const p = `P-${randomUUID().slice(0, 8)}`;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await postXray(server.url, validMetadata({ patientId: p }), blobOf(makePng({ seed: 30 + i })), {
        'X-Test-Actor': 'para-2; paramedic',
      });
      expect(res.status).toBe(201);
      ids.push(await idOf(res));
    }
    for (const id of ids) expect((await call(`/xrays/${id}`, 'doc-2; doctor')).res.status).toBe(200);

    const get = async (query: string) => {
      const res = await fetch(`${server.url}/audit?${query}`, { headers: { 'X-Test-Actor': ADMIN } });
      expect(res.status).toBe(200);
      return AuditEventListSchema.parse(await res.json());
    };

    const byPatient = await get(`patientId=${p}`);
    expect(byPatient.items.map((e) => e.action)).toEqual([
      'xray.read',
      'xray.read',
      'xray.read',
      'xray.create',
      'xray.create',
      'xray.create',
    ]);
    expect(byPatient.items[0]).toMatchObject({ actor: { sub: 'doc-2', roles: ['doctor'] }, outcome: 'success' });
    expect((await get(`xrayId=${ids[1]}`)).items.map((e) => e.action)).toEqual(['xray.read', 'xray.create']);
    expect((await get(`actor=para-2&action=xray.create`)).items.map((e) => e.xrayId)).toEqual([...ids].reverse());
    expect((await get(`patientId=${p}&outcome=denied`)).items).toEqual([]);

    const all = (await get(`patientId=${p}&order=asc`)).items;
    const middle = all[2];
    if (!middle) throw new Error('too few events');
    const from = (await get(`patientId=${p}&from=${encodeURIComponent(middle.at)}&order=asc`)).items;
    expect(from.map((e) => e.id)).toEqual(all.filter((e) => e.at >= middle.at).map((e) => e.id));
    const until = (await get(`patientId=${p}&to=${encodeURIComponent(middle.at)}&order=asc`)).items;
    expect(until.map((e) => e.id)).toEqual(all.filter((e) => e.at < middle.at).map((e) => e.id));

    for (const order of ['asc', 'desc'] as const) {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { items: { id: string }[]; nextCursor: string | null } = await get(
          `patientId=${p}&order=${order}&limit=4${cursor ? `&cursor=${cursor}` : ''}`,
        );
        seen.push(...page.items.map((e) => e.id));
        cursor = page.nextCursor;
      } while (cursor);
      const expected = all.map((e) => e.id);
      expect(seen).toEqual(order === 'asc' ? expected : [...expected].reverse());
    }

    const bad = await call('/audit?action=xray.explode&from=yesterday', ADMIN);
    expect(bad.res.status).toBe(400);
    const badCursor = await call(`/audit?cursor=${Buffer.from('asc:1').toString('base64url')}`, ADMIN);
    expect(badCursor.res.status).toBe(400);
  });

  it('exports FHIR R4 AuditEvent resources as a searchset Bundle', async () => {
    const p = `P-${randomUUID().slice(0, 8)}`;
    const created = await postXray(server.url, validMetadata({ patientId: p }), blobOf(makePng({ seed: 40 })), {
      'X-Test-Actor': PARAMEDIC,
    });
    const id = await idOf(created);
    await call(`/xrays/${id}/download`, DOCTOR);
    await call(`/xrays?patientId=${p}`, DOCTOR);

    const res = await fetch(`${server.url}/audit?patientId=${p}&format=fhir&order=asc&limit=2`, {
      headers: { 'X-Test-Actor': ADMIN },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
    const bundle = FhirAuditBundleSchema.parse(await res.json());
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
    const [create, download] = bundle.entry.map((e) => e.resource);
    expect(create).toMatchObject({
      resourceType: 'AuditEvent',
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
      subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'create' }, { code: 'xray.create' }],
      action: 'C',
      outcome: '0',
      agent: [
        {
          who: { identifier: { value: 'para-1' } },
          requestor: true,
          role: [{ text: 'paramedic' }],
          network: { address: expect.stringMatching(/127\.0\.0\.1$/), type: '2' },
        },
      ],
      source: { observer: { display: 'xray-sync-server' } },
    });
    expect(create?.recorded).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(create?.entity).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          what: expect.objectContaining({ identifier: { system: 'urn:ietf:rfc:3986', value: `urn:uuid:${id}` } }),
        }),
        expect.objectContaining({
          what: expect.objectContaining({ reference: `Patient/${p}` }),
          role: expect.objectContaining({ code: '1', display: 'Patient' }),
        }),
      ]),
    );
    expect(download).toMatchObject({ action: 'R', subtype: [{ code: 'read' }, { code: 'xray.download' }] });

    const next = bundle.link.find((l) => l.relation === 'next');
    expect(next).toBeDefined();
    const page2 = FhirAuditBundleSchema.parse(
      await (await fetch(next?.url ?? '', { headers: { 'X-Test-Actor': ADMIN } })).json(),
    );
    const list = page2.entry[0]?.resource;
    expect(list).toMatchObject({ action: 'E', subtype: [{ code: 'search-type' }, { code: 'xray.list' }] });
    expect(list?.entity?.some((e) => e.role?.code === '24' && typeof e.query === 'string')).toBe(true);

    const denied = await fetch(`${server.url}/audit?action=access.denied&format=fhir&limit=1`, {
      headers: { 'X-Test-Actor': ADMIN },
    });
    const deniedEvent = FhirAuditBundleSchema.parse(await denied.json()).entry[0]?.resource;
    expect(deniedEvent).toMatchObject({ outcome: '4', subtype: [{ code: 'search-type' }, { code: 'access.denied' }] });
  });

  it('the table is append-only: UPDATE, DELETE and TRUNCATE are refused to the application role, and by the trigger even to a superuser', async () => {
    const before = await countEvents(server.pool);
    // The server's own pool is the application's role: INSERT and SELECT only, and not the owner.
    await expect(
      server.pool.query(`UPDATE audit_events SET outcome = 'success' WHERE outcome = 'denied'`),
    ).rejects.toThrow(/permission denied for table audit_events/);
    await expect(server.pool.query('DELETE FROM audit_events WHERE xray_id IS NOT NULL')).rejects.toThrow(
      /permission denied for table audit_events/,
    );
    await expect(server.pool.query('TRUNCATE audit_events')).rejects.toThrow(
      /permission denied for table audit_events/,
    );
    await expect(
      server.pool.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete'),
    ).rejects.toThrow(/must be owner of table audit_events/);

    const superuser = new pg.Pool({ connectionString: server.env.DATABASE_URL, max: 1 });
    try {
      await expect(
        superuser.query(`UPDATE audit_events SET outcome = 'success' WHERE outcome = 'denied'`),
      ).rejects.toThrow(/append-only: UPDATE/);
      await expect(superuser.query('DELETE FROM audit_events WHERE xray_id IS NOT NULL')).rejects.toThrow(
        /append-only: DELETE/,
      );
      await expect(superuser.query('TRUNCATE audit_events')).rejects.toThrow(/append-only: TRUNCATE/);
    } finally {
      await superuser.end();
    }
    expect(await countEvents(server.pool)).toBe(before);
  });

  it('verify-audit recomputes the whole chain of this run, and checks it against its signed checkpoint', async () => {
    const verdict = await verifyAuditChain(server.pool, { batchSize: 5 });
    expect(verdict).toEqual({
      ok: true,
      count: await countEvents(server.pool),
      headId: expect.any(String),
      headHash: expect.any(String),
      checkpoints: 0,
      unanchored: await countEvents(server.pool),
    });
    const checkpoint = await server.auditAnchoring.checkpointNow();
    expect(checkpoint).toMatchObject({ count: verdict.ok ? verdict.count : -1 });
    const cli = await verifyAuditCli(server.env);
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/^OK: \d+ audit events verified/);
    expect(cli.stdout).toMatch(/^OK: 1 checkpoint in .* verified/m);
  });
});

describe('audit chain across instances', () => {
  let a: TestServer;
  let b: TestServer;
  let c: ServerProcess;
  let dataDir: string;
  let databaseUrl: string;
  let superuser: pg.Pool;

  beforeAll(async () => {
    // Three instances on one database and one object store: two in this process, one its own process.
    dataDir = await mkdtemp(path.join(tmpdir(), 'xray-audit-cluster-'));
    a = await startTestServer('fs', { DATA_DIR: dataDir }, { authenticate: headerActor });
    databaseUrl = a.env.DATABASE_URL ?? '';
    b = await startTestServer('fs', { DATA_DIR: dataDir, DATABASE_URL: databaseUrl }, { authenticate: headerActor });
    c = await spawnServer({ NODE_ENV: 'test', DATABASE_URL: databaseUrl, DATA_DIR: dataDir });
    superuser = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  });
  afterAll(async () => {
    await superuser?.end();
    await c?.kill();
    await b?.close();
    await a?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('concurrent appends from three instances leave one unbroken chain', async () => {
    const seed = await postXray(a.url, validMetadata(), blobOf(makePng({ seed: 50 })), { 'X-Test-Actor': PARAMEDIC });
    const id = await idOf(seed);
    const before = await countEvents(superuser);

    const burst = (base: string, actor: Record<string, string>, n: number) =>
      Array.from({ length: n }, (_, i) => {
        switch (i % 3) {
          case 0:
            return postXray(base, validMetadata(), blobOf(makePng({ seed: 1000 + i })), actor);
          case 1:
            return fetch(`${base}/xrays/${id}`, { headers: actor });
          default:
            return fetch(`${base}/xrays?limit=3`, { headers: actor });
        }
      });
    const responses = await Promise.all([
      ...burst(a.url, { 'X-Test-Actor': PARAMEDIC }, 30),
      ...burst(b.url, { 'X-Test-Actor': ADMIN }, 30),
      ...burst(c.url, {}, 30), // the spawned process acts as its development stand-in user
    ]);
    for (const res of responses) {
      expect([200, 201]).toContain(res.status);
      await res.arrayBuffer();
    }
    expect((await countEvents(superuser)) - before).toBe(90);

    const { rows } = await superuser.query<{ id: string; prev_hash: string; hash: string }>(
      'SELECT id::text AS id, prev_hash, hash FROM audit_events ORDER BY audit_events.id',
    );
    rows.forEach((row, i) => expect(row.prev_hash).toBe(i === 0 ? '0'.repeat(64) : rows[i - 1]?.hash));
    expect(await verifyAuditChain(superuser)).toMatchObject({ ok: true, count: rows.length });
    const cli = await verifyAuditCli(a.env);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain(`OK: ${rows.length} audit events verified`);
  });

  it('verify-audit names the first broken event after a superuser edits or removes one with the trigger disabled', async () => {
    const { rows } = await superuser.query<{ id: string; user_agent: string | null }>(
      'SELECT id::text AS id, user_agent FROM audit_events ORDER BY audit_events.id LIMIT 3 OFFSET 20',
    );
    const [edited, , removed] = rows;
    if (!edited || !removed) throw new Error('too few events');
    const tamper = async (sql: string, args: unknown[]) => {
      const client = await superuser.connect();
      try {
        await client.query('BEGIN');
        await client.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete');
        await client.query(sql, args);
        await client.query('ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete');
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    };

    await tamper('UPDATE audit_events SET user_agent = $2 WHERE id = $1', [edited.id, 'forged']);
    let cli = await verifyAuditCli(a.env);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain(
      `BROKEN: audit event ${edited.id} does not verify: its contents do not match its hash`,
    );

    await tamper('UPDATE audit_events SET user_agent = $2 WHERE id = $1', [edited.id, edited.user_agent]);
    expect((await verifyAuditCli(a.env)).code).toBe(0);

    await tamper('DELETE FROM audit_events WHERE id = $1', [removed.id]);
    cli = await verifyAuditCli(a.env);
    expect(cli.code).toBe(1);
    const { rows: after } = await superuser.query<{ id: string }>(
      'SELECT id::text AS id FROM audit_events WHERE id > $1 ORDER BY audit_events.id LIMIT 1',
      [removed.id],
    );
    expect(cli.stdout).toContain(`BROKEN: audit event ${after[0]?.id} does not verify: its prev_hash is not the hash`);
  });

  it('verify-audit explains what it needs when it cannot run', async () => {
    const noDb = await verifyAuditCli({ ...a.env, DATABASE_URL: '' });
    expect(noDb.code).toBe(2);
    expect(noDb.stderr).toContain('DATABASE_URL is not set');
  });
});
