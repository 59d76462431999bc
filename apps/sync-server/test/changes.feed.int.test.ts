import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makePng } from '@xray/testkit';
import type { ChangeFeed, Xray, XrayList } from '@xray/shared';
import pg from 'pg';
import pMap from 'p-map';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, MIGRATIONS_DIR } from '../src/db/migrate.ts';
import { startDevPatientService, type DevPatientService } from '../src/dev/patient-service.ts';
import { createLogger } from '../src/observability/logger.ts';
import {
  blobOf,
  createTestDatabase,
  postXray,
  startTestServer,
  storedObjects,
  validMetadata,
  type TestServer,
} from './harness.ts';
import { waitFor } from './integrations.support.ts';
import { startTestIssuer, SUBJECTS, type TestIssuer } from './oidc-tokens.ts';
import { encodeMeta, sealed } from './tus-client.ts';

/**
 * What a doctor's worklist needs from the API, against real PostgreSQL and S3 with real tokens:
 * the change feed (GET /changes) followed while X-rays are uploaded, corrected and deleted at
 * once; GET /xrays by change number, for several patients, in an upload-time window; deleted ids
 * that stay deleted (410) on both doors; capture times from the future refused.
 */

type Who = 'paramedic' | 'paramedic2' | 'doctor' | 'admin' | 'noRole';
const SUBS: Record<Who, string> = {
  paramedic: SUBJECTS.owner,
  paramedic2: SUBJECTS.other,
  doctor: SUBJECTS.doctor,
  admin: SUBJECTS.admin,
  noRole: SUBJECTS.noRole,
};
let tokens: Record<Who, string>;
let auth: TestIssuer;
let server: TestServer;
let seed = 24_000;

beforeAll(async () => {
  auth = await startTestIssuer('changes');
  const { owner, other, doctor, admin, noRole } = auth.tokens;
  tokens = { paramedic: owner, paramedic2: other, doctor, admin, noRole };
  server = await startTestServer('s3', auth.env);
});
afterAll(async () => {
  await server?.close();
  await auth?.stop();
});

// ---- requests ---------------------------------------------------------------------------------

const bearer = (who: Who) => ({ Authorization: `Bearer ${tokens[who]}` });
const api = (p: string, who: Who, init: RequestInit = {}) =>
  fetch(`${server.url}${p}`, { ...init, headers: { ...bearer(who), ...init.headers } });
const png = () => blobOf(makePng({ seed: seed++, width: 8, height: 8 }));

async function json<T>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

async function problem(res: Response, status: number, code: string): Promise<{ errors?: { field: string }[] }> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get('content-type')).toContain('application/problem+json');
  const body = JSON.parse(text) as { code: string; errors?: { field: string }[] };
  expect(body.code).toBe(code);
  return body;
}

async function upload(who: Who, over: Record<string, unknown> = {}): Promise<Xray> {
  return json<Xray>(await postXray(server.url, validMetadata(over), png(), bearer(who)), 201);
}

const patch = (id: string, who: Who, body: unknown) =>
  api(`/xrays/${id}`, who, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });

const remove = async (id: string) =>
  expect((await api(`/xrays/${id}`, 'admin', { method: 'DELETE' })).status).toBe(204);

const changes = (after: number, who: Who = 'doctor', limit = 100) =>
  api(`/changes?after=${after}&limit=${limit}`, who).then((r) => json<ChangeFeed>(r));

/** Reads the feed from `after` until it is caught up. */
async function readAll(after: number, who: Who = 'doctor'): Promise<ChangeFeed['items']> {
  const items: ChangeFeed['items'] = [];
  for (let pos = after; ;) {
    const page = await changes(pos, who);
    items.push(...page.items);
    pos = page.next;
    if (!page.more) return items;
  }
}

/** Where the feed ends now. */
const tail = async (): Promise<number> => {
  const { rows } = await server.pool.query<{ last_seq: string }>('SELECT last_seq FROM xray_change_counter');
  return Number(rows[0]?.last_seq ?? 0);
};

const list = (query: string, who: Who = 'doctor') => api(`/xrays?${query}`, who).then((r) => json<XrayList>(r));

/** Every page of a list, following nextCursor. */
async function allPages(query: string, between?: (page: number) => Promise<void>): Promise<Xray[]> {
  const out: Xray[] = [];
  let cursor: string | null = null;
  for (let page = 0; ; page++) {
    const res: XrayList = await list(cursor ? `${query}&cursor=${cursor}` : query);
    out.push(...res.items);
    if (!res.nextCursor) return out;
    cursor = res.nextCursor;
    await between?.(page);
  }
}

// ---- the change feed ----------------------------------------------------------------------------

describe('the change feed (GET /changes)', () => {
  it('a consumer following it while uploads, corrections and deletions run at once sees every change exactly once, in order, deletions included', async () => {
    const from = await tail();
    // 16 X-rays, each with its own life (upload, 0–2 corrections, deleted or not), 4 lives at once.
    interface Life {
      id: string;
      patches: number;
      deleted: boolean;
      /** The numbers the server answered: the upload's, then each correction's. */
      seqs: number[];
    }
    const lives: Life[] = Array.from({ length: 16 }, (_, i) => ({
      id: randomUUID(),
      patches: i % 3,
      deleted: i % 4 === 1,
      seqs: [],
    }));
    let writing = true;
    const seen: ChangeFeed['items'] = [];
    const consumer = (async () => {
      let pos = from;
      for (;;) {
        const done = !writing;
        const page = await changes(pos, 'doctor', 5);
        seen.push(...page.items);
        pos = page.next;
        // Caught up after the last write answered: everything committed is in.
        if (!page.more && done) return;
        if (!page.more) await sleep(15);
      }
    })();
    await pMap(
      lives,
      async (life, i) => {
        const x = await upload('paramedic', { id: life.id, patientId: `P-WL-${i}` });
        life.seqs.push(x.changeSeq);
        for (let n = 0; n < life.patches; n++) {
          const updated = await json<Xray>(await patch(life.id, 'doctor', { notes: `reviewed ${n}` }));
          life.seqs.push(updated.changeSeq);
        }
        if (life.deleted) await remove(life.id);
      },
      { concurrency: 4 },
    );
    writing = false;
    await consumer;

    // In order, each number once.
    const seqs = seen.map((c) => c.seq);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]!);
    // Nothing the database numbered was missed.
    const { rows } = await server.pool.query<{ seq: string }>(
      'SELECT seq FROM xray_changes WHERE seq > $1 ORDER BY seq',
      [from],
    );
    expect(seqs).toEqual(rows.map((r) => Number(r.seq)));
    // Each life, change by change, with the numbers the writers were answered.
    for (const life of lives) {
      const mine = seen.filter((c) => c.xrayId === life.id);
      expect(mine.map((c) => c.kind)).toEqual([
        'created',
        ...Array<string>(life.patches).fill('updated'),
        ...(life.deleted ? ['deleted'] : []),
      ]);
      expect(mine.slice(0, life.seqs.length).map((c) => c.seq)).toEqual(life.seqs);
      for (const c of mine) {
        // The X-ray as it was when the consumer read that page: at this change or later; none once deleted.
        if (c.kind === 'deleted') expect(c.xray).toBeNull();
        else if (c.xray) {
          expect(c.xray.id).toBe(life.id);
          expect(c.xray.changeSeq).toBeGreaterThanOrEqual(c.seq);
        } else expect(life.deleted).toBe(true);
      }
      // Read now, each item shows the X-ray as it is now.
      const now = (await readAll(from)).filter((c) => c.xrayId === life.id);
      for (const c of now)
        if (life.deleted) expect(c.xray).toBeNull();
        else expect(c.xray).toMatchObject({ id: life.id, changeSeq: life.seqs.at(-1) });
    }
    // A tombstone holds no patient data.
    const tombstone = seen.find((c) => c.kind === 'deleted');
    expect(tombstone).toEqual({
      seq: expect.any(Number),
      kind: 'deleted',
      xrayId: expect.any(String),
      at: expect.any(String),
      xray: null,
    });
    expect(seen).toHaveLength(lives.reduce((n, l) => n + 1 + l.patches + (l.deleted ? 1 : 0), 0));
  }, 120_000);

  it('numbers commit in order: a change waits for the number of one not yet committed, and a reader never sees the later one first', async () => {
    const [a, b] = [await upload('paramedic'), await upload('paramedic')];
    const before = await tail();
    // A change of X-ray a holds its number, uncommitted.
    const holder = await server.pool.connect();
    try {
      await holder.query('BEGIN');
      const { rows } = await holder.query<{ seq: string }>('SELECT record_xray_change($1, $2, $3, $4) AS seq', [
        a.id,
        'updated',
        'test',
        a.capturedBy.sub,
      ]);
      const held = Number(rows[0]?.seq);
      expect(held).toBeGreaterThan(before);
      // A correction of another X-ray waits for the counter until the first commits.
      const correcting = patch(b.id, 'doctor', { notes: 'second' });
      expect(await Promise.race([correcting.then(() => 'answered'), sleep(700).then(() => 'waiting')])).toBe('waiting');
      expect((await changes(before)).items).toEqual([]);
      await holder.query('COMMIT');
      const corrected = await json<Xray>(await correcting);
      expect(corrected.changeSeq).toBeGreaterThan(held);
      expect((await readAll(before)).map((c) => [c.seq, c.xrayId])).toEqual([
        [held, a.id],
        [corrected.changeSeq, b.id],
      ]);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      holder.release();
    }
  });

  it('writes of a release that does not number changes (a rolling upgrade, a rollback) are numbered at COMMIT', async () => {
    const x = await upload('paramedic');
    const from = await tail();
    // What the previous release does, as the application's role: a correction, a copy stored under
    // a new id, a deletion — none of them calling record_xray_change.
    await server.pool.query(`UPDATE xrays SET notes = 'by the old release' WHERE id = $1`, [x.id]);
    const copy = randomUUID();
    await server.pool.query(
      `INSERT INTO xrays (id, patient_id, captured_at, captured_by_sub, body_part, view, priority, content_type,
         size_bytes, sha256, object_key, dek_wrapped, kek_id, cipher_size)
       SELECT $2, patient_id, captured_at, captured_by_sub, body_part, view, priority, content_type, size_bytes,
              sha256, object_key || '-copy', dek_wrapped, kek_id, cipher_size
         FROM xrays WHERE id = $1`,
      [x.id, copy],
    );
    await server.pool.query('DELETE FROM xrays WHERE id = $1', [x.id]);
    // Nothing the KEK rotation or the link checker's bookkeeping writes is a change.
    await server.pool.query('UPDATE xrays SET link_attempts = link_attempts + 1 WHERE id = $1', [copy]);

    const seen = await readAll(from);
    expect(seen.map((c) => [c.xrayId, c.kind])).toEqual([
      [x.id, 'updated'],
      [copy, 'created'],
      [x.id, 'deleted'],
    ]);
    expect(seen[1]?.xray?.changeSeq).toBe(seen[1]?.seq);
    // The deletion's tombstone holds against the new release's doors too.
    await problem(
      await postXray(server.url, validMetadata({ id: x.id }), png(), bearer('paramedic')),
      410,
      'xray_deleted',
    );
    // And against the old release: storing the deleted id again fails at COMMIT.
    await expect(
      server.pool.query(
        `INSERT INTO xrays (id, patient_id, captured_at, captured_by_sub, body_part, view, priority, content_type,
           size_bytes, sha256, object_key, dek_wrapped, kek_id, cipher_size)
         SELECT $2, patient_id, captured_at, captured_by_sub, body_part, view, priority, content_type, size_bytes,
                sha256, object_key || '-again', dek_wrapped, kek_id, cipher_size
           FROM xrays WHERE id = $1`,
        [copy, x.id],
      ),
    ).rejects.toMatchObject({ code: 'XR410' });
  });

  it('who reads it: a paramedic their own captures (their deletions too), doctors and admins all, a token with no role nothing; every page audited', async () => {
    const from = await tail();
    const mine = await upload('paramedic');
    const theirs = await upload('paramedic2');
    await remove(mine.id);
    const mark = Number(
      (await server.pool.query<{ id: string }>('SELECT max(id) AS id FROM audit_events')).rows[0]?.id,
    );
    const ids = (items: ChangeFeed['items']) => [...new Set(items.map((c) => c.xrayId))];

    const paramedic = await readAll(from, 'paramedic');
    expect(paramedic.map((c) => [c.xrayId, c.kind])).toEqual([
      [mine.id, 'created'],
      [mine.id, 'deleted'],
    ]);
    expect(ids(await readAll(from, 'paramedic2'))).toEqual([theirs.id]);
    for (const who of ['doctor', 'admin'] as const)
      expect(ids(await readAll(from, who)), who).toEqual([mine.id, theirs.id]);

    await problem(await api(`/changes?after=${from}`, 'noRole'), 403, 'forbidden');
    await problem(await fetch(`${server.url}/changes?after=${from}`), 401, 'unauthenticated');
    await problem(await api('/changes?after=-1', 'doctor'), 400, 'validation_failed');
    await problem(await api('/changes?after=1&limit=501', 'doctor'), 400, 'validation_failed');

    const { rows } = await server.pool.query<{
      actor_sub: string | null;
      action: string;
      outcome: string;
      details: object;
    }>('SELECT actor_sub, action, outcome, details FROM audit_events WHERE id > $1 ORDER BY id', [mark]);
    const reads = rows.filter((r) => r.action === 'xray.changes');
    expect(reads.map((r) => [r.actor_sub, r.outcome])).toEqual([
      [SUBS.paramedic, 'success'],
      [SUBS.paramedic2, 'success'],
      [SUBS.doctor, 'success'],
      [SUBS.admin, 'success'],
      // The two refusals of bad input (the role gate comes after the query is read).
      [SUBS.doctor, 'failed'],
      [SUBS.doctor, 'failed'],
    ]);
    expect(reads[0]?.details).toMatchObject({ after: from, count: 2, ids: [mine.id], scope: 'own' });
    expect(reads[2]?.details).toMatchObject({ after: from, count: 3, ids: [mine.id, theirs.id] });
    expect(rows.filter((r) => r.action === 'access.denied' && r.actor_sub === SUBS.noRole)).toEqual([
      expect.objectContaining({
        outcome: 'denied',
        details: expect.objectContaining({ attempted: 'xray.changes', error: 'forbidden' }),
      }),
    ]);
  });
});

// ---- deleted ids ----------------------------------------------------------------------------------

describe('a deleted X-ray stays deleted: a late upload of its id is refused (410 xray_deleted) on every door', () => {
  const auditOf = async (id: string) =>
    (
      await server.pool.query<{ action: string; outcome: string; actor_sub: string; details: Record<string, unknown> }>(
        'SELECT action, outcome, actor_sub, details FROM audit_events WHERE xray_id = $1 ORDER BY id',
        [id],
      )
    ).rows;
  const leftOf = async (id: string) => ({
    rows: Number((await server.pool.query('SELECT 1 FROM xrays WHERE id = $1', [id])).rowCount),
    uploads: Number((await server.pool.query('SELECT 1 FROM tus_uploads WHERE xray_id = $1', [id])).rowCount),
    // Objects and records; the deletion's tombstone beside them is kept for good (storedObjects leaves it out).
    objects: (await storedObjects(server)).filter((k) => k.includes(id)),
  });

  it('POST /xrays: the same id and bytes again after the delete is 410 for its paramedic (audited), 409 revealing nothing for another', async () => {
    const id = randomUUID();
    const bytes = makePng({ seed: seed++, width: 8, height: 8 });
    expect((await postXray(server.url, validMetadata({ id }), blobOf(bytes), bearer('paramedic'))).status).toBe(201);
    await remove(id);

    // The ambulance back in coverage retries the very same upload.
    await problem(
      await postXray(server.url, validMetadata({ id }), blobOf(bytes), bearer('paramedic')),
      410,
      'xray_deleted',
    );
    await problem(
      await postXray(server.url, validMetadata({ id }), blobOf(bytes), bearer('paramedic2')),
      409,
      'conflict',
    );
    expect(await leftOf(id)).toEqual({ rows: 0, uploads: 0, objects: [] });
    await problem(await api(`/xrays/${id}`, 'admin'), 404, 'not_found');
    const trail = await auditOf(id);
    const afterDelete = trail.slice(trail.findIndex((e) => e.action === 'xray.delete') + 1);
    expect(afterDelete.slice(0, 2)).toEqual([
      expect.objectContaining({
        action: 'xray.create',
        outcome: 'failed',
        actor_sub: SUBS.paramedic,
        details: expect.objectContaining({ error: 'xray_deleted', status: 410 }),
      }),
      expect.objectContaining({ action: 'access.denied', outcome: 'denied', actor_sub: SUBS.paramedic2 }),
    ]);
  });

  it('tus: creating an upload for a deleted id is 410 before a byte is stored (audited)', async () => {
    const plain = makePng({ seed: seed++, width: 8, height: 8 });
    const { body, metadata } = await sealed(server.url, plain, { patientId: 'P-1001' });
    expect(
      (await postXray(server.url, validMetadata({ id: metadata.id }), blobOf(plain), bearer('paramedic'))).status,
    ).toBe(201);
    await remove(metadata.id);
    const res = await api('/uploads', 'paramedic', {
      method: 'POST',
      headers: {
        'Tus-Resumable': '1.0.0',
        'Upload-Length': String(body.length),
        'Upload-Metadata': encodeMeta(metadata),
        'Content-Type': 'application/offset+octet-stream',
      },
      body: new Uint8Array(body),
    });
    await problem(res, 410, 'xray_deleted');
    expect(await leftOf(metadata.id)).toEqual({ rows: 0, uploads: 0, objects: [] });
    expect((await auditOf(metadata.id)).at(-1)).toMatchObject({
      action: 'xray.create',
      outcome: 'failed',
      details: { error: 'xray_deleted' },
    });
  });

  it('tus: an upload begun before the X-ray was deleted is refused 410 when its last byte arrives, and leaves nothing', async () => {
    const plain = makePng({ seed: seed++, width: 8, height: 8 });
    const { body, metadata } = await sealed(server.url, plain, { patientId: 'P-1001' });
    const created = await api('/uploads', 'paramedic', {
      method: 'POST',
      headers: {
        'Tus-Resumable': '1.0.0',
        'Upload-Length': String(body.length),
        'Upload-Metadata': encodeMeta(metadata),
      },
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const location = new URL(created.headers.get('location') ?? '').pathname;
    // Meanwhile the same capture arrives by the other door, and an admin deletes it.
    expect(
      (await postXray(server.url, validMetadata({ id: metadata.id }), blobOf(plain), bearer('paramedic'))).status,
    ).toBe(201);
    await remove(metadata.id);
    const last = await api(location, 'paramedic', {
      method: 'PATCH',
      headers: { 'Tus-Resumable': '1.0.0', 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
      body: new Uint8Array(body),
    });
    await problem(last, 410, 'xray_deleted');
    expect(await leftOf(metadata.id)).toEqual({ rows: 0, uploads: 0, objects: [] });
    // The upload is gone too: a client resuming it learns so, and its next creation is refused as above.
    expect((await api(location, 'paramedic', { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } })).status).toBe(
      404,
    );
  });
});

// ---- GET /xrays for a worklist ----------------------------------------------------------------------

describe('GET /xrays for a worklist', () => {
  it('several patientIds in one request, and an upload-time window', async () => {
    const tag = randomUUID().slice(0, 8);
    const [A, B, C] = [`PA-${tag}`, `PB-${tag}`, `PC-${tag}`];
    const a1 = await upload('paramedic', { patientId: A, capturedAt: '2026-11-27T08:00:00Z' });
    const b1 = await upload('paramedic', { patientId: B, capturedAt: '2026-11-27T08:01:00Z' });
    await upload('paramedic', { patientId: C, capturedAt: '2026-11-27T08:02:00Z' });
    await sleep(150);
    const mid = new Date().toISOString();
    await sleep(150);
    const a2 = await upload('paramedic', { patientId: A, capturedAt: '2026-11-27T08:03:00Z' });
    const b2 = await upload('paramedic', { patientId: B, capturedAt: '2026-11-27T08:04:00Z' });
    const ids = (l: XrayList) => l.items.map((x) => x.id);

    expect(ids(await list(`patientId=${A}&patientId=${B}`))).toEqual([b2.id, a2.id, b1.id, a1.id]);
    expect(ids(await list(`patientId=${A}`))).toEqual([a2.id, a1.id]);
    expect(ids(await list(`patientId=${A}&patientId=${B}&uploadedFrom=${mid}`))).toEqual([b2.id, a2.id]);
    expect(ids(await list(`patientId=${A}&patientId=${B}&uploadedTo=${mid}`))).toEqual([b1.id, a1.id]);
    expect(ids(await list(`patientId=${A}&patientId=${B}&order=asc`))).toEqual([a1.id, b1.id, a2.id, b2.id]);
    // Paged two at a time, in either order: the same X-rays as one page.
    expect((await allPages(`patientId=${A}&patientId=${B}&limit=1&order=asc`)).map((x) => x.id)).toEqual([
      a1.id,
      b1.id,
      a2.id,
      b2.id,
    ]);

    const tooMany = Array.from({ length: 51 }, (_, i) => `patientId=P-${i}`).join('&');
    expect((await problem(await api(`/xrays?${tooMany}`, 'doctor'), 400, 'validation_failed')).errors?.[0]?.field).toBe(
      'patientId',
    );
    expect(
      (await problem(await api('/xrays?uploadedFrom=yesterday', 'doctor'), 400, 'validation_failed')).errors?.[0]
        ?.field,
    ).toBe('uploadedFrom');
    await problem(await api('/xrays?order=sideways', 'doctor'), 400, 'validation_failed');
  });

  it('?changedSince=&order=asc pages by change number and misses nothing changed while it is paged', async () => {
    const P = `PW-${randomUUID().slice(0, 8)}`;
    const start = await tail();
    const first: Xray[] = [];
    for (let i = 0; i < 5; i++) first.push(await upload('paramedic', { patientId: P }));
    const extra: Xray[] = [];
    let corrected: Xray | undefined;
    // After each page: a correction of an X-ray already read, and a new upload.
    const seen = await allPages(`patientId=${P}&changedSince=${start}&limit=2`, async (page) => {
      if (page > 1) return;
      corrected = await json<Xray>(await patch(first[page]!.id, 'doctor', { notes: `while paging ${page}` }));
      extra.push(await upload('paramedic', { patientId: P }));
    });
    const seqs = seen.map((x) => x.changeSeq);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]!);
    // Every X-ray, and every change made while paging (the corrected ones again, with their new number).
    const latest = new Map(seen.map((x) => [x.id, x.changeSeq]));
    for (const x of [...first, ...extra]) expect(latest.has(x.id), x.id).toBe(true);
    expect(latest.get(corrected!.id)).toBe(corrected!.changeSeq);
    expect(latest.get(first[0]!.id)).toBeGreaterThan(first[0]!.changeSeq);
    expect(seen).toHaveLength(first.length + extra.length + 2);

    // Caught up: nothing after the last number; newest change first on request.
    expect((await list(`patientId=${P}&changedSince=${Math.max(...seqs)}`)).items).toEqual([]);
    const desc = await list(`patientId=${P}&changedSince=${start}&order=desc`);
    expect(desc.items.map((x) => x.changeSeq)).toEqual([...latest.values()].sort((a, b) => b - a));

    // A cursor belongs to the order it was issued for.
    const byChange = await list(`patientId=${P}&changedSince=${start}&limit=1`);
    const misused = await api(`/xrays?patientId=${P}&limit=1&cursor=${byChange.nextCursor}`, 'doctor');
    expect((await problem(misused, 400, 'validation_failed')).errors?.[0]?.field).toBe('cursor');
    await problem(await api('/xrays?changedSince=x', 'doctor'), 400, 'validation_failed');
  });
});

// ---- capture times ----------------------------------------------------------------------------------

describe('capture times from the future', () => {
  const ahead = (ms: number) => new Date(Date.now() + ms).toISOString();

  it('more than CAPTURE_TIME_MAX_SKEW_MS (5 min) ahead of the server clock is refused on both doors; a little ahead is stored', async () => {
    const P = `PF-${randomUUID().slice(0, 8)}`;
    const refused = await postXray(
      server.url,
      validMetadata({ patientId: P, capturedAt: ahead(10 * 60_000) }),
      png(),
      bearer('paramedic'),
    );
    const body = await problem(refused, 400, 'validation_failed');
    expect(body.errors).toEqual([
      { field: 'metadata.capturedAt', message: expect.stringContaining("5 minutes ahead of the server's clock") },
    ]);
    const year = await postXray(
      server.url,
      validMetadata({ patientId: P, capturedAt: ahead(365 * 86_400_000) }),
      png(),
      bearer('paramedic'),
    );
    expect((await problem(year, 400, 'validation_failed')).errors?.[0]?.field).toBe('metadata.capturedAt');
    expect((await list(`patientId=${P}`)).items).toEqual([]);

    await upload('paramedic', { patientId: P, capturedAt: ahead(60_000) });

    const { body: cipher, metadata } = await sealed(server.url, makePng({ seed: seed++, width: 8, height: 8 }), {
      patientId: P,
      capturedAt: ahead(10 * 60_000),
    });
    const tus = await api('/uploads', 'paramedic', {
      method: 'POST',
      headers: {
        'Tus-Resumable': '1.0.0',
        'Upload-Length': String(cipher.length),
        'Upload-Metadata': encodeMeta(metadata),
      },
    });
    expect((await problem(tus, 400, 'validation_failed')).errors?.[0]?.field).toBe('metadata.capturedAt');
    expect((await server.pool.query('SELECT 1 FROM tus_uploads WHERE xray_id = $1', [metadata.id])).rowCount).toBe(0);
    expect((await list(`patientId=${P}`)).items).toHaveLength(1);
  });
});

// ---- a link settled in the background ---------------------------------------------------------------

describe('a link settled in the background is a change of its own', () => {
  let patients: DevPatientService;
  let linked: TestServer;
  afterAll(async () => {
    await linked?.close();
    await patients?.stop();
  });

  it('pending at upload, verified later: the feed shows created, then link_settled with the settled X-ray', async () => {
    patients = await startDevPatientService({ port: 0 });
    const port = patients.port;
    linked = await startTestServer('fs', {
      PATIENT_SERVICE_URL: patients.url,
      PATIENT_SERVICE_RETRIES: '0',
      PATIENT_CACHE_TTL_MS: '0',
      LINK_CHECK_TIMEOUT_MS: '300',
      LINK_RECHECK_INTERVAL_MS: '200',
      LINK_RECHECK_MAX_MS: '500',
    });
    await patients.stop();
    const res = await postXray(linked.url, validMetadata({ patientId: 'P-1002' }), png());
    const x = await json<Xray>(res, 201);
    expect(x.link.status).toBe('pending');
    patients = await startDevPatientService({ port });
    const feed = await waitFor('the link to settle', async () => {
      const page = await json<ChangeFeed>(await fetch(`${linked.url}/changes?after=0`));
      return page.items.some((c) => c.kind === 'link_settled') && page;
    });
    const [created, settled] = feed.items;
    expect(created).toMatchObject({ kind: 'created', xrayId: x.id, seq: x.changeSeq });
    expect(settled).toMatchObject({ kind: 'link_settled', xrayId: x.id, xray: { link: { status: 'verified' } } });
    expect(settled!.seq).toBeGreaterThan(x.changeSeq);
    expect(settled!.xray?.changeSeq).toBe(settled!.seq);
  });
});

// ---- the migration ------------------------------------------------------------------------------------

describe('migration 1732680011001_xray_changes', () => {
  it('numbers existing X-rays in upload order and keeps the X-rays deleted before it as tombstones', async () => {
    const url = await createTestDatabase();
    const log = createLogger('silent');
    const dir = await mkdtemp(path.join(tmpdir(), 'xray-migrations-before-'));
    try {
      // The schema as it was before this release.
      await cp(MIGRATIONS_DIR, dir, { recursive: true });
      for (const f of await readdir(dir)) if (f >= '1732680011001') await rm(path.join(dir, f));
      await migrate(url, log, { lockTimeoutMs: 3000, retryMs: 10_000, dir });
      const db = new pg.Client({ connectionString: url });
      await db.connect();
      try {
        const [first, second, gone] = [randomUUID(), randomUUID(), randomUUID()];
        for (const [id, at] of [
          [second, '2026-01-02T00:00:00Z'],
          [first, '2026-01-01T00:00:00Z'],
        ] as const) {
          await db.query(
            `INSERT INTO xrays (id, patient_id, captured_at, captured_by_sub, body_part, view, priority, content_type,
               size_bytes, sha256, object_key, uploaded_at, dek_wrapped, kek_id, cipher_size)
             VALUES ($1, 'P-1', $2, 'medic', 'CHEST', 'PA', 'routine', 'image/png', 1, repeat('a', 64), $3, $2,
               '\\x00', 'k', 1)`,
            [id, at, `xrays/${id}/o`],
          );
        }
        await db.query(
          `INSERT INTO audit_events (at, actor_sub, action, xray_id, outcome, details, prev_hash, hash)
           VALUES ('2026-01-01T12:00:00Z', 'admin-1', 'xray.delete', $1, 'success', '{"capturedBy": "medic-2"}',
             repeat('0', 64), repeat('1', 64))`,
          [gone],
        );
        await migrate(url, log, { lockTimeoutMs: 3000, retryMs: 10_000 });
        const { rows: numbered } = await db.query<{ id: string; change_seq: string }>(
          'SELECT id, change_seq FROM xrays ORDER BY change_seq',
        );
        expect(numbered.map((r) => [r.id, Number(r.change_seq)])).toEqual([
          [first, 1],
          [second, 3],
        ]);
        const { rows: log2 } = await db.query(
          'SELECT seq::int, xray_id, kind, actor_sub, owner_sub FROM xray_changes ORDER BY seq',
        );
        expect(log2).toEqual([
          { seq: 1, xray_id: first, kind: 'created', actor_sub: 'medic', owner_sub: 'medic' },
          { seq: 2, xray_id: gone, kind: 'deleted', actor_sub: 'admin-1', owner_sub: 'medic-2' },
          { seq: 3, xray_id: second, kind: 'created', actor_sub: 'medic', owner_sub: 'medic' },
        ]);
        // The next number goes on above them, and above the clock (in microseconds): a restored
        // database never hands out a number it handed out before.
        const { rows: next } = await db.query<{ seq: string }>(
          `SELECT record_xray_change($1, 'updated', 'x', 'medic') AS seq`,
          [first],
        );
        expect(Number(next[0]?.seq)).toBeGreaterThan(Date.now() * 1000 - 60_000_000);
        // The tombstone refuses the id at the database itself.
        await expect(db.query(`SELECT record_xray_change($1, 'created', 'x', 'medic')`, [gone])).rejects.toMatchObject({
          code: 'XR410',
        });
      } finally {
        await db.end();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
