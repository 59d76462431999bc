import { randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { encryptBytes, generateDek, wrapKeyRsaOaep } from '@xray/shared';
import { dicomDimensionsForSize, makeDicom, makePng, sha256Hex } from '@xray/testkit';
import * as tus from 'tus-js-client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  blobOf,
  countRows,
  postXray,
  s3Client,
  startTestServer,
  storedObjects,
  validMetadata,
  type StorageKind,
  type TestServer,
} from './harness.ts';
import { startTestIssuer, SUBJECTS, type Person, type TestIssuer } from './oidc-tokens.ts';
import { encodeMeta, MiB, tusMetadata } from './tus-client.ts';

/**
 * The tus door (/uploads) as an attacker and a careless client see it, with real tokens from a
 * real OIDC issuer: which paths exist, who may touch whose upload, what a replayed X-ray id
 * discloses, that both doors audit a refusal alike, and what slow or greedy clients can hold.
 * Every request carries its own X-Request-Id, so each answer is matched to the audit rows it left.
 */

const IDLE_MS = 2000;
/** How much later than the idle timeout a silent socket may still be open. */
const CLOSE_SLACK_MS = 2500;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const OFFSET_STREAM = 'application/offset+octet-stream';

type Who = Person;
const WHO: Who[] = ['owner', 'other', 'doctor', 'admin', 'noRole'];
const SUBS = SUBJECTS;
let tokens: Record<Who, string>;
let auth: TestIssuer;

const rid = () => `door-${randomUUID()}`;
const bearer = (who: Who) => ({ Authorization: `Bearer ${tokens[who]}` });

beforeAll(async () => {
  auth = await startTestIssuer('door');
  tokens = auth.tokens;
});
afterAll(async () => {
  await auth?.stop();
});

const startDoor = (kind: StorageKind, env: Record<string, string>) =>
  startTestServer(kind, {
    ...auth.env,
    UPLOAD_IDLE_TIMEOUT_MS: String(IDLE_MS),
    ...env,
  });

// ---- requests -------------------------------------------------------------------------------

interface Reply {
  method: string;
  status: number;
  headers: Headers;
  text: string;
  requestId: string;
}

/** One request as `who`, with its own request id (and Tus-Resumable unless told otherwise). */
async function call(
  base: string,
  method: string,
  urlPath: string,
  who: Who,
  opts: { headers?: Record<string, string>; body?: Uint8Array; tusResumable?: boolean } = {},
): Promise<Reply> {
  const requestId = rid();
  const res = await fetch(`${base}${urlPath}`, {
    method,
    headers: {
      'X-Request-Id': requestId,
      ...bearer(who),
      ...(opts.tusResumable === false ? {} : { 'Tus-Resumable': '1.0.0' }),
      ...opts.headers,
    },
    ...(opts.body ? { body: new Uint8Array(opts.body) } : {}),
  });
  return { method, status: res.status, headers: res.headers, text: await res.text(), requestId };
}

/** POST /xrays (the REST door) as `who`. */
async function restCreate(base: string, who: Who, metadata: unknown, plain: Buffer): Promise<Reply> {
  const requestId = rid();
  const res = await postXray(base, metadata, blobOf(plain), { ...bearer(who), 'X-Request-Id': requestId });
  return { method: 'POST', status: res.status, headers: res.headers, text: await res.text(), requestId };
}

const creationHeaders = (length: number, metadata: Record<string, string>) => ({
  'Upload-Length': String(length),
  'Upload-Metadata': encodeMeta(metadata),
});

const patchUpload = (base: string, who: Who, urlPath: string, offset: number, bytes: Uint8Array) =>
  call(base, 'PATCH', urlPath, who, {
    headers: { 'Content-Type': OFFSET_STREAM, 'Upload-Offset': String(offset) },
    body: bytes,
  });

interface Created {
  url: string;
  path: string;
  id: string;
}

const createdOf = (r: Reply): Created => {
  const url = r.headers.get('location') ?? '';
  const p = url ? new URL(url).pathname : '';
  return { url, path: p, id: p.split('/').pop() ?? '' };
};

/** Creates a tus upload as `who` (expecting 201). */
async function createUpload(base: string, who: Who, body: Buffer, metadata: Record<string, string>): Promise<Created> {
  const r = await call(base, 'POST', '/uploads', who, { headers: creationHeaders(body.length, metadata) });
  expect(r.status, r.text).toBe(201);
  return createdOf(r);
}

/** What the edge sends: XRE1 ciphertext of `plain` and Upload-Metadata with the wrapped data key. */
async function seal(base: string, plain: Buffer, over: Record<string, string> = {}) {
  const res = await fetch(`${base}/keys/upload`, { headers: { 'X-Request-Id': rid() } });
  const jwk = ((await res.json()) as { keys: (JsonWebKey & { kid: string })[] }).keys[0];
  if (!jwk) throw new Error('no upload key');
  const key = await crypto.subtle.importKey('jwk', jwk, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['wrapKey']);
  const dek = await generateDek();
  const body = Buffer.from(await encryptBytes(dek, plain));
  const wrapped = Buffer.from(await wrapKeyRsaOaep(dek, key)).toString('base64');
  return { plain, body, metadata: { ...tusMetadata(plain), dek: wrapped, kid: jwk.kid, ...over } };
}

/** tus-js-client as the edge drives it (a fresh request id on every request); resolves when complete. */
function tusFinish(base: string, who: Who, file: Buffer, metadata: Record<string, string>, uploadUrl?: string) {
  return new Promise<{ url: string; xrayId: string | null }>((resolve, reject) => {
    let xrayId: string | null = null;
    const upload = new tus.Upload(file, {
      endpoint: `${base}/uploads`,
      ...(uploadUrl ? { uploadUrl } : {}),
      chunkSize: 5 * MiB,
      metadata,
      headers: bearer(who),
      retryDelays: null,
      storeFingerprintForResuming: false,
      onBeforeRequest: (req) => req.setHeader('X-Request-Id', rid()),
      onAfterResponse: (_req, res) => {
        xrayId = res.getHeader('X-Xray-Id') ?? xrayId;
      },
      onSuccess: () => resolve({ url: upload.url ?? '', xrayId }),
      onError: reject,
    });
    upload.start();
  });
}

async function downloadSha(base: string, who: Who, xrayId: string): Promise<string> {
  const res = await fetch(`${base}/xrays/${xrayId}/download`, { headers: { ...bearer(who), 'X-Request-Id': rid() } });
  expect(res.status).toBe(200);
  return sha256Hex(Buffer.from(await res.arrayBuffer()));
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

// ---- answers and audit rows -----------------------------------------------------------------

/** The problem code of an answer; '-' for HEAD (no body); a marker when it is not problem+json. */
function codeOf(r: Reply): string {
  if (r.method === 'HEAD') return '-';
  const type = r.headers.get('content-type') ?? 'no content type';
  if (!type.includes('application/problem+json')) return `(${type})`;
  try {
    const { code } = JSON.parse(r.text) as { code?: unknown };
    return typeof code === 'string' ? code : '(no code)';
  } catch {
    return '(not JSON)';
  }
}

interface AuditRow {
  action: string;
  outcome: string;
  details: Record<string, unknown>;
  actor_sub: string | null;
}

async function auditRows(server: TestServer, requestId: string): Promise<AuditRow[]> {
  const { rows } = await server.pool.query<AuditRow>(
    'SELECT action, outcome, details, actor_sub FROM audit_events WHERE request_id = $1 ORDER BY id',
    [requestId],
  );
  return rows;
}

/** `METHOD status code [action/outcome/actor(/denial), …]`: an answer and the audit rows it left, on one line. */
async function verdict(server: TestServer, r: Reply, withDenial = false): Promise<string> {
  const rows = await auditRows(server, r.requestId);
  const audit = rows.map((a) =>
    [a.action, a.outcome, a.actor_sub, ...(withDenial ? [String(a.details.denial)] : [])].join('/'),
  );
  return `${r.method} ${r.status} ${codeOf(r)} [${audit.join(', ')}]`;
}

const expected = (method: string, status: number, code: string, audit: string) =>
  `${method} ${status} ${method === 'HEAD' ? '-' : code} [${audit}]`;
const deniedRow = (who: Who, denial?: string) => `access.denied/denied/${SUBS[who]}${denial ? `/${denial}` : ''}`;

/** X's hash or patient, or any X-Xray-* header, in an answer to someone who may not know of X. */
function leaks(r: Reply, secrets: string[]): string[] {
  const found: string[] = [];
  r.headers.forEach((value, name) => {
    if (name.startsWith('x-xray-')) found.push(`header ${name}`);
    for (const s of secrets) if (value.includes(s)) found.push(`${s} in header ${name}`);
  });
  for (const s of secrets) if (r.text.includes(s)) found.push(`${s} in body`);
  return found;
}

/** Open multipart uploads in the test bucket (none on disk). */
async function multipartKeys(server: TestServer): Promise<string[]> {
  if (server.config.storage.kind !== 's3') return [];
  const open = await s3Client(server.env).send(new ListMultipartUploadsCommand({ Bucket: server.env.S3_BUCKET }));
  return (open.Uploads ?? []).map((u) => `multipart ${u.Key}`);
}

/** What storage holds of upload `id` (objects, temp files, multipart uploads); with `settle`, once it stops shrinking. */
async function leftoversOf(server: TestServer, id: string, settle = false): Promise<string[]> {
  for (let i = 0; ; i++) {
    const left = [...(await storedObjects(server)), ...(await multipartKeys(server))].filter((k) => k.includes(id));
    if (!settle || left.length === 0 || i >= 50) return left;
    await sleep(100);
  }
}

const uploadRows = async (server: TestServer, id: string) =>
  (await server.pool.query('SELECT 1 FROM tus_uploads WHERE id = $1', [id])).rowCount;

async function inBatches<T>(items: T[], size: number, run: (item: T, i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) {
    await Promise.all(items.slice(i, i + size).map((item, j) => run(item, i + j)));
  }
}

/** An X-ray stored through POST /xrays by `who`. */
async function storeRest(base: string, who: Who, plain: Buffer) {
  const patientId = `P-SECRET-${randomUUID().slice(0, 8)}`;
  const r = await restCreate(base, who, validMetadata({ id: randomUUID(), patientId }), plain);
  expect(r.status, r.text).toBe(201);
  const x = JSON.parse(r.text) as { id: string; sha256: string };
  return { ...x, patientId, plain };
}

// ---- the door --------------------------------------------------------------------------------

describe.each<StorageKind>(['fs', 's3'])('the tus door on %s storage', (kind) => {
  let server: TestServer;
  let base: string;

  beforeAll(async () => {
    // Generous caps: these tests are about who may do what, not about limits.
    server = await startDoor(kind, {
      UPLOAD_MAX_PATCHES_PER_USER: '64',
      UPLOAD_MAX_OPEN_PER_USER: '64',
      UPLOAD_MAX_RESERVED_BYTES_PER_USER: String(4096 * MiB),
    });
    base = server.url;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('only /uploads and /uploads/{uuid} exist: every other shape is 404 for every method and actor, audited, and harmless', async () => {
    const s = await seal(base, makePng({ width: 512, height: 512, seed: 11 }));
    const up = await createUpload(base, 'owner', s.body, s.metadata);
    expect.soft(up.id, 'upload ids are random UUIDs').toMatch(UUID);
    const half = Math.floor(s.body.length / 2);
    expect((await patchUpload(base, 'owner', up.path, 0, s.body.subarray(0, half))).status).toBe(204);
    const rowsBefore = await countRows(server, 'tus_uploads');

    const id = up.id;
    const shapes = [
      `/uploads/x/${id}`,
      `/uploads//${id}`,
      `/uploads/${id}/`,
      `/uploads/%2F${id}`,
      `/uploads/x%2F${id}`,
      `/uploads/${id}/extra`,
      `/uploads/${id}%00`,
    ];
    const other = await seal(base, makePng({ seed: 12 }));
    // Each request would change the upload if it reached it: the next bytes, a new upload, a termination.
    const init: Record<string, { headers?: Record<string, string>; body?: Uint8Array }> = {
      PATCH: {
        headers: { 'Content-Type': OFFSET_STREAM, 'Upload-Offset': String(half) },
        body: s.body.subarray(half, half + 16),
      },
      POST: { headers: creationHeaders(other.body.length, other.metadata) },
    };
    const requests = shapes.flatMap((p) =>
      ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE', 'OPTIONS'].flatMap((method) => WHO.map((who) => ({ p, method, who }))),
    );
    const got: string[] = [];
    const want: string[] = [];
    await inBatches(requests, 14, async ({ p, method, who }, i) => {
      const r = await call(base, method, p, who, init[method]);
      const label = `${who} ${p.replace(id, '{id}')}: `;
      got[i] = label + (await verdict(server, r));
      want[i] = label + expected(method, 404, 'not_found', deniedRow(who));
    });
    expect(got).toEqual(want);

    // The owner's upload is as it was, and finishes.
    const head = await call(base, 'HEAD', up.path, 'owner');
    expect(head.status).toBe(200);
    expect(head.headers.get('upload-offset')).toBe(String(half));
    expect(head.headers.get('upload-length')).toBe(String(s.body.length));
    expect(await countRows(server, 'tus_uploads')).toBe(rowsBefore);
    const done = await tusFinish(base, 'owner', s.body, s.metadata, up.url);
    expect(done.xrayId).toBe(s.metadata.id);
    expect(await downloadSha(base, 'owner', s.metadata.id)).toBe(sha256Hex(s.plain));
  });

  it("someone else's unfinished upload: another paramedic and an admin get 404, a doctor or no role 403; all audited, nothing changes", async () => {
    const s = await seal(base, makePng({ width: 512, height: 512, seed: 21 }));
    const up = await createUpload(base, 'owner', s.body, s.metadata);
    const part = 1000;
    expect((await patchUpload(base, 'owner', up.path, 0, s.body.subarray(0, part))).status).toBe(204);

    const c = (who: Who, method: string, status: number, code: string, denial?: string) =>
      ({ who, method, status, code, denial }) as const;
    const cases = [
      ...['HEAD', 'PATCH', 'DELETE'].map((m) => c('other', m, 404, 'not_found', 'not_owner')),
      ...['HEAD', 'PATCH', 'DELETE'].flatMap((m) => [
        c('doctor', m, 403, 'forbidden'),
        c('noRole', m, 403, 'forbidden'),
      ]),
      ...['HEAD', 'PATCH'].map((m) => c('admin', m, 404, 'not_found')),
    ];
    const got: string[] = [];
    const want: string[] = [];
    for (const { who, method, status, code, denial } of cases) {
      const r =
        method === 'PATCH'
          ? await patchUpload(base, who, up.path, part, s.body.subarray(part, part + 100))
          : await call(base, method, up.path, who);
      const metadata = r.headers.get('upload-metadata') === null ? '' : ' with Upload-Metadata';
      got.push(`${who}: ${await verdict(server, r, denial !== undefined)}${metadata}`);
      want.push(`${who}: ${expected(method, status, code, deniedRow(who, denial))}`);
    }
    expect(got).toEqual(want);

    const head = await call(base, 'HEAD', up.path, 'owner');
    expect(head.status).toBe(200);
    expect(head.headers.get('upload-offset')).toBe(String(part));

    // An admin may terminate it (an abandoned upload), though not read or continue it.
    expect((await call(base, 'DELETE', up.path, 'admin')).status).toBe(204);
    expect((await call(base, 'HEAD', up.path, 'owner')).status).toBe(404);
  });

  it('the owner terminates an unfinished upload: 204, then no row, no stored bytes, and HEAD 404', async () => {
    const s = await seal(base, makePng({ width: 600, height: 600, seed: 31 }));
    const up = await createUpload(base, 'owner', s.body, s.metadata);
    expect((await patchUpload(base, 'owner', up.path, 0, s.body.subarray(0, 4096))).status).toBe(204);
    expect(await leftoversOf(server, up.id)).not.toEqual([]);

    expect((await call(base, 'DELETE', up.path, 'owner')).status).toBe(204);
    expect(await uploadRows(server, up.id)).toBe(0);
    expect(await leftoversOf(server, up.id, true)).toEqual([]);
    expect((await call(base, 'HEAD', up.path, 'owner')).status).toBe(404);
  });

  it('a finished upload cannot be terminated by anyone (409 upload_complete / 404 / 403, audited); the X-ray stays whole', async () => {
    const s = await seal(base, makePng({ width: 700, height: 700, seed: 41 }));
    const done = await tusFinish(base, 'owner', s.body, s.metadata);
    expect(done.xrayId).toBe(s.metadata.id);
    const upPath = new URL(done.url).pathname;

    const got: string[] = [];
    const want: string[] = [];
    const cases: [Who, number, string, string][] = [
      ['owner', 409, 'upload_complete', `refused/${SUBS.owner}/upload_complete`],
      ['admin', 409, 'upload_complete', `refused/${SUBS.admin}/upload_complete`],
      ['other', 404, 'not_found', deniedRow('other')],
      ['doctor', 403, 'forbidden', deniedRow('doctor')],
    ];
    for (const [who, status, code, audit] of cases) {
      const r = await call(base, 'DELETE', upPath, who);
      const rows = await auditRows(server, r.requestId);
      // A 409 may be recorded as a denial or a failure; either way a refusal naming the error.
      const seen = rows.map((a) =>
        status === 409
          ? `${a.outcome === 'success' ? 'success' : 'refused'}/${a.actor_sub}/${String(a.details.error)}`
          : `${a.action}/${a.outcome}/${a.actor_sub}`,
      );
      got.push(`${who}: ${r.method} ${r.status} ${codeOf(r)} [${seen.join(', ')}]`);
      want.push(`${who}: ${expected('DELETE', status, code, audit)}`);
    }
    expect(got).toEqual(want);

    expect(await downloadSha(base, 'owner', s.metadata.id)).toBe(sha256Hex(s.plain));
    expect(await downloadSha(base, 'admin', s.metadata.id)).toBe(sha256Hex(s.plain));
    const head = await call(base, 'HEAD', upPath, 'owner');
    expect(head.status).toBe(200);
    expect(head.headers.get('upload-offset')).toBe(String(s.body.length));
    expect(head.headers.get('upload-length')).toBe(String(s.body.length));
    expect(head.headers.get('x-xray-id')).toBe(s.metadata.id);
    expect((await call(base, 'HEAD', upPath, 'other')).status).toBe(404);
  });

  it('repeat rule on both doors: replaying a stored X-ray id tells only its owner anything', async () => {
    const x = await storeRest(base, 'owner', makePng({ seed: 51 }));
    // Others replay under a patient of their own: X's patient in an answer can only come from X.
    const replay = await seal(base, x.plain, { id: x.id, patientId: 'P-REPLAY-1' });
    const tusReplay = (who: Who, length: number, over: Record<string, string> = {}) =>
      call(base, 'POST', '/uploads', who, { headers: creationHeaders(length, { ...replay.metadata, ...over }) });
    // The details the X-ray was stored with (storeRest): an exact replay repeats them.
    const exact = { patientId: x.patientId, capturedAt: String(validMetadata().capturedAt), view: 'PA' };
    const restReplay = (who: Who, plain: Buffer, patientId = 'P-REPLAY-1') =>
      restCreate(base, who, validMetadata({ id: x.id, patientId }), plain);
    const uploadsBefore = await countRows(server, 'tus_uploads');

    const c = (door: string, who: Who, send: () => Promise<Reply>, status: number, code: string, denial?: string) =>
      ({ door, who, send, status, code, denial }) as const;
    const refusals = [
      c('tus, same sha256', 'other', () => tusReplay('other', 1), 409, 'conflict', 'not_owner'),
      c(
        'tus, wrong sha256',
        'other',
        () => tusReplay('other', 1, { sha256: 'c'.repeat(64) }),
        409,
        'conflict',
        'not_owner',
      ),
      c('REST, same bytes', 'other', () => restReplay('other', x.plain), 409, 'conflict', 'not_owner'),
      c('REST, other bytes', 'other', () => restReplay('other', makePng({ seed: 52 })), 409, 'conflict', 'not_owner'),
      // An admin may read it, but a replay is its capturer's alone: the same refusal.
      c('tus, exact', 'admin', () => tusReplay('admin', replay.body.length, exact), 409, 'conflict', 'not_owner'),
      c('REST, exact', 'admin', () => restReplay('admin', x.plain, x.patientId), 409, 'conflict', 'not_owner'),
      ...(['doctor', 'noRole'] as const).flatMap((who) => [
        c('tus', who, () => tusReplay(who, 1), 403, 'forbidden'),
        c('REST', who, () => restReplay(who, x.plain), 403, 'forbidden'),
      ]),
    ];
    const got: string[] = [];
    const want: string[] = [];
    for (const { door, who, send, status, code, denial } of refusals) {
      const r = await send();
      const leaked = leaks(r, [x.sha256, x.patientId]);
      got.push(`${who} ${door}: ${await verdict(server, r, denial !== undefined)} leaks [${leaked.join('; ')}]`);
      want.push(`${who} ${door}: ${expected('POST', status, code, deniedRow(who, denial))} leaks []`);
    }
    expect(got).toEqual(want);
    expect(await countRows(server, 'tus_uploads')).toBe(uploadsBefore);

    // The owner learns the outcome of the earlier upload.
    for (const who of ['owner'] as const) {
      const viaTus = await tusReplay(who, replay.body.length, exact);
      expect(viaTus.status, `${who} tus`).toBe(200);
      expect(viaTus.headers.get('x-xray-id')).toBe(x.id);
      expect(JSON.parse(viaTus.text)).toMatchObject({ id: x.id, sha256: x.sha256 });
      const viaRest = await restReplay(who, x.plain, x.patientId);
      expect(viaRest.status, `${who} REST`).toBe(200);
      expect(JSON.parse(viaRest.text)).toMatchObject({ id: x.id, sha256: x.sha256 });
    }
  });

  it('audit parity: the same refusal through POST /xrays and through tus leaves the same audit row', async () => {
    const x = await storeRest(base, 'owner', makePng({ seed: 61 }));
    const c = (name: string, who: Who, over: Record<string, string>, status: number, code: string, action: string) =>
      ({ name, who, over, status, code, action, outcome: action === 'access.denied' ? 'denied' : 'failed' }) as const;
    const refusals = [
      c('a doctor creates', 'doctor', {}, 403, 'forbidden', 'access.denied'),
      c('no role creates', 'noRole', {}, 403, 'forbidden', 'access.denied'),
      c('invalid metadata', 'owner', { view: 'NOT_A_VIEW' }, 400, 'validation_failed', 'xray.create'),
      c('a wrong sha256', 'owner', { sha256: 'b'.repeat(64) }, 422, 'checksum_mismatch', 'xray.create'),
      c("another paramedic's id", 'other', { id: x.id }, 409, 'conflict', 'access.denied'),
    ];
    const summary = async (r: Reply) => ({
      status: r.status,
      code: codeOf(r),
      audit: (await auditRows(server, r.requestId)).map((a) => ({
        action: a.action,
        outcome: a.outcome,
        error: a.details.error,
        status: a.details.status,
        actor: a.actor_sub,
      })),
    });
    const got: Record<'rest' | 'tus', Record<string, unknown>> = { rest: {}, tus: {} };
    const want: Record<string, unknown> = {};
    for (const [i, { name, who, over, status, code, action, outcome }] of refusals.entries()) {
      const plain = makePng({ seed: 62 + i });
      want[name] = { status, code, audit: [{ action, outcome, error: code, status, actor: SUBS[who] }] };
      got.rest[name] = await summary(await restCreate(base, who, validMetadata({ id: randomUUID(), ...over }), plain));

      const s = await seal(base, plain, over);
      let viaTus = await call(base, 'POST', '/uploads', who, { headers: creationHeaders(s.body.length, s.metadata) });
      if (code === 'checksum_mismatch') {
        // tus learns the bytes' hash only when the last byte arrives: the final PATCH is the refusal.
        expect(viaTus.status, viaTus.text).toBe(201);
        viaTus = await patchUpload(base, who, createdOf(viaTus).path, 0, s.body);
      }
      got.tus[name] = await summary(viaTus);
    }
    expect(got).toEqual({ rest: want, tus: want });
  });

  it('creation-with-upload of a whole file: 201 with the offset at the end, a Location and the X-ray id', async () => {
    const s = await seal(base, makePng({ width: 800, height: 800, seed: 71 }));
    const r = await call(base, 'POST', '/uploads', 'owner', {
      headers: { ...creationHeaders(s.body.length, s.metadata), 'Content-Type': OFFSET_STREAM },
      body: s.body,
    });
    expect(r.status, r.text).toBe(201);
    expect(r.headers.get('upload-offset')).toBe(String(s.body.length));
    expect(createdOf(r).id).toMatch(UUID);
    expect(r.headers.get('x-xray-id')).toBe(s.metadata.id);
    const read = await call(base, 'GET', `/xrays/${s.metadata.id}`, 'owner', { tusResumable: false });
    expect(read.status).toBe(200);
    expect(await downloadSha(base, 'owner', s.metadata.id)).toBe(sha256Hex(s.plain));
  });

  it('every tus refusal is problem+json with a code, and none shows a file path or a stack', async () => {
    const s = await seal(base, makePng({ seed: 81 }));
    const up = await createUpload(base, 'owner', s.body, s.metadata);
    const patch = (over: Record<string, string>, tusResumable = true, urlPath = up.path) =>
      call(base, 'PATCH', urlPath, 'owner', {
        headers: { 'Content-Type': OFFSET_STREAM, 'Upload-Offset': '0', ...over },
        body: s.body.subarray(0, 100),
        tusResumable,
      });
    const post = (headers: Record<string, string>, tusResumable = true) =>
      call(base, 'POST', '/uploads', 'owner', { headers, tusResumable });
    const fresh = () => ({ ...s.metadata, id: randomUUID() });
    const refusals: [string, number, () => Promise<Reply>][] = [
      ['PATCH at a wrong offset', 409, () => patch({ 'Upload-Offset': '100' })],
      ['PATCH with a wrong content type', 415, () => patch({ 'Content-Type': 'application/json' })],
      ['PATCH to an upload that does not exist', 404, () => patch({}, true, `/uploads/${randomUUID()}`)],
      ['PATCH without Tus-Resumable', 412, () => patch({}, false)],
      ['POST without Upload-Length', 400, () => post({ 'Upload-Metadata': encodeMeta(fresh()) })],
      ['POST without Tus-Resumable', 412, () => post(creationHeaders(s.body.length, fresh()), false)],
    ];
    const got: string[] = [];
    const want: string[] = [];
    for (const [name, status, send] of refusals) {
      const r = await send();
      const code = codeOf(r);
      const revealing = ['/tmp/', '.data', 'node_modules'].filter((t) => r.text.includes(t));
      if (/\bat (?:[\w.<>$]+ \(|\/|file:|node:)/.test(r.text)) revealing.push('a stack line');
      got.push(
        `${name}: ${r.status} ${/^[a-z_]+$/.test(code) ? 'problem with a code' : code} [${revealing.join(', ')}]`,
      );
      want.push(`${name}: ${status} problem with a code []`);
    }
    expect(got).toEqual(want);
  });
});

// ---- slow and greedy clients -----------------------------------------------------------------

interface SlowSocket {
  socket: Socket;
  received: Buffer[];
  /** When the last byte was sent. */
  silentSince: number;
  closedAt?: number;
}

/** A PATCH that announces the whole remaining body, sends 10 bytes of it, then nothing more. */
function stalledPatch(base: string, urlPath: string, body: Buffer): Promise<SlowSocket> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const slow: SlowSocket = { socket: connect(Number(port), hostname), received: [], silentSince: 0 };
    const { socket } = slow;
    socket.once('error', reject);
    socket.on('data', (chunk: Buffer) => slow.received.push(chunk));
    socket.on('close', () => (slow.closedAt = Date.now()));
    socket.once('connect', () => {
      const head =
        `PATCH ${urlPath} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nX-Request-Id: ${rid()}\r\n` +
        `Authorization: Bearer ${tokens.owner}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n` +
        `Content-Type: ${OFFSET_STREAM}\r\nContent-Length: ${body.length}\r\n\r\n`;
      socket.write(head);
      socket.write(body.subarray(0, 10), () => {
        slow.silentSince = Date.now();
        socket.removeListener('error', reject);
        socket.on('error', () => undefined); // a reset is one way for the server to close
        resolve(slow);
      });
    });
  });
}

/** The HTTP response read off a raw socket once it is complete: status, headers, problem code. */
function responseOn(slow: SlowSocket): { status: number; headers: Record<string, string>; code?: string } | null {
  const raw = Buffer.concat(slow.received).toString('latin1');
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine = '', ...lines] = raw.slice(0, end).split('\r\n');
  const headers = Object.fromEntries(
    lines.map((l) => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
  );
  const body = raw.slice(end + 4);
  const complete = headers['transfer-encoding']?.includes('chunked')
    ? body.endsWith('0\r\n\r\n')
    : body.length >= Number(headers['content-length'] ?? 0);
  if (!complete) return null;
  const problem = headers['content-type']?.includes('application/problem+json');
  return {
    status: Number(statusLine.split(' ')[1]),
    headers,
    code: problem ? /"code"\s*:\s*"([^"]*)"/.exec(body)?.[1] : undefined,
  };
}

async function until(done: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!done() && Date.now() < end) await sleep(25);
}

/**
 * How many of these uploads' tus locks are held in the server's database. A PATCH takes its
 * writing slot, then its upload's lock, and keeps both while it runs.
 */
async function uploadLocksHeld(server: TestServer, ids: string[]): Promise<number> {
  const { rows } = await server.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database
      WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()
        AND ((l.classid::bigint << 32) | l.objid::bigint) = ANY (
          SELECT hashtextextended('tus:' || u, 0) FROM unnest($1::text[]) AS u)`,
    [ids],
  );
  return rows[0]?.n ?? 0;
}

describe.each<StorageKind>(['fs', 's3'])('slow and greedy clients on %s storage', (kind) => {
  let server: TestServer;
  let base: string;

  beforeEach(async () => {
    server = await startDoor(kind, {
      UPLOAD_MAX_PATCHES_PER_USER: '4',
      UPLOAD_MAX_OPEN_PER_USER: '6',
      UPLOAD_MAX_RESERVED_BYTES_PER_USER: String(200 * MiB),
    });
    base = server.url;
  });
  afterEach(async () => {
    await server?.close();
  });

  it('60 stalled PATCHes: those over the per-user limit get 429, all are cut off when idle, others upload meanwhile, and every upload resumes', async () => {
    const size = dicomDimensionsForSize(10_000_000);
    const uploads: (Awaited<ReturnType<typeof seal>> & Created)[] = [];
    for (let i = 0; i < 4; i++) {
      const s = await seal(base, makeDicom({ ...size, seed: 90 + i }));
      uploads.push({ ...s, ...(await createUpload(base, 'owner', s.body, s.metadata)) });
    }
    const theirs = await seal(base, makeDicom({ ...dicomDimensionsForSize(12_000_000), seed: 99 }));

    // One stalled PATCH per upload takes the owner's four slots; 56 more find none free.
    const held = await Promise.all(uploads.map((u) => stalledPatch(base, u.path, u.body)));
    // The server runs in this process: how late its timers fire on a busy machine (the idle timeout
    // is one of them), this process's event loop says.
    const late = monitorEventLoopDelay({ resolution: 10 });
    late.enable();
    // The four keep sending a byte now and then (well inside the idle timeout) until the 56 have
    // been answered: on a busy machine admitting them and answering 56 can take longer than
    // IDLE_MS, and a held PATCH cut off meanwhile frees its slot for one of the 56.
    const sent = held.map(() => 10);
    const trickle = setInterval(() => {
      held.forEach((h, k) => {
        if (h.closedAt !== undefined) return;
        const at = sent[k]!;
        sent[k] = at + 1;
        h.socket.write(uploads[k]!.body.subarray(at, at + 1), () => (h.silentSince = Date.now()));
      });
    }, 250);
    const sockets = [...held];
    try {
      // Until the server has admitted all four (each holds its slot and its upload's lock): on a
      // busy machine that may take longer than any fixed pause.
      const ids = uploads.map((u) => u.id);
      for (let i = 0; i < 300 && (await uploadLocksHeld(server, ids)) < 4; i++) await sleep(100);
      expect(await uploadLocksHeld(server, ids)).toBe(4);
      const greedy = await Promise.all(
        Array.from({ length: 56 }, (_, i) => uploads[i % 4]!).map((u) => stalledPatch(base, u.path, u.body)),
      );
      sockets.push(...greedy);
      await until(() => greedy.every((g) => responseOn(g) !== null || g.closedAt !== undefined), 30_000);
      const answers = greedy.map((g) => {
        const res = responseOn(g);
        if (!res) return g.closedAt === undefined ? 'no answer' : 'closed without an answer';
        const what = res.code ?? res.headers['content-type'];
        return `${res.status} ${what} Retry-After ${res.headers['retry-after'] ? 'set' : 'missing'}`;
      });
      expect(answers).toEqual(Array(56).fill('429 too_many_requests Retry-After set'));
      // The four admitted PATCHes still wait for their bodies: open, unanswered. From now on they
      // are silent.
      expect(held.map((h) => ({ open: h.closedAt === undefined, answered: h.received.length > 0 }))).toEqual(
        Array(4).fill({ open: true, answered: false }),
      );
      clearInterval(trickle);

      // Meanwhile another paramedic uploads 12 MB to the end.
      const upload = withTimeout(tusFinish(base, 'other', theirs.body, theirs.metadata), 60_000, 'the 12 MB upload');
      const { xrayId } = await upload;
      expect(xrayId).toBe(theirs.metadata.id);
      expect(await downloadSha(base, 'other', theirs.metadata.id)).toBe(sha256Hex(theirs.plain));

      // Every silent socket is closed by the server soon after the idle timeout: within the slack,
      // plus however late this process's timers ran meanwhile (a busy machine), and no later.
      const deadline = Math.max(...sockets.map((k) => k.silentSince)) + IDLE_MS + CLOSE_SLACK_MS;
      await until(() => sockets.every((k) => k.closedAt !== undefined), deadline - Date.now() + 10_000);
      late.disable();
      const lateMs = Math.round(late.max / 1e6);
      const lingering = sockets
        .map((k, i) => ({ i, silentFor: (k.closedAt ?? Date.now()) - k.silentSince, open: k.closedAt === undefined }))
        .filter((k) => k.open || k.silentFor > IDLE_MS + CLOSE_SLACK_MS + lateMs);
      expect(lingering, `timers ran up to ${lateMs} ms late`).toEqual([]);
    } finally {
      clearInterval(trickle);
      late.disable();
      for (const k of sockets) k.socket.destroy();
    }

    // The locks and slots were released: each upload answers HEAD (never more than its PATCH sent)
    // and resumes to the end.
    for (const [k, u] of uploads.entries()) {
      const head = await call(base, 'HEAD', u.path, 'owner');
      expect(head.status).toBe(200);
      expect(Number(head.headers.get('upload-offset'))).toBeLessThanOrEqual(sent[k]!);
      const done = await withTimeout(tusFinish(base, 'owner', u.body, u.metadata, u.url), 60_000, 'resuming');
      expect(done.xrayId).toBe(u.metadata.id);
      expect(await downloadSha(base, 'owner', u.metadata.id)).toBe(sha256Hex(u.plain));
    }
  });

  it('caps: a 7th unfinished upload is 429 and one over the reserved bytes 413, both leaving nothing; a termination frees room', async () => {
    const { metadata } = await seal(base, makePng({ seed: 95 }));
    const post = (length: number) =>
      call(base, 'POST', '/uploads', 'owner', { headers: creationHeaders(length, { ...metadata, id: randomUUID() }) });
    const state = async () => ({
      uploads: await countRows(server, 'tus_uploads'),
      objects: (await storedObjects(server)).sort(),
      multipart: (await multipartKeys(server)).sort(),
    });
    const open: Created[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await post(10 * MiB);
      expect(r.status, r.text).toBe(201);
      open.push(createdOf(r));
    }
    const withSix = await state();
    const seventh = await post(10 * MiB);
    expect(`${seventh.status} ${codeOf(seventh)}`).toBe('429 too_many_requests');
    expect(seventh.headers.get('retry-after')).toMatch(/^(\d+|.+ GMT)$/);
    expect(await state()).toEqual(withSix);

    expect((await call(base, 'DELETE', open[5]!.path, 'owner')).status).toBe(204);
    const withFive = await state();
    // 200 MiB on top of the 50 MiB still reserved is more than the 200 MiB cap.
    const tooBig = await post(200 * MiB);
    expect(`${tooBig.status} ${codeOf(tooBig)}`).toBe('413 payload_too_large');
    expect(await state()).toEqual(withFive);

    const again = await post(10 * MiB);
    expect(again.status, again.text).toBe(201);
  });
});
