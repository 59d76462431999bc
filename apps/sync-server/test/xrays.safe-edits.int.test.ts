import { randomUUID } from 'node:crypto';
import { makePng } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobOf, postXray, startTestServer, storedObjects, validMetadata, type TestServer } from './harness.ts';
import { startTestIssuer, SUBJECTS, type Person, type TestIssuer } from './oidc-tokens.ts';
import { encodeMeta, sealed } from './tus-client.ts';

/**
 * Safe repeats and edits, with real tokens from a real OIDC issuer, real PostgreSQL and real S3:
 * the one repeat rule on both doors (only an exact replay by the same user is a 200; anything
 * else is one 409 that tells nothing), the resource's ETag with If-None-Match and If-Match, and
 * 405 for a method a known path does not take. Every request carries its own X-Request-Id, so
 * each answer is matched to the audit rows it left.
 */

type Who = Person;
const SUBS = SUBJECTS;
let tokens: Record<Who, string>;
let issuer: TestIssuer;
let server: TestServer;
let base: string;

beforeAll(async () => {
  issuer = await startTestIssuer('safe');
  tokens = issuer.tokens;
  server = await startTestServer('s3', issuer.env);
  base = server.url;
});
afterAll(async () => {
  await server?.close();
  await issuer?.stop();
});

// ---- requests and what they left --------------------------------------------------------------

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  requestId: string;
}

const auth = (who: Who | null, requestId: string): Record<string, string> => ({
  'X-Request-Id': requestId,
  ...(who ? { Authorization: `Bearer ${tokens[who]}` } : {}),
});

async function call(
  method: string,
  urlPath: string,
  who: Who | null,
  init: { headers?: Record<string, string>; json?: unknown } = {},
): Promise<Reply> {
  const requestId = `safe-${randomUUID()}`;
  const res = await fetch(`${base}${urlPath}`, {
    method,
    headers: {
      ...auth(who, requestId),
      ...(init.json === undefined ? {} : { 'Content-Type': 'application/json' }),
      ...init.headers,
    },
    ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) }),
  });
  return { status: res.status, headers: res.headers, text: await res.text(), requestId };
}

async function rest(who: Who, metadata: unknown, plain: Buffer): Promise<Reply> {
  const requestId = `safe-${randomUUID()}`;
  const res = await postXray(base, metadata, blobOf(plain), auth(who, requestId));
  return { status: res.status, headers: res.headers, text: await res.text(), requestId };
}

/** tus creation (no body) with Upload-Metadata: what an edge that lost its answer sends again. */
const tusCreate = (who: Who, length: number, metadata: Record<string, string>) =>
  call('POST', '/uploads', who, {
    headers: {
      'Tus-Resumable': '1.0.0',
      'Upload-Length': String(length),
      'Upload-Metadata': encodeMeta(metadata),
    },
  });

interface AuditRow {
  action: string;
  outcome: string;
  actor_sub: string | null;
  details: Record<string, unknown>;
}

async function auditOf(r: Reply): Promise<AuditRow[]> {
  const { rows } = await server.pool.query<AuditRow>(
    'SELECT action, outcome, actor_sub, details FROM audit_events WHERE request_id = $1 ORDER BY id',
    [r.requestId],
  );
  return rows;
}

/** A problem's body without `instance` (the path asked): what must be identical across refusals. */
function problemOf(r: Reply): Record<string, unknown> {
  expect(r.headers.get('content-type'), r.text).toContain('application/problem+json');
  const { instance: _instance, ...rest } = JSON.parse(r.text) as Record<string, unknown>;
  return rest;
}

async function stored(id: string) {
  const { rows } = await server.pool.query<{ patient_id: string; notes: string | null; body_part: string }>(
    'SELECT patient_id, notes, body_part FROM xrays WHERE id = $1',
    [id],
  );
  return rows;
}

// ---- the repeat rule ----------------------------------------------------------------------------

describe('the repeat rule: one for both doors', () => {
  it('only the same user with the same details and bytes gets the X-ray back; every other replay is one 409 that tells nothing', async () => {
    const plain = makePng({ seed: 2401 });
    const id = randomUUID();
    const patientId = `P-REPEAT-${id.slice(0, 8)}`;
    const metadata = validMetadata({ id, patientId, notes: 'left lung', consultationId: 'C-7' });
    const first = await rest('owner', metadata, plain);
    expect(first.status, first.text).toBe(201);
    const x = JSON.parse(first.text) as { sha256: string; capturedAt: string };

    // An exact replay, even with the capture time written in another offset: 200, the stored X-ray.
    const replay = await rest('owner', { ...metadata, capturedAt: '2026-11-27T09:15:00+01:00' }, plain);
    expect(replay.status, replay.text).toBe(200);
    expect(JSON.parse(replay.text)).toEqual(JSON.parse(first.text));
    expect((await auditOf(replay)).map((a) => [a.action, a.outcome, a.details.created])).toEqual([
      ['xray.create', 'success', false],
    ]);

    // Through tus, the edge's creation after a lost answer: the same declaration is a 200 too.
    const s = await sealed(base, plain, {
      id,
      patientId,
      capturedAt: String(metadata.capturedAt),
      bodyPart: 'CHEST',
      view: 'PA',
      priority: 'urgent',
      notes: 'left lung',
      consultationId: 'C-7',
    });
    const tusReplay = await tusCreate('owner', s.body.length, s.metadata);
    expect(tusReplay.status, tusReplay.text).toBe(200);
    expect(tusReplay.headers.get('x-xray-id')).toBe(id);

    const refusals: [string, () => Promise<Reply>, string][] = [
      ['owner, other notes (REST)', () => rest('owner', { ...metadata, notes: 'right lung' }, plain), 'notes'],
      ['owner, no consultation (REST)', () => rest('owner', { ...metadata, consultationId: undefined }, plain), ''],
      ['owner, other patient (REST)', () => rest('owner', { ...metadata, patientId: 'P-OTHER' }, plain), ''],
      ['owner, routine (REST)', () => rest('owner', { ...metadata, priority: 'routine' }, plain), ''],
      ['owner, other bytes (REST)', () => rest('owner', metadata, makePng({ seed: 2402 })), 'content'],
      [
        'owner, other body part (tus)',
        () => tusCreate('owner', s.body.length, { ...s.metadata, bodyPart: 'HAND' }),
        '',
      ],
      [
        'owner, other sha256 (tus)',
        () => tusCreate('owner', s.body.length, { ...s.metadata, sha256: 'c'.repeat(64) }),
        'content',
      ],
      ['another paramedic, exact (REST)', () => rest('other', metadata, plain), 'not_owner'],
      ['another paramedic, exact (tus)', () => tusCreate('other', s.body.length, s.metadata), 'not_owner'],
      ['an admin, exact (REST)', () => rest('admin', metadata, plain), 'not_owner'],
      ['an admin, exact (tus)', () => tusCreate('admin', s.body.length, s.metadata), 'not_owner'],
    ];
    const bodies = new Set<string>();
    for (const [name, send, why] of refusals) {
      const r = await send();
      expect(r.status, `${name}: ${r.text}`).toBe(409);
      const problem = problemOf(r);
      expect(problem.code, name).toBe('conflict');
      bodies.add(JSON.stringify(problem));
      // Nothing of the stored X-ray in the answer: not its hash, patient, notes, owner or headers.
      for (const secret of [x.sha256, patientId, 'left lung', SUBS.owner, 'C-7'])
        expect(r.text.includes(secret), `${name} leaks ${secret}`).toBe(false);
      expect(
        [...r.headers.keys()].filter((h) => h.startsWith('x-xray-')),
        name,
      ).toEqual([]);
      // Each refusal is on the trail, and only the trail says why.
      const [row, ...more] = await auditOf(r);
      expect(more, name).toEqual([]);
      if (why === 'not_owner') {
        expect([row?.action, row?.outcome, row?.details.denial], name).toEqual([
          'access.denied',
          'denied',
          'not_owner',
        ]);
      } else {
        expect([row?.action, row?.outcome, row?.details.error], name).toEqual(['xray.create', 'failed', 'conflict']);
        if (why) expect(row?.details.differs, name).toEqual([why]);
        else expect(row?.details.differs, name).toHaveLength(1);
      }
    }
    expect([...bodies], 'every refusal reads the same').toHaveLength(1);

    // A doctor and a token with no role may not create at all.
    for (const who of ['doctor', 'noRole'] as const) {
      const r = await rest(who, metadata, plain);
      expect(r.status, who).toBe(403);
      expect(problemOf(r).code).toBe('forbidden');
    }

    // The stored X-ray is as first sent; no upload was begun and nothing else stored.
    expect(await stored(id)).toEqual([{ patient_id: patientId, notes: 'left lung', body_part: 'CHEST' }]);
    expect((await server.pool.query('SELECT 1 FROM tus_uploads WHERE xray_id = $1', [id])).rowCount).toBe(0);
    expect((await storedObjects(server)).filter((k) => k.includes(id))).toHaveLength(2);
  });

  it('a resend after a correction repeats what is stored now: the corrected details are a 200, the first ones a 409', async () => {
    const plain = makePng({ seed: 2411 });
    const id = randomUUID();
    const metadata = validMetadata({ id, patientId: 'P-WRONG-1' });
    expect((await rest('owner', metadata, plain)).status).toBe(201);
    // The sent-link fix: the paramedic corrects the patient from the device.
    const fix = await call('PATCH', `/xrays/${id}`, 'owner', { json: { patientId: 'P-RIGHT-1' } });
    expect(fix.status, fix.text).toBe(200);

    const corrected = await rest('owner', { ...metadata, patientId: 'P-RIGHT-1' }, plain);
    expect(corrected.status, corrected.text).toBe(200);
    expect(JSON.parse(corrected.text)).toMatchObject({ id, patientId: 'P-RIGHT-1' });
    const stale = await rest('owner', metadata, plain);
    expect(stale.status).toBe(409);
    expect((await auditOf(stale))[0]?.details.differs).toEqual(['patientId']);
  });

  it('a tus upload that finishes after the same id was stored with other details: the same 409, and its bytes are gone', async () => {
    const plain = makePng({ width: 300, height: 300, seed: 2421 });
    const s = await sealed(base, plain, { notes: 'sent by tus' });
    const id = s.metadata.id;
    const created = await tusCreate('owner', s.body.length, s.metadata);
    expect(created.status, created.text).toBe(201);
    const uploadPath = new URL(created.headers.get('location') ?? '').pathname;
    // Meanwhile the same capture arrives through the other door with other notes.
    const viaRest = await rest(
      'owner',
      {
        id,
        patientId: s.metadata.patientId,
        capturedAt: s.metadata.capturedAt,
        bodyPart: s.metadata.bodyPart,
        view: s.metadata.view,
        priority: s.metadata.priority,
        notes: 'sent by REST',
      },
      plain,
    );
    expect(viaRest.status, viaRest.text).toBe(201);

    const requestId = `safe-${randomUUID()}`;
    const res = await fetch(`${base}${uploadPath}`, {
      method: 'PATCH',
      headers: {
        ...auth('owner', requestId),
        'Tus-Resumable': '1.0.0',
        'Content-Type': 'application/offset+octet-stream',
        'Upload-Offset': '0',
      },
      body: new Uint8Array(s.body),
    });
    const last: Reply = { status: res.status, headers: res.headers, text: await res.text(), requestId };
    expect(last.status, last.text).toBe(409);
    const other = await rest('other', { ...validMetadata({ id }) }, plain);
    expect(problemOf(last)).toEqual(problemOf(other));
    expect(await stored(id)).toEqual([{ patient_id: s.metadata.patientId, notes: 'sent by REST', body_part: 'CHEST' }]);
    // The X-ray's object and its recovery record only: the tus bytes were removed.
    const left = async () => (await storedObjects(server)).filter((k) => k.includes(id));
    for (let i = 0; i < 200 && (await left()).length > 2; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await left()).toHaveLength(2);
  });
});

// ---- ETag, If-None-Match, If-Match --------------------------------------------------------------

describe('the resource ETag', () => {
  async function storeOne(seed: number) {
    const plain = makePng({ seed });
    const r = await rest('owner', validMetadata({ id: randomUUID(), patientId: 'P-ETAG-1' }), plain);
    expect(r.status, r.text).toBe(201);
    return JSON.parse(r.text) as { id: string; sha256: string };
  }

  it('GET sends a strong ETag of the version; If-None-Match with it is a 304 (audited); a change moves it on', async () => {
    const x = await storeOne(2501);
    const read = await call('GET', `/xrays/${x.id}`, 'doctor');
    expect(read.status).toBe(200);
    const etag = read.headers.get('etag') ?? '';
    expect(etag).toMatch(/^"v\d+"$/);
    expect(etag).toBe(`"v${(JSON.parse(read.text) as { changeSeq: number }).changeSeq}"`);
    // Not the file's ETag, which stays the sha256 of the bytes.
    const file = await call('GET', `/xrays/${x.id}/download`, 'doctor');
    expect(file.headers.get('etag')).toBe(`"${x.sha256}"`);
    expect(
      (await call('GET', `/xrays/${x.id}/download`, 'doctor', { headers: { 'If-None-Match': etag } })).status,
    ).toBe(200);
    expect(
      (await call('GET', `/xrays/${x.id}/download`, 'doctor', { headers: { 'If-None-Match': `"${x.sha256}"` } }))
        .status,
    ).toBe(304);

    for (const given of [etag, `W/${etag}`, `"v0", ${etag}`, '*']) {
      const again = await call('GET', `/xrays/${x.id}`, 'doctor', {
        headers: { 'If-None-Match': given, 'Cache-Control': 'no-cache' },
      });
      expect(again.status, given).toBe(304);
      expect(again.text).toBe('');
      expect(again.headers.get('etag')).toBe(etag);
      expect((await auditOf(again)).map((a) => [a.action, a.outcome, a.details.notModified])).toEqual([
        ['xray.read', 'success', true],
      ]);
    }
    // Another paramedic learns nothing from a matching tag: the same 404 as for no X-ray.
    const probe = await call('GET', `/xrays/${x.id}`, 'other', { headers: { 'If-None-Match': etag } });
    expect(probe.status).toBe(404);
    expect(probe.headers.get('etag')).not.toBe(etag);

    const patched = await call('PATCH', `/xrays/${x.id}`, 'doctor', { json: { notes: 'seen' } });
    expect(patched.status).toBe(200);
    const next = patched.headers.get('etag') ?? '';
    expect(next).toMatch(/^"v\d+"$/);
    expect(next).not.toBe(etag);
    const fresh = await call('GET', `/xrays/${x.id}`, 'doctor', { headers: { 'If-None-Match': etag } });
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get('etag')).toBe(next);
  });

  it('PATCH with If-Match applies only to the version read: a stale or weak tag is 412 (audited), nothing changes', async () => {
    const x = await storeOne(2511);
    const etag = (await call('GET', `/xrays/${x.id}`, 'owner')).headers.get('etag') ?? '';
    // A doctor corrects it meanwhile.
    const doctorFix = await call('PATCH', `/xrays/${x.id}`, 'doctor', {
      json: { bodyPart: 'HAND' },
      headers: { 'If-Match': etag },
    });
    expect(doctorFix.status, doctorFix.text).toBe(200);
    const current = doctorFix.headers.get('etag') ?? '';

    // The paramedic's correction, made on what they read before: refused, not applied over the doctor's.
    for (const given of [etag, `W/${current}`, '"v0"']) {
      const stale = await call('PATCH', `/xrays/${x.id}`, 'owner', {
        json: { bodyPart: 'CHEST' },
        headers: { 'If-Match': given },
      });
      expect(stale.status, given).toBe(412);
      expect(problemOf(stale).code).toBe('precondition_failed');
      expect((await auditOf(stale)).map((a) => [a.action, a.outcome, a.actor_sub, a.details.error])).toEqual([
        ['xray.update', 'failed', SUBS.owner, 'precondition_failed'],
      ]);
    }
    expect((await stored(x.id))[0]?.body_part).toBe('HAND');
    const events = await server.pool.query(`SELECT 1 FROM outbox_events WHERE xray_id = $1 AND type = 'xray.updated'`, [
      x.id,
    ]);
    expect(events.rowCount).toBe(1);

    // Read again, then decide: the current tag (or *) applies.
    const ok = await call('PATCH', `/xrays/${x.id}`, 'owner', {
      json: { bodyPart: 'CHEST' },
      headers: { 'If-Match': current },
    });
    expect(ok.status, ok.text).toBe(200);
    expect((await stored(x.id))[0]?.body_part).toBe('CHEST');
    const star = await call('PATCH', `/xrays/${x.id}`, 'owner', { json: { notes: 'x' }, headers: { 'If-Match': '*' } });
    expect(star.status).toBe(200);
    // Without If-Match a correction applies as before.
    expect((await call('PATCH', `/xrays/${x.id}`, 'owner', { json: { notes: 'y' } })).status).toBe(200);

    // Who may not correct it hears the same as without If-Match: nothing about its version.
    const someone = await call('PATCH', `/xrays/${x.id}`, 'other', {
      json: { notes: 'z' },
      headers: { 'If-Match': '"v0"' },
    });
    expect(someone.status).toBe(404);
    const noRole = await call('PATCH', `/xrays/${x.id}`, 'noRole', {
      json: { notes: 'z' },
      headers: { 'If-Match': '"v0"' },
    });
    expect(noRole.status).toBe(403);
  });

  it('two corrections made on the same version: exactly one applies, the other is 412', async () => {
    const x = await storeOne(2521);
    const etag = (await call('GET', `/xrays/${x.id}`, 'admin')).headers.get('etag') ?? '';
    const answers = await Promise.all(
      ['P-RACE-A', 'P-RACE-B'].map((patientId) =>
        call('PATCH', `/xrays/${x.id}`, 'admin', { json: { patientId }, headers: { 'If-Match': etag } }),
      ),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, 412]);
    const winner = JSON.parse(answers.find((a) => a.status === 200)?.text ?? '{}') as { patientId: string };
    expect((await stored(x.id))[0]?.patient_id).toBe(winner.patientId);
  });
});

// ---- 405 --------------------------------------------------------------------------------------

describe('405 for a method a known path does not take', () => {
  it('problem+json with Allow, audited as a denial when signed in; unknown paths stay 404', async () => {
    const id = randomUUID();
    const upload = randomUUID();
    const cases: [string, string, Who | null, string][] = [
      ['PUT', `/xrays/${id}`, 'admin', 'DELETE, GET, HEAD, PATCH'],
      ['POST', `/xrays/${id}`, 'doctor', 'DELETE, GET, HEAD, PATCH'],
      ['PUT', `/xrays/${id}`, 'noRole', 'DELETE, GET, HEAD, PATCH'],
      ['DELETE', '/xrays', 'owner', 'GET, HEAD, POST'],
      ['PATCH', `/xrays/${id}/download`, 'doctor', 'GET, HEAD'],
      ['PUT', `/uploads/${upload}`, 'owner', 'DELETE, HEAD, OPTIONS, PATCH'],
      ['GET', '/uploads', 'owner', 'OPTIONS, POST'],
      ['POST', '/healthz', null, 'GET, HEAD'],
      ['DELETE', '/keys/upload', null, 'GET, HEAD'],
    ];
    for (const [method, p, who, allow] of cases) {
      const r = await call(method, p, who, method === 'GET' ? {} : { headers: { 'Tus-Resumable': '1.0.0' } });
      const where = `${method} ${p} as ${who ?? 'anonymous'}`;
      expect(r.status, `${where}: ${r.text}`).toBe(405);
      expect(r.headers.get('allow'), where).toBe(allow);
      expect(problemOf(r), where).toMatchObject({ status: 405, code: 'method_not_allowed' });
      const rows = await auditOf(r);
      if (who) {
        expect(
          rows.map((a) => [a.action, a.outcome, a.actor_sub, a.details.denial, a.details.method]),
          where,
        ).toEqual([['access.denied', 'denied', SUBS[who], 'method', method]]);
      } else {
        expect(rows, where).toEqual([]);
      }
    }
    // Authentication still comes first on the API, and a path nobody declares is 404.
    expect((await call('PUT', `/xrays/${id}`, null)).status).toBe(401);
    const unknown = await call('PUT', '/no-such-thing', 'admin');
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('allow')).toBeNull();
    // Nothing was changed by any of them.
    expect((await server.pool.query('SELECT 1 FROM xrays WHERE id = $1', [id])).rowCount).toBe(0);
  });
});

describe('token_expired', () => {
  it('a genuine expired token is 401 token_expired; the challenge still says invalid_token (RFC 6750)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await issuer.forge.signed({
      sub: SUBS.owner,
      roles: ['paramedic'],
      iat: now - 3600,
      exp: now - 120,
    });
    const res = await fetch(`${base}/xrays`, { headers: { Authorization: `Bearer ${expired}` } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token", error_description="[^"]*expired/);
    expect(await res.json()).toMatchObject({ status: 401, code: 'token_expired' });
    // Any other bad token keeps the general code.
    const garbled = await fetch(`${base}/xrays`, { headers: { Authorization: `Bearer ${expired.slice(0, -4)}AAAA` } });
    expect(await garbled.json()).toMatchObject({ status: 401, code: 'unauthenticated' });
  });
});
