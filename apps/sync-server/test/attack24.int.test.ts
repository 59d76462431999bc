import { randomUUID } from 'node:crypto';
import { makePng } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobOf, postXray, startTestServer, storedObjects, validMetadata, type TestServer } from './harness.ts';
import { startTestIssuer, SUBJECTS, type Person, type TestIssuer } from './oidc-tokens.ts';
import { encodeMeta, sealed } from './tus-client.ts';

/**
 * Issue 24, attacked from outside (real tokens, PostgreSQL, S3): the tombstone and repeat rules
 * where a deletion races an upload by someone who is not the capturer.
 */

type Who = Extract<Person, 'owner' | 'other' | 'admin'>;
const SUBS = SUBJECTS;
let tokens: Record<Who, string>;
let auth: TestIssuer;
let server: TestServer;

beforeAll(async () => {
  auth = await startTestIssuer('attack24');
  tokens = auth.tokens;
  server = await startTestServer('s3', auth.env);
});
afterAll(async () => {
  await server?.close();
  await auth?.stop();
});

const bearer = (who: Who) => ({ Authorization: `Bearer ${tokens[who]}` });
const api = (p: string, who: Who, init: RequestInit = {}) =>
  fetch(`${server.url}${p}`, { ...init, headers: { ...bearer(who), ...init.headers } });

/** A problem's body without `instance`: what must be the same for every refusal it stands for. */
async function problemOf(res: Response): Promise<Record<string, unknown>> {
  const text = await res.text();
  expect(res.headers.get('content-type'), text).toContain('application/problem+json');
  const { instance: _instance, ...rest } = JSON.parse(text) as Record<string, unknown>;
  return { status: res.status, ...rest };
}

describe('a deleted id, met by an upload of someone who is not its capturer', () => {
  it('a tus upload begun before the id was stored (and then deleted) is refused at its last byte with the uniform 409, not a 410 that says the id existed', async () => {
    const plain = makePng({ seed: 24_901, width: 8, height: 8 });
    const { body, metadata } = await sealed(server.url, plain, { patientId: 'P-1001' });
    const id = metadata.id;
    // Another paramedic starts an upload under an id nobody has used yet.
    const created = await api('/uploads', 'other', {
      method: 'POST',
      headers: {
        'Tus-Resumable': '1.0.0',
        'Upload-Length': String(body.length),
        'Upload-Metadata': encodeMeta(metadata),
      },
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const location = new URL(created.headers.get('location') ?? '').pathname;
    // Meanwhile the capturer stores an X-ray under that id, and an admin deletes it.
    expect((await postXray(server.url, validMetadata({ id }), blobOf(plain), bearer('owner'))).status).toBe(201);
    expect((await api(`/xrays/${id}`, 'admin', { method: 'DELETE' })).status).toBe(204);

    const requestId = `attack24-${randomUUID()}`;
    const last = await api(location, 'other', {
      method: 'PATCH',
      headers: {
        'Tus-Resumable': '1.0.0',
        'Upload-Offset': '0',
        'Content-Type': 'application/offset+octet-stream',
        'X-Request-Id': requestId,
      },
      body: new Uint8Array(body),
    });
    const refusal = await problemOf(last);
    // The very answer another user gets for a replay of a stored X-ray's id: nothing says "deleted".
    const stored = randomUUID();
    expect((await postXray(server.url, validMetadata({ id: stored }), blobOf(plain), bearer('owner'))).status).toBe(
      201,
    );
    const replay = await problemOf(
      await postXray(server.url, validMetadata({ id: stored }), blobOf(plain), bearer('other')),
    );
    expect(refusal).toEqual(replay);
    expect(refusal).toMatchObject({ status: 409, code: 'conflict' });

    // Nothing stored; recorded as a denial of that user (not as a failed creation by its capturer).
    expect((await server.pool.query('SELECT 1 FROM xrays WHERE id = $1', [id])).rowCount).toBe(0);
    expect((await storedObjects(server)).filter((k) => k.includes(id))).toEqual([]);
    expect((await server.pool.query('SELECT 1 FROM tus_uploads WHERE xray_id = $1', [id])).rowCount).toBe(0);
    const { rows } = await server.pool.query<{ action: string; outcome: string; actor_sub: string; details: object }>(
      'SELECT action, outcome, actor_sub, details FROM audit_events WHERE request_id = $1',
      [requestId],
    );
    expect(rows).toEqual([
      expect.objectContaining({
        action: 'access.denied',
        outcome: 'denied',
        actor_sub: SUBS.other,
        details: expect.objectContaining({ error: 'conflict', denial: 'not_owner' }),
      }),
    ]);
  });
});

describe('OPTIONS where the document declares none', () => {
  it('is the 405 with Allow every other undeclared method gets (audited when signed in), not an undocumented 200 text/plain', async () => {
    const id = randomUUID();
    const requestId = `attack24-${randomUUID()}`;
    const cases: [string, Who | null, string][] = [
      [`/xrays/${id}`, 'admin', 'DELETE, GET, HEAD, PATCH'],
      ['/changes', 'admin', 'GET, HEAD'],
      ['/xrays', 'owner', 'GET, HEAD, POST'],
      ['/openapi.json', null, 'GET, HEAD'],
      ['/healthz', null, 'GET, HEAD'],
    ];
    for (const [p, who, allow] of cases) {
      const res = await fetch(`${server.url}${p}`, {
        method: 'OPTIONS',
        headers: { ...(who ? bearer(who) : {}), 'X-Request-Id': requestId },
      });
      expect(await problemOf(res), p).toMatchObject({ status: 405, code: 'method_not_allowed' });
      expect(res.headers.get('allow'), p).toBe(allow);
    }
    // Still 401 first where credentials are required.
    expect((await fetch(`${server.url}/changes`, { method: 'OPTIONS' })).status).toBe(401);
    // The tus door declares OPTIONS: its capabilities, as before.
    const tus = await fetch(`${server.url}/uploads`, { method: 'OPTIONS', headers: bearer('owner') });
    expect(tus.status).toBe(204);
    expect(tus.headers.get('tus-version')).toContain('1.0.0');
    const { rows } = await server.pool.query<{ actor_sub: string; details: { path: string; method: string } }>(
      `SELECT actor_sub, details FROM audit_events WHERE request_id = $1 AND action = 'access.denied' ORDER BY id`,
      [requestId],
    );
    expect(rows.map((r) => [r.actor_sub, r.details.method, r.details.path])).toEqual([
      [SUBS.admin, 'OPTIONS', `/xrays/${id}`],
      [SUBS.admin, 'OPTIONS', '/changes'],
      [SUBS.owner, 'OPTIONS', '/xrays'],
    ]);
  });
});

describe('DELETE /xrays/{id} with If-Match', () => {
  it('deletes only the version read: a stale or weak tag is 412 (audited), the X-ray and its object stay; the current tag deletes', async () => {
    const id = randomUUID();
    const res = await postXray(server.url, validMetadata({ id }), blobOf(makePng({ seed: 24_902 })), bearer('owner'));
    expect(res.status).toBe(201);
    const read = (await res.json()) as { changeSeq: number };
    const stale = `"v${read.changeSeq}"`;
    // Corrected after the admin read it.
    const corrected = await api(`/xrays/${id}`, 'admin', {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ notes: 'wrong side, see new capture' }),
    });
    expect(corrected.status).toBe(200);
    const current = corrected.headers.get('etag') ?? '';
    expect(current).not.toBe(stale);

    const objects = async () => (await server.store.list('')).filter((k) => k.includes(id));
    const before = await objects();
    for (const tag of [stale, `W/${current}`, '"v1"']) {
      const requestId = `attack24-${randomUUID()}`;
      const refused = await api(`/xrays/${id}`, 'admin', {
        method: 'DELETE',
        headers: { 'If-Match': tag, 'X-Request-Id': requestId },
      });
      expect(await problemOf(refused), tag).toMatchObject({ status: 412, code: 'precondition_failed' });
      const { rows } = await server.pool.query<{ action: string; outcome: string; details: { error: string } }>(
        'SELECT action, outcome, details FROM audit_events WHERE request_id = $1',
        [requestId],
      );
      expect(rows.map((r) => [r.action, r.outcome, r.details.error])).toEqual([
        ['xray.delete', 'failed', 'precondition_failed'],
      ]);
    }
    // Nothing happened: the row, its object and record, no tombstone left behind, no change numbered.
    expect((await api(`/xrays/${id}`, 'admin')).headers.get('etag')).toBe(current);
    expect(await objects()).toEqual(before);
    expect(
      (await server.pool.query(`SELECT 1 FROM xray_changes WHERE xray_id = $1 AND kind = 'deleted'`, [id])).rowCount,
    ).toBe(0);

    expect((await api(`/xrays/${id}`, 'admin', { method: 'DELETE', headers: { 'If-Match': current } })).status).toBe(
      204,
    );
    expect((await api(`/xrays/${id}`, 'admin')).status).toBe(404);
  });
});

describe('the change feed: `at`', () => {
  it('is when the change was numbered, just before its COMMIT (not when its transaction began), so it follows the numbers', async () => {
    const id = randomUUID();
    const res = await postXray(server.url, validMetadata({ id }), blobOf(makePng({ seed: 24_903 })), bearer('owner'));
    expect(res.status).toBe(201);
    const slow = await server.pool.connect();
    let began: Date;
    let seq: number;
    try {
      await slow.query('BEGIN');
      began = (await slow.query<{ now: Date }>('SELECT now()')).rows[0]!.now;
      // A transaction that works a while before it numbers its change (a recovery record's PUT, say).
      await slow.query('SELECT pg_sleep(0.4)');
      seq = Number(
        (
          await slow.query<{ seq: string }>(`SELECT record_xray_change($1, 'updated', 'attack24', $2) AS seq`, [
            id,
            SUBS.owner,
          ])
        ).rows[0]!.seq,
      );
      await slow.query('COMMIT');
    } finally {
      slow.release();
    }
    const feed = (await (await api(`/changes?after=${seq - 1}&limit=1`, 'admin')).json()) as {
      items: { seq: number; at: string }[];
    };
    expect(feed.items[0]?.seq).toBe(seq);
    expect(Date.parse(feed.items[0]?.at ?? '') - began.getTime()).toBeGreaterThanOrEqual(400);
  });
});

describe('If-Match under concurrency', () => {
  it('six corrections sent at once with the same If-Match: exactly one applies, the others are 412 and change nothing', async () => {
    const id = randomUUID();
    const res = await postXray(server.url, validMetadata({ id }), blobOf(makePng({ seed: 24_904 })), bearer('owner'));
    const etag = `"v${((await res.json()) as { changeSeq: number }).changeSeq}"`;
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        api(`/xrays/${id}`, 'admin', {
          method: 'PATCH',
          headers: { 'Content-Type': 'application/json', 'If-Match': etag },
          body: JSON.stringify({ notes: `reading ${i}` }),
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as { notes?: string } })),
      ),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, 412, 412, 412, 412, 412]);
    const winner = answers.find((a) => a.status === 200)?.body.notes;
    expect(((await (await api(`/xrays/${id}`, 'admin')).json()) as { notes: string }).notes).toBe(winner);
    const { rows } = await server.pool.query(`SELECT kind FROM xray_changes WHERE xray_id = $1 ORDER BY seq`, [id]);
    expect(rows.map((r: { kind: string }) => r.kind)).toEqual(['created', 'updated']);
  });
});
