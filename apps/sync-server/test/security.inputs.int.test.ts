import { randomUUID } from 'node:crypto';
import { makePng } from '@xray/testkit';
import { ProblemSchema, type Problem } from '@xray/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  asOwner,
  blobOf,
  countRows,
  postXray,
  startTestServer,
  storedObjects,
  validMetadata,
  type TestServer,
  headerActor,
} from './harness.ts';
import { encodeMeta, sealed } from './tus-client.ts';

/**
 * Hostile and careless input through every door: each client text field (POST /xrays metadata,
 * PATCH bodies, tus Upload-Metadata, list and audit queries, cursors) × control characters,
 * overlong strings, impossible dates. Every one must be a 400 problem naming the field — never a
 * 500 — that stores nothing and leaves its audit event. Then: one answer for "missing" and "not
 * yours", and denials that name the X-ray they were about.
 */

const PARAMEDIC = 'para-1; paramedic';
const OTHER_PARAMEDIC = 'para-2; paramedic';
const DOCTOR = 'doc-1; doctor';
const ADMIN = 'admin-1; admin';
const NO_ROLE = 'nobody; ';

const png = makePng({ seed: 15 });
const hoursFromNow = (h: number) => new Date(Date.now() + h * 3600_000).toISOString();
const b64url = (s: string) => Buffer.from(s).toString('base64url');
const ZERO_UUID = '00000000-0000-4000-8000-000000000000';

/** Control and look-alike characters no text field may hold. */
const CONTROLS: [string, string][] = [
  ['NUL', 'x\u0000y'],
  ['ESC (C0)', 'x\u001by'],
  ['DEL', 'x\u007fy'],
  ['NEL (C1)', 'x\u0085y'],
  ['U+2028', 'x\u2028y'],
  ['RLO (bidi override)', 'x\u202ey'],
];
/** JSON carries a lone surrogate as \ud800; a header's bytes cannot (the client's UTF-8 replaces it). */
const LONE_SURROGATE: [string, string] = ['a lone surrogate', 'x\ud800y'];

const TEXT_FIELDS = ['patientId', 'consultationId', 'deviceId', 'bodyPart', 'notes'] as const;
/** One hostile value for one field (tables of objects, so test names show the label, not the raw value). */
interface Case {
  field: string;
  label: string;
  value: string;
}
const c = (field: string, label: string, value: string): Case => ({ field, label, value });

const textCases = (controls: [string, string][]): Case[] =>
  TEXT_FIELDS.flatMap((field) => controls.map(([label, value]) => c(field, label, value)));

const DATE_CASES: Case[] = [
  c('capturedAt', 'year 0000', '0000-01-01T00:00:00Z'),
  c('capturedAt', 'before 1900', '1899-12-31T23:59:59Z'),
  c('capturedAt', 'two days ahead', hoursFromNow(48)),
  // Beyond CAPTURE_TIME_MAX_SKEW_MS (5 min): a wrong device clock, not an X-ray from the future.
  c('capturedAt', 'ten minutes ahead', hoursFromNow(1 / 6)),
  c('capturedAt', 'year 9999', '9999-12-31T23:59:59Z'),
  c('capturedAt', 'an offset of +23:59', '2026-01-01T00:00:00+23:59'),
];
const LENGTH_CASES: Case[] = [
  c('patientId', '65 characters', 'P'.repeat(65)),
  c('deviceId', '129 characters', 'D'.repeat(129)),
  c('notes', '2001 characters', 'n'.repeat(2001)),
];
const METADATA_CASES: Case[] = [
  ...textCases([...CONTROLS, LONE_SURROGATE]),
  c('notes', 'CR LF', 'line one\r\nline two'),
  c('view', 'NUL', 'PA\u0000'),
  ...LENGTH_CASES,
  ...DATE_CASES,
];
const TUS_CASES: Case[] = [...textCases(CONTROLS), ...LENGTH_CASES, ...DATE_CASES];

interface Reply {
  status: number;
  contentType: string;
  body: unknown;
  requestId: string;
}

interface EventRow {
  action: string;
  outcome: string;
  xray_id: string | null;
  patient_id: string | null;
  actor_sub: string | null;
  details: Record<string, unknown>;
}

const ListSchema = z.object({ items: z.array(z.object({ id: z.string() })), nextCursor: z.string().nullable() });
const AuditListSchema = z.object({
  items: z.array(z.object({ action: z.string(), requestId: z.string().nullable(), xrayId: z.string().nullable() })),
});

describe('security: inputs, one 404, denials on the trail', () => {
  let server: TestServer;
  /** An X-ray para-1 captured, and what it says before any refused correction. */
  let mine: string;
  let before: Record<string, unknown>;

  async function send(
    method: string,
    urlPath: string,
    actor: string | undefined,
    init: { headers?: Record<string, string>; json?: unknown } = {},
  ): Promise<Reply> {
    const requestId = randomUUID();
    const res = await fetch(`${server.url}${urlPath}`, {
      method,
      headers: {
        'X-Request-Id': requestId,
        ...(actor ? { 'X-Test-Actor': actor } : {}),
        ...(init.json !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...init.headers,
      },
      ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}),
    });
    return replyOf(res, requestId);
  }

  async function replyOf(res: Response, requestId: string): Promise<Reply> {
    const text = await res.text();
    const contentType = res.headers.get('content-type') ?? '';
    const body: unknown = text && contentType.includes('json') ? JSON.parse(text) : text;
    return { status: res.status, contentType, body, requestId };
  }

  async function create(actor: string, over: Record<string, unknown> = {}): Promise<string> {
    const id = randomUUID();
    const res = await postXray(server.url, validMetadata({ id, ...over }), blobOf(png), { 'X-Test-Actor': actor });
    expect(res.status, await res.clone().text()).toBe(201);
    await res.arrayBuffer();
    return id;
  }

  async function eventsOf(requestId: string): Promise<EventRow[]> {
    const { rows } = await server.pool.query<EventRow>(
      `SELECT action, outcome, xray_id::text AS xray_id, patient_id, actor_sub, details
         FROM audit_events WHERE request_id = $1 ORDER BY id`,
      [requestId],
    );
    return rows;
  }

  /** Rows and objects: what a refused request must leave as it found. */
  async function stored() {
    return {
      xrays: await countRows(server, 'xrays'),
      uploads: await countRows(server, 'tus_uploads'),
      objects: (await storedObjects(server)).sort(),
    };
  }

  /** A 400 problem+json whose errors[] names `field`, and exactly one audit event of the refusal. */
  async function expectRefused(reply: Reply, code: 'validation_failed' | 'bad_request', field?: string) {
    expect(reply.status, JSON.stringify(reply.body)).toBe(400);
    expect(reply.contentType).toContain('application/problem+json');
    const problem: Problem = ProblemSchema.parse(reply.body);
    expect(problem.code).toBe(code);
    if (field) expect(problem.errors?.map((e) => e.field)).toContain(field);
    const events = await eventsOf(reply.requestId);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ outcome: 'failed', details: { error: code, status: 400 } });
    return { problem, event: events[0] };
  }

  beforeAll(async () => {
    server = await startTestServer('fs', {}, { authenticate: headerActor });
    mine = await create(PARAMEDIC, { patientId: 'P-SEC-1', notes: 'first look' });
    before = await rowOf(mine);
  });
  afterAll(async () => {
    await server?.close();
  });

  async function rowOf(id: string): Promise<Record<string, unknown>> {
    const { rows } = await server.pool.query(
      'SELECT patient_id, consultation_id, device_id, body_part, view, notes, captured_at FROM xrays WHERE id = $1',
      [id],
    );
    return rows[0] as Record<string, unknown>;
  }

  describe('POST /xrays metadata', () => {
    it.each(METADATA_CASES)('$field with $label: 400 naming it, nothing stored, audited', async ({ field, value }) => {
      const was = await stored();
      const id = randomUUID();
      const requestId = randomUUID();
      const res = await postXray(server.url, validMetadata({ id, [field]: value }), blobOf(png), {
        'X-Test-Actor': PARAMEDIC,
        'X-Request-Id': requestId,
      });
      const { event } = await expectRefused(await replyOf(res, requestId), 'validation_failed', `metadata.${field}`);
      expect(event).toMatchObject({ action: 'xray.create', actor_sub: 'para-1' });
      expect(await stored()).toEqual(was);
    });

    it('a capture time a little ahead (a fast tablet clock, within CAPTURE_TIME_MAX_SKEW_MS) and notes over several lines are taken', async () => {
      const id = await create(PARAMEDIC, { capturedAt: hoursFromNow(0.05), notes: 'left side\n\tribs 3–5' });
      expect((await rowOf(id)).notes).toBe('left side\n\tribs 3–5');
    });
  });

  describe('PATCH /xrays/{id} body', () => {
    const PATCH_CASES: Case[] = [
      ...textCases([...CONTROLS, LONE_SURROGATE]).filter((k) => k.field !== 'deviceId'),
      c('notes', 'CR LF', 'a\r\nb'),
      c('notes', '2001 characters', 'n'.repeat(2001)),
      c('patientId', '65 characters', 'P'.repeat(65)),
    ];
    it.each(PATCH_CASES)(
      '$field with $label: 400 naming it, the X-ray unchanged, audited',
      async ({ field, value }) => {
        const reply = await send('PATCH', `/xrays/${mine}`, PARAMEDIC, { json: { [field]: value } });
        const { event } = await expectRefused(reply, 'validation_failed', field);
        expect(event).toMatchObject({ action: 'xray.update', xray_id: mine });
        expect(await rowOf(mine)).toEqual(before);
      },
    );

    it('an id holding a NUL is a 400 naming id, audited', async () => {
      const reply = await send('PATCH', '/xrays/%00', PARAMEDIC, { json: { notes: 'x' } });
      const { problem } = await expectRefused(reply, 'bad_request', 'id');
      expect(problem.detail).not.toContain('\u0000');
    });
  });

  describe('tus Upload-Metadata at POST /uploads', () => {
    it.each(TUS_CASES)('$field with $label: 400 naming it before a byte is stored', async ({ field, value }) => {
      const { body, metadata } = await sealed(server.url, png, { [field]: value });
      const was = await stored();
      const reply = await send('POST', '/uploads', PARAMEDIC, {
        headers: {
          'Tus-Resumable': '1.0.0',
          'Upload-Length': String(body.length),
          'Upload-Metadata': encodeMeta(metadata),
        },
      });
      const { event } = await expectRefused(reply, 'validation_failed', `metadata.${field}`);
      expect(event).toMatchObject({ action: 'xray.create', actor_sub: 'para-1' });
      expect(await stored()).toEqual(was);
    });
  });

  describe('list queries and cursors', () => {
    const issuedLike = (capturedAt: string, id: string) => b64url(JSON.stringify([capturedAt, id]));
    const LIST_CASES: Case[] = [
      c('patientId', 'NUL', 'P\u0000'),
      c('consultationId', 'NEL (C1)', 'C\u0085'),
      c('patientId', '65 characters', 'P'.repeat(65)),
      c('from', 'year 0000', '0000-01-01T00:00:00Z'),
      c('to', 'year 0000', '0000-01-01T00:00:00Z'),
      c('from', 'an offset of +23:59', '2026-01-01T00:00:00+23:59'),
      c('to', 'not a date-time', 'yesterday'),
      c('cursor', 'junk that decodes to ["1", a uuid]', issuedLike('1', ZERO_UUID)),
      c('cursor', 'year 0000', issuedLike('0000-01-01T00:00:00.000Z', ZERO_UUID)),
      c('cursor', 'a 30th of February', issuedLike('2026-02-30T00:00:00.000Z', ZERO_UUID)),
      c('cursor', 'an id that is no uuid', issuedLike('2026-11-27T08:15:00.000Z', '1')),
      c('cursor', 'a third element', b64url(JSON.stringify(['2026-11-27T08:15:00.000Z', ZERO_UUID, 1]))),
      c('cursor', 're-spaced JSON', b64url(`[ "2026-11-27T08:15:00.000Z", "${ZERO_UUID}" ]`)),
      c('cursor', 'not JSON', b64url('hello')),
      c('cursor', 'not base64url', 'WyIxIi+/='),
      c('cursor', 'a NUL', 'abc\u0000'),
      c('cursor', '513 characters', 'a'.repeat(513)),
    ];
    it.each(LIST_CASES)('GET /xrays $field with $label: 400 naming it, audited', async ({ field: param, value }) => {
      const reply = await send('GET', `/xrays?${new URLSearchParams({ [param]: value }).toString()}`, DOCTOR);
      const { event } = await expectRefused(reply, 'validation_failed', param);
      expect(event).toMatchObject({ action: 'xray.list', actor_sub: 'doc-1' });
    });

    it('a cursor the server issued still pages', async () => {
      await create(PARAMEDIC);
      const first = await send('GET', '/xrays?limit=1', DOCTOR);
      expect(first.status).toBe(200);
      const { items, nextCursor } = ListSchema.parse(first.body);
      expect(nextCursor).not.toBeNull();
      const second = await send('GET', `/xrays?limit=1&cursor=${nextCursor}`, DOCTOR);
      expect(second.status).toBe(200);
      expect(ListSchema.parse(second.body).items[0]?.id).not.toBe(items[0]?.id);
    });

    const AUDIT_CASES: Case[] = [
      c('from', 'year 0000', '0000-01-01T00:00:00Z'),
      c('to', 'an offset of +23:59', '2026-01-01T00:00:00+23:59'),
      c('actor', 'NUL', 'doc\u0000'),
      c('patientId', 'NEL (C1)', 'P\u0085'),
      c('cursor', 'an id beyond a bigint', b64url('desc:9999999999999999999')),
      c('cursor', 'a cursor for the other order', b64url('asc:1')),
      c('cursor', 'a leading zero', b64url('desc:01')),
      c('cursor', 'junk', b64url('["1","00000000-0000-4000-8000-000000000000"]')),
    ];
    it.each(AUDIT_CASES)('GET /audit $field with $label: 400 naming it, audited', async ({ field: param, value }) => {
      const reply = await send('GET', `/audit?${new URLSearchParams({ [param]: value }).toString()}`, ADMIN);
      const { event } = await expectRefused(reply, 'validation_failed', param);
      expect(event).toMatchObject({ action: 'audit.list', actor_sub: 'admin-1' });
    });

    it('GET /admin/outbox cursor beyond a bigint: 400 naming cursor, audited', async () => {
      const reply = await send('GET', '/admin/outbox?cursor=9999999999999999999', ADMIN);
      const { event } = await expectRefused(reply, 'validation_failed', 'cursor');
      expect(event).toMatchObject({ action: 'outbox.list' });
    });
  });

  describe('a value PostgreSQL refuses is a 400, never a 500', () => {
    // Stands in for any data exception the schemas did not foresee: a trigger refuses the row
    // for one patient with the SQLSTATE a real value would raise.
    it.each([
      ['22P05', 'untranslatable character'],
      ['22008', 'datetime field overflow'],
      ['23514', 'check violation'],
    ])('SQLSTATE %s (%s) on POST /xrays: 400 bad_request, nothing stored, audited', async (sqlState) => {
      const patientId = `P-DB-${sqlState}`;
      const fn = `test_refuse_${sqlState.toLowerCase()}`;
      await asOwner(
        server,
        `
        CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.patient_id = '${patientId}' THEN RAISE EXCEPTION 'refused by test' USING ERRCODE = '${sqlState}'; END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER ${fn} BEFORE INSERT ON xrays FOR EACH ROW EXECUTE FUNCTION ${fn}();`,
      );
      try {
        const was = await stored();
        const requestId = randomUUID();
        const res = await postXray(server.url, validMetadata({ patientId }), blobOf(png), {
          'X-Test-Actor': PARAMEDIC,
          'X-Request-Id': requestId,
        });
        const { problem } = await expectRefused(await replyOf(res, requestId), 'bad_request');
        expect(problem.detail).toContain(sqlState);
        expect(problem.detail).not.toContain('refused by test');
        expect(await stored()).toEqual(was);
      } finally {
        await asOwner(server, `DROP TRIGGER ${fn} ON xrays; DROP FUNCTION ${fn}();`);
      }
    });
  });

  describe('"not yours" reads exactly as "does not exist"', () => {
    const answer = (r: Reply) => {
      // `instance` is the request's own path (it holds the id); everything else must match.
      const { instance: _instance, ...problem } = ProblemSchema.parse(r.body);
      return { httpStatus: r.status, contentType: r.contentType, problem };
    };

    it.each([
      ['GET', ''],
      ['GET', '/download'],
      ['HEAD', '/download'],
      ['PATCH', ''],
      ['DELETE', ''],
    ])(
      '%s /xrays/{id}%s: the same status, code and detail for a missing id and another paramedic’s',
      async (method, tail) => {
        const json = method === 'PATCH' ? { notes: 'peeked' } : undefined;
        const init = json ? { json } : {};
        const missing = await send(method, `/xrays/${randomUUID()}${tail}`, OTHER_PARAMEDIC, init);
        const notYours = await send(method, `/xrays/${mine}${tail}`, OTHER_PARAMEDIC, init);
        if (method === 'HEAD') {
          expect([missing.status, missing.contentType]).toEqual([notYours.status, notYours.contentType]);
          expect(notYours.status).toBe(404);
          return;
        }
        expect(answer(notYours)).toEqual(answer(missing));
        expect(notYours.status).toBe(method === 'DELETE' ? 403 : 404);
        expect(await rowOf(mine)).toEqual(before);
      },
    );

    it('an admin deleting a missing id hears the same words', async () => {
      const missing = await send('DELETE', `/xrays/${randomUUID()}`, ADMIN);
      const notYours = await send('GET', `/xrays/${mine}`, OTHER_PARAMEDIC);
      expect(answer(missing)).toEqual(answer(notYours));
    });
  });

  describe('a refused action is findable by its X-ray', () => {
    /** GET /audit?xrayId= as an admin: the events it lists for `id`. */
    async function trailOf(id: string) {
      const reply = await send('GET', `/audit?xrayId=${id}&limit=500`, ADMIN);
      expect(reply.status).toBe(200);
      return AuditListSchema.parse(reply.body).items;
    }

    it.each([
      { who: 'a doctor', actor: DOCTOR, method: 'DELETE', tail: '', attempted: 'xray.delete' },
      { who: 'a user without a role', actor: NO_ROLE, method: 'GET', tail: '', attempted: 'xray.read' },
      { who: 'a user without a role', actor: NO_ROLE, method: 'GET', tail: '/download', attempted: 'xray.download' },
      { who: 'a user without a role', actor: NO_ROLE, method: 'PATCH', tail: '', attempted: 'xray.update' },
    ])(
      '$who refused $method /xrays/{id}$tail: access.denied naming the X-ray, listed by GET /audit?xrayId=',
      async ({ actor, method, tail, attempted }) => {
        const id = await create(PARAMEDIC);
        const reply = await send(
          method,
          `/xrays/${id}${tail}`,
          actor,
          method === 'PATCH' ? { json: { notes: 'x' } } : {},
        );
        expect(reply.status).toBe(403);
        const [event] = await eventsOf(reply.requestId);
        expect(event).toMatchObject({
          action: 'access.denied',
          outcome: 'denied',
          xray_id: id,
          details: { attempted },
        });
        expect(await trailOf(id)).toContainEqual(
          expect.objectContaining({ action: 'access.denied', requestId: reply.requestId, xrayId: id }),
        );
        expect(await countRows(server, 'xrays')).toBeGreaterThan(0);
        expect((await rowOf(id)).patient_id).toBe('P-1001');
      },
    );

    it("a doctor's refused outbox retry is on the trail of the event's X-ray", async () => {
      const id = await create(PARAMEDIC);
      const { rows } = await server.pool.query<{ id: string }>('SELECT id FROM outbox_events WHERE xray_id = $1', [id]);
      const eventId = rows[0]?.id;
      expect(eventId).toBeDefined();
      const reply = await send('POST', `/admin/outbox/${eventId}/retry`, DOCTOR);
      expect(reply.status).toBe(403);
      expect(await eventsOf(reply.requestId)).toMatchObject([
        { action: 'access.denied', xray_id: id, details: { attempted: 'outbox.retry' } },
      ]);
      expect(await trailOf(id)).toContainEqual(expect.objectContaining({ requestId: reply.requestId }));
    });
  });
});
