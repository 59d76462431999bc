// Attack on issue 22's ingest changes (76cdb04): tus answers before its advisory unlock is sent
// and hands the lock of a last PATCH to the finish; the per-user caps are checked and inserted in
// one statement; POST /xrays seals with node:crypto. What a user relies on: one writer per upload
// across instances, exactly one X-ray (one create event, one outbox event) however the final
// PATCH is raced or retried, caps that hold under a burst, no lock left held, and a POST that
// fails leaves no row and no object.
import { randomBytes, randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_SEGMENT_SIZE, XraySchema } from '@xray/shared';
import { dicomSize, makeDicom, makePng, sha256Hex } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.ts';
import { start, type RunningServer } from '../src/server.ts';
import {
  blobOf,
  headerActor,
  postXray,
  startTestServer,
  storedObjects,
  validMetadata,
  type TestServer,
} from './harness.ts';
import { failingWrites } from './fault-injection.ts';
import { slowXrayInserts, untilStoring } from './slow-inserts.ts';
import { spawnServer } from './server-process.ts';
import { encodeMeta, rebase, sealed, startTus } from './tus-client.ts';

const OWNER = 'para-i22-owner; paramedic';
const OTHER = 'para-i22-other; paramedic';
const DOCTOR = 'doc-i22; doctor';
const NO_ROLE = 'nobody-i22; ';
const BURSTER = 'para-i22-burst; paramedic';
const BYTES_BURSTER = 'para-i22-bytes; paramedic';
const BYSTANDER = 'para-i22-bystander; paramedic';
const OFFSET_STREAM = 'application/offset+octet-stream';
const MAX_OPEN = 3;
const MAX_RESERVED = 30 * 1024 * 1024;

interface Reply {
  status: number;
  headers: Headers;
  text: string;
}

async function call(
  base: string,
  method: string,
  urlPath: string,
  actor: string | undefined,
  opts: { headers?: Record<string, string>; body?: Uint8Array } = {},
): Promise<Reply> {
  const res = await fetch(`${base}${urlPath}`, {
    method,
    headers: {
      'Tus-Resumable': '1.0.0',
      ...(actor ? { 'X-Test-Actor': actor } : {}),
      ...opts.headers,
    },
    ...(opts.body ? { body: new Uint8Array(opts.body) } : {}),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const problemCode = (r: Reply): string => {
  if (!r.headers.get('content-type')?.includes('application/problem+json')) return '-';
  try {
    return String((JSON.parse(r.text) as { code?: unknown }).code);
  } catch {
    return '(not JSON)';
  }
};

const patch = (base: string, urlPath: string, offset: number, bytes: Uint8Array, actor = OWNER) =>
  call(base, 'PATCH', urlPath, actor, {
    headers: { 'Content-Type': OFFSET_STREAM, 'Upload-Offset': String(offset) },
    body: bytes,
  });

async function create(base: string, length: number, metadata: Record<string, string>, actor = OWNER) {
  const r = await call(base, 'POST', '/uploads', actor, {
    headers: { 'Upload-Length': String(length), 'Upload-Metadata': encodeMeta(metadata) },
  });
  return { reply: r, path: r.status === 201 ? new URL(r.headers.get('location') ?? '').pathname : '' };
}

/** What one X-ray left in the database: rows, created events, outbox events. */
async function footprint(server: RunningServer, xrayId: string) {
  const n = async (sql: string) => (await server.pool.query<{ n: number }>(sql, [xrayId])).rows[0]?.n ?? -1;
  return {
    xrays: await n('SELECT count(*)::int AS n FROM xrays WHERE id = $1'),
    createdEvents: await n(
      "SELECT count(*)::int AS n FROM audit_events WHERE xray_id = $1 AND action = 'xray.create' AND outcome = 'success' AND details->>'created' = 'true'",
    ),
    uploadedEvents: await n(
      "SELECT count(*)::int AS n FROM outbox_events WHERE xray_id = $1 AND type = 'xray.uploaded'",
    ),
  };
}

/**
 * Advisory locks granted in this server's database, once pending (deferred) unlocks had time to go
 * (polled for up to 20 s: on a busy machine an unlock may take a while; a lock that stays fails).
 */
async function heldAdvisoryLocks(server: RunningServer): Promise<number> {
  let n = -1;
  for (let i = 0; i < 400; i++) {
    const { rows } = await server.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database
        WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()`,
    );
    n = rows[0]?.n ?? -1;
    if (n === 0) return 0;
    await sleep(50);
  }
  return n;
}

describe('attack 22 ingest: tus single writer, the final PATCH, caps and roles (two instances, one database)', () => {
  let a: TestServer;
  let b: RunningServer;

  beforeAll(async () => {
    a = await startTestServer(
      'fs',
      {
        UPLOAD_MAX_OPEN_PER_USER: String(MAX_OPEN),
        UPLOAD_MAX_RESERVED_BYTES_PER_USER: String(MAX_RESERVED),
        TUS_CLEANUP_INTERVAL_MS: '3600000',
      },
      { authenticate: headerActor },
    );
    b = await start(loadConfig(a.env), { authenticate: headerActor });
  });
  afterAll(async () => {
    await b?.stop();
    await a?.close();
  });

  it('five final PATCHes at once on two instances: at most one writes, and resumed to the end there is exactly one X-ray, one created event, one outbox event, no lock left', async () => {
    const plain = Buffer.from(makePng({ width: 300, height: 300, seed: 2201 }));
    const { body, metadata } = await sealed(a.url, plain, { patientId: 'P-I22-RACE' });
    const up = await create(a.url, body.length, metadata);
    expect(up.reply.status, up.reply.text).toBe(201);
    const racers = [a, a, b, a, b].map((s) => patch(s.url, up.path, 0, body));
    const answers = await Promise.all(racers);
    const wrote = answers.filter((r) => r.status === 204);
    // Every answer is a success naming the X-ray, or a clear refusal.
    for (const r of answers) {
      if (r.status === 204) expect(r.headers.get('x-xray-id')).toBe(metadata.id);
      else expect(`${r.status} ${problemCode(r)}`).toMatch(/^(409|423) \w+/);
    }
    expect(wrote.length).toBeLessThanOrEqual(1);
    // Whatever happened, the client resumes (HEAD, then PATCH from there) and is done.
    const done = await startTus({
      endpoint: `${b.url}/uploads`,
      file: body,
      metadata,
      uploadUrl: `${b.url}${up.path}`,
      headers: { 'X-Test-Actor': OWNER },
    }).done;
    expect(done.xrayId ?? metadata.id).toBe(metadata.id);
    expect(await footprint(a, metadata.id)).toEqual({ xrays: 1, createdEvents: 1, uploadedEvents: 1 });
    const dl = await call(a.url, 'GET', `/xrays/${metadata.id}/download`, OWNER);
    expect(dl.status).toBe(200);
    expect(await heldAdvisoryLocks(a)).toBe(0);
  });

  it('a PATCH after the X-ray is created is answered as finished on either instance: 204 at the end offset, 409 elsewhere; nothing new', async () => {
    const plain = Buffer.from(makePng({ width: 200, height: 200, seed: 2202 }));
    const { body, metadata } = await sealed(a.url, plain, { patientId: 'P-I22-AFTER' });
    const up = await create(a.url, body.length, metadata);
    const last = await patch(a.url, up.path, 0, body);
    expect(`${last.status} ${last.headers.get('x-xray-id')}`).toBe(`204 ${metadata.id}`);
    for (const s of [a, b]) {
      const atEnd = await patch(s.url, up.path, body.length, new Uint8Array(0));
      expect(`${atEnd.status} ${atEnd.headers.get('x-xray-id')}`).toBe(`204 ${metadata.id}`);
      const replay = await patch(s.url, up.path, 0, body);
      expect(`${replay.status} ${problemCode(replay)}`).toBe('409 conflict');
      const head = await call(s.url, 'HEAD', up.path, OWNER);
      expect(`${head.status} ${head.headers.get('upload-offset')}`).toBe(`200 ${body.length}`);
    }
    expect(await footprint(a, metadata.id)).toEqual({ xrays: 1, createdEvents: 1, uploadedEvents: 1 });
    expect(await heldAdvisoryLocks(a)).toBe(0);
  });

  it('a client that retries its final PATCH after a network cut (an empty PATCH at the end while the first is still being stored) is told the X-ray, and only one is created', async () => {
    const plain = Buffer.from(makePng({ width: 300, height: 300, seed: 2203 }));
    const { body, metadata } = await sealed(a.url, plain, { patientId: 'P-I22-RETRY' });
    const up = await create(a.url, body.length, metadata);
    // Storing the X-ray takes 1.5 s: the retries arrive (on both instances) while it is stored.
    const restore = await slowXrayInserts(a, 1.5);
    let first: Reply;
    let retries: Reply[];
    try {
      const final = patch(a.url, up.path, 0, body);
      await untilStoring(a, final);
      retries = await Promise.all([
        patch(a.url, up.path, body.length, new Uint8Array(0)),
        patch(b.url, up.path, body.length, new Uint8Array(0)),
      ]);
      first = await final;
    } finally {
      await restore();
    }
    const got = [first, ...retries].map((r) => `${r.status} ${r.headers.get('x-xray-id') ?? problemCode(r)}`);
    expect(got).toEqual([`204 ${metadata.id}`, `204 ${metadata.id}`, `204 ${metadata.id}`]);
    expect(await footprint(a, metadata.id)).toEqual({ xrays: 1, createdEvents: 1, uploadedEvents: 1 });
    const dl = await call(a.url, 'GET', `/xrays/${metadata.id}/download`, OWNER);
    expect(`${dl.status}`).toBe('200');
    expect(await heldAdvisoryLocks(a)).toBe(0);
  });

  it('a HEAD while the final PATCH is being stored (the client resuming after a cut) answers the end offset and names the X-ray, on either instance', async () => {
    const plain = Buffer.from(makePng({ width: 300, height: 300, seed: 2206 }));
    const { body, metadata } = await sealed(a.url, plain, { patientId: 'P-I22-HEAD' });
    const up = await create(a.url, body.length, metadata);
    const restore = await slowXrayInserts(a, 1.5);
    let heads: Reply[];
    try {
      const final = patch(a.url, up.path, 0, body);
      await untilStoring(a, final);
      heads = await Promise.all([call(a.url, 'HEAD', up.path, OWNER), call(b.url, 'HEAD', up.path, OWNER)]);
      await final;
    } finally {
      await restore();
    }
    const got = heads.map((h) => `${h.status} ${h.headers.get('upload-offset')} ${h.headers.get('x-xray-id')}`);
    // tus-js-client takes an offset at the end as done: this answer is all a resuming client learns.
    expect(got).toEqual([`200 ${body.length} ${metadata.id}`, `200 ${body.length} ${metadata.id}`]);
    expect(await heldAdvisoryLocks(a)).toBe(0);
  });

  it('a HEAD that cannot get the upload within the lock timeout (a holder that never lets go) answers 423 upload_busy with Retry-After, not a 409 that makes tus-js-client start over', async () => {
    const plain = Buffer.from(makePng({ width: 120, height: 120, seed: 2207 }));
    const { body, metadata } = await sealed(a.url, plain, { patientId: 'P-I22-BUSY' });
    const up = await create(a.url, body.length, metadata);
    const id = up.path.split('/').pop() ?? '';
    // A third instance on the same database whose requests wait 2 s for a lock instead of the
    // default 30: what is tested is the answer once the wait has run out, and when it comes.
    const short = await start(loadConfig({ ...a.env, TUS_LOCK_TIMEOUT_MS: '2000' }), { authenticate: headerActor });
    // Held by a session that no release request reaches (not an instance's locker).
    const holder = await a.pool.connect();
    try {
      await holder.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [`tus:${id}`]);
      const asked = Date.now();
      const head = await call(short.url, 'HEAD', up.path, OWNER);
      const waitedMs = Date.now() - asked;
      expect({ status: head.status, retryAfter: head.headers.get('retry-after') }).toEqual({
        status: 423,
        retryAfter: '5',
      });
      expect(waitedMs).toBeGreaterThanOrEqual(2_000);
      expect(waitedMs).toBeLessThan(10_000);
    } finally {
      await short.stop();
      await holder.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [`tus:${id}`]);
      holder.release();
    }
    // Free again: the upload is where it was, and the client goes on from there.
    const again = await call(a.url, 'HEAD', up.path, OWNER);
    expect({ status: again.status, offset: again.headers.get('upload-offset') }).toEqual({ status: 200, offset: '0' });
  }, 60_000);

  it('chunks back to back on one instance and alternating instances, a HEAD during each, a DELETE right after a PATCH: offsets stay true, the termination leaves nothing, no lock left', async () => {
    const plain = Buffer.from(makeDicom({ rows: 700, columns: 700, seed: 2204 }));
    const { body, metadata } = await sealed(a.url, plain, { patientId: 'P-I22-B2B' });
    const up = await create(a.url, body.length, metadata);
    const chunk = 64 * 1024;
    let offset = 0;
    for (let i = 0; offset < body.length; i++) {
      const s = i % 3 === 2 ? b : a;
      const bytes = body.subarray(offset, offset + chunk);
      const [r, head] = await Promise.all([patch(s.url, up.path, offset, bytes), call(a.url, 'HEAD', up.path, OWNER)]);
      // The HEAD may end the PATCH (tus: a waiter asks the holder to let go): what it reports is
      // what the PATCH stored, never more than was sent, never beyond the PATCH's own answer.
      const headOffset = Number(head.headers.get('upload-offset'));
      expect(head.status).toBe(200);
      expect(headOffset).toBeGreaterThanOrEqual(offset);
      expect(headOffset).toBeLessThanOrEqual(offset + bytes.length);
      if (r.status === 204) offset = Number(r.headers.get('upload-offset') ?? offset + bytes.length);
      else {
        expect(`${r.status} ${problemCode(r)}`).toMatch(/^(409|423|460|499|500) /);
        const now = await call(b.url, 'HEAD', up.path, OWNER);
        offset = Number(now.headers.get('upload-offset'));
      }
      if (i > 400) throw new Error('no progress');
    }
    expect(await footprint(a, metadata.id)).toEqual({ xrays: 1, createdEvents: 1, uploadedEvents: 1 });

    // A termination right after a PATCH (while its unlock may still be pending), on both instances.
    for (const s of [a, b]) {
      const p2 = Buffer.from(makePng({ seed: 2205 + (s === a ? 0 : 1) }));
      const s2 = await sealed(a.url, p2, { patientId: 'P-I22-DEL' });
      const u2 = await create(a.url, s2.body.length, s2.metadata);
      const id = u2.path.split('/').pop() ?? '';
      const [pr, del] = await Promise.all([
        patch(a.url, u2.path, 0, s2.body.subarray(0, 1000)),
        sleep(1).then(() => call(s.url, 'DELETE', u2.path, OWNER)),
      ]);
      expect([204, 404, 409, 423, 460, 499]).toContain(pr.status);
      expect(`${del.status} ${problemCode(del)}`).toBe('204 -');
      const head = await call(a.url, 'HEAD', u2.path, OWNER);
      expect(head.status).toBe(404);
      const rows = await a.pool.query('SELECT 1 FROM tus_uploads WHERE id = $1', [id]);
      expect(rows.rowCount).toBe(0);
      // A PATCH that lost the race must not bring the upload back.
      await sleep(200);
      expect((await storedObjects(a)).filter((k) => k.includes(id))).toEqual([]);
    }
    expect(await heldAdvisoryLocks(a)).toBe(0);
  });

  it('caps under a burst: 12 creations at once by one user leave at most the open limit, 8 at once over the reserved bytes at most what fits; another user is unaffected', async () => {
    const { metadata } = await sealed(a.url, Buffer.from(makePng({ seed: 2210 })));
    const meta = () => ({ ...metadata, id: randomUUID() });
    const servers = [a, b];
    const burst = await Promise.all(
      Array.from({ length: 12 }, (_, i) => create(servers[i % 2]!.url, 1000, meta(), BURSTER)),
    );
    const codes = burst.map((r) => `${r.reply.status} ${problemCode(r.reply)}`);
    expect(codes.filter((c) => c === '201 -').length).toBe(MAX_OPEN);
    expect(codes.filter((c) => c !== '201 -').every((c) => c === '429 too_many_requests')).toBe(true);
    const open = async (sub: string) =>
      (
        await a.pool.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM tus_uploads WHERE owner_sub = $1 AND finalized_at IS NULL',
          [sub],
        )
      ).rows[0]?.n;
    expect(await open('para-i22-burst')).toBe(MAX_OPEN);

    // 12 MiB each against a 30 MiB cap: two fit, whoever asks at once.
    const big = await Promise.all(
      Array.from({ length: 8 }, (_, i) => create(servers[i % 2]!.url, 12 * 1024 * 1024, meta(), BYTES_BURSTER)),
    );
    const bigCodes = big.map((r) => `${r.reply.status} ${problemCode(r.reply)}`);
    expect(bigCodes.filter((c) => c === '201 -').length).toBe(2);
    expect(bigCodes.filter((c) => c !== '201 -').every((c) => c === '413 payload_too_large')).toBe(true);
    const { rows } = await a.pool.query<{ s: string }>(
      "SELECT coalesce(sum(upload_length), 0)::text AS s FROM tus_uploads WHERE owner_sub = 'para-i22-bytes' AND finalized_at IS NULL",
    );
    expect(Number(rows[0]?.s)).toBeLessThanOrEqual(MAX_RESERVED);

    const other = await create(b.url, 1000, meta(), BYSTANDER);
    expect(other.reply.status, other.reply.text).toBe(201);
  });

  it('a tus upload of 0, 1 or a header-only number of bytes is refused clearly at creation or at its end, and leaves no row, no object, no lock', async () => {
    for (const length of [0, 1, 40]) {
      const plain = Buffer.from(makePng({ seed: 2280 + length }));
      const { metadata } = await sealed(a.url, plain, { patientId: `P-I22-TINY-${length}` });
      const up = await create(a.url, length, metadata);
      let answer = up.reply;
      if (up.reply.status === 201 && length > 0) answer = await patch(a.url, up.path, 0, randomBytes(length));
      const got = `${answer.status} ${problemCode(answer)}`;
      expect(got, answer.text).toMatch(/^4\d\d [a-z_]+$/);
      expect(await footprint(a, metadata.id)).toEqual({ xrays: 0, createdEvents: 0, uploadedEvents: 0 });
      const rows = await a.pool.query('SELECT 1 FROM tus_uploads WHERE xray_id = $1', [metadata.id]);
      expect(rows.rowCount).toBe(0);
      expect((await storedObjects(a)).filter((k) => k.includes(metadata.id))).toEqual([]);
    }
    expect(await heldAdvisoryLocks(a)).toBe(0);
  });

  it('roles: another paramedic cannot PATCH, HEAD or DELETE the upload (404), a doctor or no role cannot create or write (403); nothing changes', async () => {
    const plain = Buffer.from(makePng({ seed: 2220 }));
    const { body, metadata } = await sealed(a.url, plain, { patientId: 'P-I22-ROLES' });
    const up = await create(a.url, body.length, metadata);
    expect((await patch(a.url, up.path, 0, body.subarray(0, 100))).status).toBe(204);
    const tries = {
      otherPatch: await patch(b.url, up.path, 100, body.subarray(100, 200), OTHER),
      otherReplay: await patch(a.url, up.path, 0, body.subarray(0, 100), OTHER),
      otherHead: await call(a.url, 'HEAD', up.path, OTHER),
      otherDelete: await call(b.url, 'DELETE', up.path, OTHER),
      doctorPatch: await patch(a.url, up.path, 100, body.subarray(100, 200), DOCTOR),
      noRolePatch: await patch(a.url, up.path, 100, body.subarray(100, 200), NO_ROLE),
      doctorCreate: (await create(a.url, body.length, { ...metadata, id: randomUUID() }, DOCTOR)).reply,
      noRoleCreate: (await create(b.url, body.length, { ...metadata, id: randomUUID() }, NO_ROLE)).reply,
      anonymous: await patch(a.url, up.path, 100, body.subarray(100, 200), ''),
    };
    const got = Object.fromEntries(Object.entries(tries).map(([k, r]) => [k, r.status]));
    expect(got).toEqual({
      otherPatch: 404,
      otherReplay: 404,
      otherHead: 404,
      otherDelete: 404,
      doctorPatch: 403,
      noRolePatch: 403,
      doctorCreate: 403,
      noRoleCreate: 403,
      anonymous: 401,
    });
    // A replay by the owner of the same PATCH at the same offset: a conflict, the offset unchanged.
    const replay = await patch(a.url, up.path, 0, body.subarray(0, 100));
    expect(`${replay.status} ${problemCode(replay)}`).toBe('409 conflict');
    const head = await call(b.url, 'HEAD', up.path, OWNER);
    expect(head.headers.get('upload-offset')).toBe('100');
    const { rows } = await a.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM tus_uploads WHERE owner_sub IN ('doc-i22', 'nobody-i22')",
    );
    expect(rows[0]?.n).toBe(0);
  });
});

/** POST /xrays with a body that announces `length` bytes, sends `sent` of them, then the socket is destroyed. */
function cutPost(base: string, actor: string, form: Buffer, boundary: string, sent: number): Promise<void> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.write(
        `POST /xrays HTTP/1.1\r\nHost: ${hostname}:${port}\r\nX-Test-Actor: ${actor}\r\n` +
          `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${form.length}\r\n\r\n`,
      );
      socket.write(form.subarray(0, sent), () => {
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 300);
      });
    });
  });
}

function multipart(metadata: unknown, file: Buffer): { form: Buffer; boundary: string } {
  const boundary = `----i22${randomUUID().replaceAll('-', '')}`;
  const form = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n${JSON.stringify(metadata)}\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="image.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    ),
    file,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { form, boundary };
}

/**
 * What the search below finds for this file's sizes: it takes ~15 s of CPU, so it runs only when
 * the testkit's sizes no longer match these (each is checked with dicomSize first).
 */
const FOUND: Record<number, { rows: number; columns: number; seed: number }> = {
  [DEFAULT_SEGMENT_SIZE - 2]: { rows: 2483, columns: 211, seed: 2233 },
  [DEFAULT_SEGMENT_SIZE]: { rows: 172, columns: 3046, seed: 2230 },
  [DEFAULT_SEGMENT_SIZE + 2]: { rows: 191, columns: 2743, seed: 2230 },
  [2 * DEFAULT_SEGMENT_SIZE - 2]: { rows: 3494, columns: 300, seed: 2238 },
  [2 * DEFAULT_SEGMENT_SIZE]: { rows: 300, columns: 3494, seed: 2230 },
  [2 * DEFAULT_SEGMENT_SIZE + 2]: { rows: 3757, columns: 279, seed: 2232 },
};

/** A DICOM (its dimensions and seed) whose file is exactly `bytes` long, searched over the testkit's own sizes. */
function exactDicom(bytes: number): { rows: number; columns: number; seed: number } {
  const found = FOUND[bytes];
  if (found && dicomSize(found) === bytes) return found;
  for (let seed = 2230; seed < 2330; seed++) {
    const header = dicomSize({ rows: 2, columns: 2, seed }) - 8;
    for (let rows = 64; rows < 4000; rows++) {
      const guess = Math.round((bytes - header) / (2 * rows));
      for (const columns of [guess - 1, guess, guess + 1]) {
        if (columns > 0 && columns < 4000 && dicomSize({ rows, columns, seed }) === bytes)
          return { rows, columns, seed };
      }
    }
  }
  throw new Error(`no DICOM of exactly ${bytes} bytes`);
}

describe('attack 22 ingest: POST /xrays sealed with node:crypto', () => {
  let server: TestServer;
  const ACTOR = 'para-i22-post; paramedic';

  beforeAll(async () => {
    server = await startTestServer('fs', {}, { authenticate: headerActor });
  });
  afterAll(async () => {
    await server?.close();
  });

  const rowsAndObjects = async () => ({
    xrays: (await server.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM xrays')).rows[0]?.n,
    objects: (await storedObjects(server)).sort(),
  });

  it('a 1x1 image (far under a segment) and files of exactly one and two segments, and two bytes either side, are stored and read back byte-exact', async () => {
    const tiny = Buffer.from(makePng({ width: 1, height: 1, seed: 2229 }));
    const small = await postXray(server.url, validMetadata({ patientId: 'P-I22-TINY' }), blobOf(tiny), {
      'X-Test-Actor': ACTOR,
    });
    const smallText = await small.text();
    expect(small.status, smallText).toBe(201);
    const tinyId = XraySchema.parse(JSON.parse(smallText)).id;
    const tinyDl = await fetch(`${server.url}/xrays/${tinyId}/download`, { headers: { 'X-Test-Actor': ACTOR } });
    expect(sha256Hex(Buffer.from(await tinyDl.arrayBuffer()))).toBe(sha256Hex(tiny));
    for (const size of [DEFAULT_SEGMENT_SIZE, 2 * DEFAULT_SEGMENT_SIZE]) {
      for (const delta of [-2, 0, 2]) {
        const plain = Buffer.from(makeDicom(exactDicom(size + delta)));
        expect(plain.length).toBe(size + delta);
        const res = await postXray(
          server.url,
          validMetadata({ patientId: `P-I22-SEG-${size}-${delta}` }),
          blobOf(plain),
          {
            'X-Test-Actor': ACTOR,
          },
        );
        const text = await res.text();
        expect(res.status, text).toBe(201);
        const x = XraySchema.parse(JSON.parse(text));
        expect(x.sha256).toBe(sha256Hex(plain));
        const dl = await fetch(`${server.url}/xrays/${x.id}/download`, { headers: { 'X-Test-Actor': ACTOR } });
        expect(dl.status).toBe(200);
        expect(sha256Hex(Buffer.from(await dl.arrayBuffer()))).toBe(sha256Hex(plain));
      }
    }
  });

  it('an empty or one-byte file is refused as problem+json and leaves no row and no object', async () => {
    const before = await rowsAndObjects();
    for (const file of [Buffer.alloc(0), Buffer.from([0x89])]) {
      const res = await postXray(server.url, validMetadata({ patientId: 'P-I22-EMPTY' }), blobOf(file), {
        'X-Test-Actor': ACTOR,
      });
      const text = await res.text();
      expect(res.status, text).toBeGreaterThanOrEqual(400);
      expect(res.status, text).toBeLessThan(500);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    }
    expect(await rowsAndObjects()).toEqual(before);
  });

  it('a client that goes away mid-body (before, at and after a segment boundary) leaves no row and no object', async () => {
    const before = await rowsAndObjects();
    const plain = Buffer.from(makeDicom({ rows: 1200, columns: 1200, seed: 2240 }));
    const { form, boundary } = multipart(validMetadata({ patientId: 'P-I22-CUT' }), plain);
    const fileStart = form.indexOf(plain.subarray(0, 64));
    for (const at of [
      fileStart + 10,
      fileStart + DEFAULT_SEGMENT_SIZE,
      fileStart + DEFAULT_SEGMENT_SIZE + 1,
      form.length - 5,
    ]) {
      await cutPost(server.url, ACTOR, form, boundary, at);
    }
    // The server notices the cut and cleans up in the background: wait for it to settle.
    let now = await rowsAndObjects();
    for (let i = 0; i < 200 && JSON.stringify(now) !== JSON.stringify(before); i++) {
      await sleep(100);
      now = await rowsAndObjects();
    }
    expect(now).toEqual(before);
    // And the same file sent whole is stored (the server is fine after the cuts).
    const res = await postXray(server.url, validMetadata({ patientId: 'P-I22-CUT' }), blobOf(plain), {
      'X-Test-Actor': ACTOR,
    });
    expect(res.status).toBe(201);
  });

  it('a client that stalls and then errors its body (a request stream that fails) leaves no row and no object', async () => {
    const before = await rowsAndObjects();
    const plain = Buffer.from(makeDicom({ rows: 900, columns: 900, seed: 2250 }));
    const { form, boundary } = multipart(validMetadata({ patientId: 'P-I22-ERR' }), plain);
    const { hostname, port } = new URL(server.url);
    const status = await new Promise<number>((resolve) => {
      const req = request(
        {
          host: hostname,
          port,
          path: '/xrays',
          method: 'POST',
          headers: {
            'X-Test-Actor': ACTOR,
            'Content-Type': `multipart/form-data; boundary=${boundary}`,
            'Transfer-Encoding': 'chunked',
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', () => resolve(-1));
      req.write(form.subarray(0, DEFAULT_SEGMENT_SIZE + 4096));
      // A broken chunked encoding: the server's request stream errors mid-file.
      setTimeout(() => req.socket?.write('zz\r\nnot a chunk\r\n'), 200);
      setTimeout(() => req.destroy(), 1500);
    });
    expect([-1, 400, 499]).toContain(status);
    let now = await rowsAndObjects();
    for (let i = 0; i < 200 && JSON.stringify(now) !== JSON.stringify(before); i++) {
      await sleep(100);
      now = await rowsAndObjects();
    }
    expect(now).toEqual(before);
  });
});

describe('attack 22 ingest: POST /xrays when storage fails at a segment boundary', () => {
  let server: TestServer;
  const ACTOR = 'para-i22-store; paramedic';
  // The header (under 200 bytes) and one sealed segment (1 MiB + its 16-byte tag) get through.
  const FAIL_AFTER = DEFAULT_SEGMENT_SIZE + 16 + 200;

  beforeAll(async () => {
    server = await startTestServer('fs', {}, { authenticate: headerActor, decorateStore: failingWrites(FAIL_AFTER) });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('a 3-segment file is refused as a 5xx problem and leaves no row and no object', async () => {
    const plain = Buffer.from(makeDicom({ rows: 1100, columns: 1100, seed: 2290 }));
    expect(plain.length).toBeGreaterThan(2 * DEFAULT_SEGMENT_SIZE);
    const res = await postXray(server.url, validMetadata({ patientId: 'P-I22-STOREFAIL' }), blobOf(plain), {
      'X-Test-Actor': ACTOR,
    });
    const text = await res.text();
    expect(res.status, text).toBeGreaterThanOrEqual(500);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(text).not.toMatch(/injected|\/tmp\//);
    const { rows } = await server.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM xrays');
    expect(rows[0]?.n).toBe(0);
    let left: string[] = [];
    for (let i = 0; i < 200; i++) {
      left = (await storedObjects(server)).filter((k) => k.startsWith('xrays/') || k.startsWith('.tmp/'));
      if (left.length === 0) break;
      await sleep(100);
    }
    expect(left).toEqual([]);
  });
});

describe('attack 22 ingest: stopping while unlocks are deferred', () => {
  it('SIGTERM while the final PATCH is being stored: the answer and the rows agree, no lock stays held, the upload can be completed', async () => {
    const a = await startTestServer('fs', { TUS_CLEANUP_INTERVAL_MS: '3600000' }, { authenticate: headerActor });
    const proc = await spawnServer({ ...a.env, LOG_LEVEL: 'info', SHUTDOWN_GRACE_MS: '10000' });
    try {
      const plain = Buffer.from(makePng({ width: 300, height: 300, seed: 2265 }));
      const { body, metadata } = await sealed(a.url, plain, { patientId: 'P-I22-SIGTERM' });
      const up = await create(proc.url, body.length, metadata, undefined);
      const restore = await slowXrayInserts(a, 1.5);
      let last: Reply | Error;
      try {
        const final = patch(proc.url, up.path, 0, body, undefined).catch((e: unknown) => e as Error);
        await untilStoring(a, final);
        await proc.kill('SIGTERM');
        last = await final;
      } finally {
        await restore();
      }
      expect(await heldAdvisoryLocks(a)).toBe(0);
      const fp = await footprint(a, metadata.id);
      const { rows } = await a.pool.query<{ finalized: boolean }>(
        'SELECT finalized_at IS NOT NULL AS finalized FROM tus_uploads WHERE xray_id = $1',
        [metadata.id],
      );
      const answered =
        last instanceof Error ? 'no answer' : `${last.status} ${last.headers.get('x-xray-id') ?? problemCode(last)}`;
      if (answered === `204 ${metadata.id}`) {
        expect({ fp, rows: rows.map((r) => r.finalized) }).toEqual({
          fp: { xrays: 1, createdEvents: 1, uploadedEvents: 1 },
          rows: [true],
        });
      } else {
        // Not stored, or stored without the client hearing it: never a half of each.
        expect(fp.xrays === 1 ? rows.map((r) => r.finalized) : fp, answered).toEqual(
          fp.xrays === 1 ? [true] : { xrays: 0, createdEvents: 0, uploadedEvents: 0 },
        );
      }
      // The client carries on against another instance and ends with its X-ray.
      const done = await startTus({
        endpoint: `${a.url}/uploads`,
        file: body,
        metadata,
        headers: { 'X-Test-Actor': 'local-dev; paramedic' },
      }).done;
      expect(done.xrayId).toBe(metadata.id);
      expect(await footprint(a, metadata.id)).toEqual({ xrays: 1, createdEvents: 1, uploadedEvents: 1 });
    } finally {
      await proc.kill();
      await a.close();
    }
  });

  it('an instance killed while storing the final PATCH: a HEAD on another instance stores the X-ray and names it with the end offset; one X-ray, no lock left', async () => {
    const a = await startTestServer('fs', { TUS_CLEANUP_INTERVAL_MS: '3600000' }, { authenticate: headerActor });
    const proc = await spawnServer({ ...a.env, LOG_LEVEL: 'info' });
    // The spawned server's own sign-in (no actor header): the same user on the test server.
    const LOCAL_DEV = 'local-dev; paramedic';
    let killed = false;
    try {
      const plain = Buffer.from(makePng({ width: 300, height: 300, seed: 2266 }));
      const { body, metadata } = await sealed(a.url, plain, { patientId: 'P-I22-KILLED' });
      const up = await create(proc.url, body.length, metadata, undefined);
      const restore = await slowXrayInserts(a, 1.5);
      try {
        const final = patch(proc.url, up.path, 0, body, undefined).catch((e: unknown) => e as Error);
        await untilStoring(a, final);
        await proc.kill('SIGKILL');
        killed = true;
        expect(await final).toBeInstanceOf(Error);
      } finally {
        await restore();
      }
      // Every byte is in, no X-ray yet and nobody storing it: the client resuming learns its X-ray.
      const head = await call(a.url, 'HEAD', up.path, LOCAL_DEV);
      expect(`${head.status} ${head.headers.get('upload-offset')} ${head.headers.get('x-xray-id')}`).toBe(
        `200 ${body.length} ${metadata.id}`,
      );
      expect(await footprint(a, metadata.id)).toEqual({ xrays: 1, createdEvents: 1, uploadedEvents: 1 });
      const dl = await call(a.url, 'GET', `/xrays/${metadata.id}/download`, LOCAL_DEV);
      expect(`${dl.status}`).toBe('200');
      expect(await heldAdvisoryLocks(a)).toBe(0);
      // Asked again (the answer was lost): the same, from the row; nothing new.
      const again = await call(a.url, 'HEAD', up.path, LOCAL_DEV);
      expect(`${again.status} ${again.headers.get('x-xray-id')}`).toBe(`200 ${metadata.id}`);
      expect(await footprint(a, metadata.id)).toEqual({ xrays: 1, createdEvents: 1, uploadedEvents: 1 });
    } finally {
      // A killed process has no exit code (kill() would wait for an exit that came already).
      if (!killed) await proc.kill();
      await a.close();
    }
  });

  it('an instance stopped right after answering PATCHes (the last one finishing an X-ray) leaves no lock held and consistent rows', async () => {
    const a = await startTestServer('fs', { TUS_CLEANUP_INTERVAL_MS: '3600000' }, { authenticate: headerActor });
    const b = await start(loadConfig(a.env), { authenticate: headerActor });
    try {
      const plain = Buffer.from(makePng({ width: 300, height: 300, seed: 2260 }));
      const { body, metadata } = await sealed(a.url, plain, { patientId: 'P-I22-STOP' });
      const half = Math.floor(body.length / 2);
      const up = await create(b.url, body.length, metadata);
      const first = await patch(b.url, up.path, 0, body.subarray(0, half));
      expect(first.status).toBe(204);
      const last = await patch(b.url, up.path, half, body.subarray(half));
      expect(`${last.status} ${last.headers.get('x-xray-id')}`).toBe(`204 ${metadata.id}`);
      // Stopped at once: the unlock of that last finish may not have been sent yet.
      await b.stop();
      expect(await heldAdvisoryLocks(a)).toBe(0);
      const { rows } = await a.pool.query<{ finalized: boolean }>(
        'SELECT finalized_at IS NOT NULL AS finalized FROM tus_uploads WHERE xray_id = $1',
        [metadata.id],
      );
      expect(rows.map((r) => r.finalized)).toEqual([true]);
      expect(await footprint(a, metadata.id)).toEqual({ xrays: 1, createdEvents: 1, uploadedEvents: 1 });
      // The other instance answers the finished upload and its lock is free.
      const head = await call(a.url, 'HEAD', rebase(`${a.url}${up.path}`, a.url).slice(a.url.length), OWNER);
      expect(`${head.status} ${head.headers.get('x-xray-id')}`).toBe(`200 ${metadata.id}`);
    } finally {
      await b.stop();
      await a.close();
    }
  });
});
