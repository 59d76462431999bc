// Attack on finalize's recovery record written beside the DICOMweb index (commit e993e41): record
// PUT failures (before and after the bytes land), slow records with fast index failures and the
// reverse, both failing, the tus door, the same id twice at once, ten uploads at once, a client
// that goes away mid-finalize, and `xray-admin check` / `recover` afterwards, on disk and on S3.
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeDicom, makePng, sha256Hex } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCommand } from '../src/cli/check.command.ts';
import { recoverCommand } from '../src/cli/recover.command.ts';
import type { ObjectStore } from '../src/storage/index.ts';
import { readRecord, recordKeyOf } from '../src/xrays/xray-record.ts';
import { xrayRepository } from '../src/xrays/xray.repository.ts';
import {
  asOwner,
  blobOf,
  countRows,
  headerActor,
  postXray,
  startTestServer,
  storedObjects,
  validMetadata,
  type StorageKind,
  type TestServer,
} from './harness.ts';
import { runCommand as run } from './command.support.ts';
import { sealed, startTus } from './tus-client.ts';

type Mode = 'ok' | 'fail' | 'land-then-fail' | 'slow' | 'slow-fail';

/** What the store does to recovery-record PUTs (`*.record`) while set. */
const fault = { mode: 'ok' as Mode, hits: 0, delayMs: 500, kind: 'fs' as StorageKind };

function recordError(): Error {
  return fault.kind === 'fs'
    ? Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO', errno: -5, syscall: 'fsync' })
    : Object.assign(new Error('We encountered an internal error. Please try again.'), {
        name: 'InternalError',
        $fault: 'server',
        $metadata: { httpStatusCode: 500 },
      });
}

const decorateStore = (store: ObjectStore): ObjectStore => {
  const put = async (key: string, body: Readable, signal?: AbortSignal) => {
    const mode = fault.mode;
    if (!key.endsWith('.record') || mode === 'ok') return store.put(key, body, signal);
    fault.hits++;
    if (mode === 'fail') throw recordError();
    if (mode === 'slow' || mode === 'slow-fail') await sleep(fault.delayMs);
    if (mode === 'slow-fail') throw recordError();
    const done = await store.put(key, body, signal);
    if (mode === 'land-then-fail') throw recordError(); // stored, but the answer was lost
    return done;
  };
  return new Proxy(store, {
    get(target, p) {
      if (p === 'put') return put;
      const v: unknown = Reflect.get(target, p, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
};

const PARAMEDIC = 'para-attack-record; paramedic';
const DOCTOR = 'doc-attack-record; doctor';

/** Downloads X-ray `id` as a doctor (expecting 200); the sha256 of the bytes served. */
async function downloadSha(baseUrl: string, id: string): Promise<string> {
  const res = await fetch(`${baseUrl}/xrays/${id}/download`, { headers: { 'X-Test-Actor': DOCTOR } });
  expect(res.status).toBe(200);
  return sha256Hex(Buffer.from(await res.arrayBuffer()));
}

describe.each(['fs', 's3'] as const)('finalize record attack (%s)', (kind) => {
  let server: TestServer;

  beforeAll(async () => {
    fault.kind = kind;
    server = await startTestServer(
      kind,
      { TRUST_PROXY: 'loopback' },
      {
        authenticate: headerActor,
        decorateStore,
      },
    );
  });
  afterAll(async () => {
    fault.mode = 'ok';
    await server?.close();
  });

  const dicomRowsOf = async (id: string) =>
    (await server.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM dicom_instances WHERE xray_id = $1', [id]))
      .rows[0]!.n;
  /** The request's audit events, polled for up to 10 s (written as the request ends). */
  const auditOf = async (requestId: string) => {
    for (let i = 0; i < 200; i++) {
      const { rows } = await server.pool.query<{ action: string; outcome: string; xray_id: string | null }>(
        'SELECT action, outcome, xray_id::text AS xray_id FROM audit_events WHERE request_id = $1',
        [requestId],
      );
      if (rows.length) return rows;
      await sleep(50);
    }
    return [];
  };
  const check = (...args: string[]) => run(checkCommand, args, { ...server.env });

  /** POST /xrays with `mode` set on record PUTs; returns the response, the id and the request id. */
  async function post(mode: Mode, bytes: Uint8Array, over: Record<string, unknown> = {}) {
    const id = randomUUID();
    const requestId = randomUUID();
    fault.mode = mode;
    fault.hits = 0;
    try {
      const res = await postXray(server.url, validMetadata({ id, patientId: 'P-ATT-REC', ...over }), blobOf(bytes), {
        'X-Test-Actor': PARAMEDIC,
        'X-Request-Id': requestId,
      });
      return { res, id, requestId, hits: fault.hits };
    } finally {
      fault.mode = 'ok';
    }
  }

  async function withIndexTrigger<T>(body: string, fn: () => Promise<T>): Promise<T> {
    const name = `test_att_idx_${randomUUID().replaceAll('-', '')}`;
    await asOwner(
      server,
      `CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ${body} END $$;
       CREATE TRIGGER ${name} BEFORE INSERT ON dicom_instances FOR EACH ROW EXECUTE FUNCTION ${name}();`,
    );
    try {
      return await fn();
    } finally {
      await asOwner(server, `DROP TRIGGER ${name} ON dicom_instances; DROP FUNCTION ${name}();`);
    }
  }

  /**
   * Nothing of X-ray `id` stays: no row, no index row, no object, no record (after late writes, and
   * once a clean-up still under way on a busy machine has had up to 10 s more).
   */
  async function nothingOf(id: string, before: string[]) {
    await sleep(fault.delayMs + 200);
    const left = async () =>
      [
        await xrayRepository.findById(server.pool, id),
        await dicomRowsOf(id),
        (await storedObjects(server)).filter((k) => k.includes(id)),
      ] as const;
    for (let i = 0; i < 100; i++) {
      const [row, dicomRows, objects] = await left();
      if (row === null && dicomRows === 0 && objects.length === 0) break;
      await sleep(100);
    }
    expect(await xrayRepository.findById(server.pool, id)).toBeNull();
    expect(await dicomRowsOf(id)).toBe(0);
    expect((await storedObjects(server)).filter((k) => k.includes(id))).toEqual([]);
    expect(await storedObjects(server)).toEqual(before);
  }

  const dicom = (seed = 0) => makeDicom({ rows: 64 + seed, columns: 64 });

  it.each(['fail', 'land-then-fail', 'slow-fail'] as const)(
    'a record PUT that fails (%s) refuses the upload; nothing stays; the failure is audited; check is clean',
    async (mode) => {
      const before = await storedObjects(server);
      const { res, id, requestId, hits } = await post(mode, dicom());
      expect(hits).toBe(1);
      expect(res.status, await res.clone().text()).toBeGreaterThanOrEqual(500);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      await nothingOf(id, before);
      expect(await auditOf(requestId)).toEqual([{ action: 'xray.create', outcome: 'failed', xray_id: id }]);
      expect((await check()).code).toBe(0);
    },
  );

  it('a slow record and a fast index failure: nothing stays once the record lands', async () => {
    const before = await storedObjects(server);
    const { res, id, requestId, hits } = await withIndexTrigger(`RAISE EXCEPTION 'index refused by test';`, () =>
      post('slow', dicom(1)),
    );
    expect(hits).toBe(1);
    expect(res.status).toBeGreaterThanOrEqual(500);
    await nothingOf(id, before);
    expect((await auditOf(requestId)).map((e) => e.outcome)).toEqual(['failed']);
  });

  it('a fast record failure and a slow index: nothing stays, the index row neither', async () => {
    const before = await storedObjects(server);
    const t0 = Date.now();
    const { res, id, requestId } = await withIndexTrigger(`PERFORM pg_sleep(0.6); RETURN NEW;`, () =>
      post('fail', dicom(2)),
    );
    // Both settled before the failure is thrown: the answer waited for the slow index.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(550);
    expect(res.status).toBeGreaterThanOrEqual(500);
    await nothingOf(id, before);
    expect((await auditOf(requestId)).map((e) => e.outcome)).toEqual(['failed']);
  });

  it('both fail (record and index): one answer, nothing stays, and the server keeps serving', async () => {
    const before = await storedObjects(server);
    const { res, id, requestId } = await withIndexTrigger(`RAISE EXCEPTION 'index refused by test';`, () =>
      post('land-then-fail', dicom(3)),
    );
    expect(res.status).toBeGreaterThanOrEqual(500);
    await nothingOf(id, before);
    expect((await auditOf(requestId)).map((e) => e.outcome)).toEqual(['failed']);
    // The pool is intact (the transaction client was rolled back and released, not leaked).
    for (let i = 0; i < 3; i++) {
      const ok = await post('ok', dicom(10 + i));
      expect(ok.res.status).toBe(201);
    }
    // Background work (the outbox relay, the checkpointer) may hold a connection for a moment; a
    // leaked one never comes back.
    await expect.poll(() => server.pool.totalCount - server.pool.idleCount, { timeout: 5_000 }).toBe(0);
  });

  it('the tus door: a record that fails leaves no X-ray, no object, no record, no unfinished upload', async () => {
    const before = await storedObjects(server);
    const png = Buffer.from(makePng({ width: 24, height: 24, seed: 901 }));
    const { body, metadata } = await sealed(server.url, png, { patientId: 'P-ATT-REC' });
    fault.mode = 'fail';
    fault.hits = 0;
    let failed: unknown;
    try {
      await startTus({
        endpoint: `${server.url}/uploads`,
        file: body,
        metadata,
        retryDelays: null,
        headers: { 'X-Test-Actor': PARAMEDIC },
      }).done;
    } catch (err) {
      failed = err;
    } finally {
      fault.mode = 'ok';
    }
    expect(failed).toBeInstanceOf(Error);
    expect(fault.hits).toBe(1);
    await nothingOf(metadata.id, before);
    const { rows } = await server.pool.query('SELECT id FROM tus_uploads WHERE xray_id = $1', [metadata.id]);
    expect(rows).toEqual([]);
    expect((await check()).code).toBe(0);
  });

  it('the same id through POST and tus at once, records slow: one X-ray, its object and record, check clean', async () => {
    const png = Buffer.from(makePng({ width: 24, height: 24, seed: 902 }));
    const { body, metadata } = await sealed(server.url, png, { patientId: 'P-ATT-REC' });
    const id = metadata.id;
    fault.mode = 'slow';
    let answers: [Response, unknown];
    try {
      answers = await Promise.all([
        postXray(server.url, validMetadata({ id, patientId: 'P-ATT-REC', sha256: sha256Hex(png) }), blobOf(png), {
          'X-Test-Actor': PARAMEDIC,
        }),
        startTus({
          endpoint: `${server.url}/uploads`,
          file: body,
          metadata,
          retryDelays: null,
          headers: { 'X-Test-Actor': PARAMEDIC },
        }).done.catch((e: unknown) => e),
      ]);
    } finally {
      fault.mode = 'ok';
    }
    await sleep(fault.delayMs + 200);
    expect([200, 201]).toContain(answers[0].status);
    const row = await xrayRepository.findById(server.pool, id);
    expect(row).not.toBeNull();
    const left = (await storedObjects(server)).filter((k) => k.includes(id));
    expect(left.sort()).toEqual([row!.objectKey, recordKeyOf(row!.objectKey)].sort());
    const record = await readRecord(server.store, server.keys, row!.objectKey);
    expect(record?.id).toBe(id);
    expect(await downloadSha(server.url, id)).toBe(sha256Hex(png));
    expect((await check('--all')).code).toBe(0);
  });

  it('ten uploads at once with slow records: all stored with records; lost rows are recovered from them', async () => {
    const before = await countRows(server);
    fault.mode = 'slow';
    let results: Response[];
    const ids = Array.from({ length: 10 }, () => randomUUID());
    const pngs = ids.map((_, i) => Buffer.from(makePng({ width: 16, height: 16, seed: 1000 + i })));
    try {
      results = await Promise.all(
        ids.map((id, i) =>
          postXray(server.url, validMetadata({ id, patientId: 'P-ATT-REC-10' }), blobOf(pngs[i]!), {
            'X-Test-Actor': PARAMEDIC,
          }),
        ),
      );
    } finally {
      fault.mode = 'ok';
    }
    expect(results.map((r) => r.status)).toEqual(ids.map(() => 201));
    expect(await countRows(server)).toBe(before + 10);
    for (const id of ids) {
      const row = (await xrayRepository.findById(server.pool, id))!;
      expect((await readRecord(server.store, server.keys, row.objectKey))?.sha256).toBe(row.sha256);
    }
    expect((await check('--all')).code).toBe(0);
    // A restore from a backup older than these ten: recover gives every row back from its record.
    const list = ids.map((i) => `'${i}'`).join(',');
    await asOwner(
      server,
      `SET session_replication_role = replica;
       DELETE FROM xrays WHERE id IN (${list}); DELETE FROM xray_changes WHERE xray_id IN (${list});`,
    );
    expect((await check()).code).toBe(1);
    const recovered = await run(recoverCommand, [], { ...server.env });
    expect(recovered.code, recovered.stderr).toBe(0);
    for (const id of ids) expect(recovered.stdout).toContain(`recovered: X-ray ${id}`);
    for (const [i, id] of ids.entries()) expect(await downloadSha(server.url, id)).toBe(sha256Hex(pngs[i]!));
    expect((await check('--all')).code).toBe(0);
  });

  it('a client that goes away mid-finalize: either a whole X-ray (record opens) or nothing; audited once', async () => {
    const id = randomUUID();
    const requestId = randomUUID();
    const png = Buffer.from(makePng({ width: 16, height: 16, seed: 1100 }));
    const before = await storedObjects(server);
    const ac = new AbortController();
    fault.mode = 'slow';
    fault.hits = 0;
    const form = new FormData();
    form.append('metadata', JSON.stringify(validMetadata({ id, patientId: 'P-ATT-REC' })));
    form.append('file', blobOf(png), 'image.bin');
    const sent = fetch(`${server.url}/xrays`, {
      method: 'POST',
      body: form,
      headers: { 'X-Test-Actor': PARAMEDIC, 'X-Request-Id': requestId },
      signal: ac.signal,
    }).catch((e: unknown) => e);
    // Wait until finalize is writing the record (up to 30 s on a busy machine), then hang up.
    for (let i = 0; i < 3000 && fault.hits === 0; i++) await sleep(10);
    expect(fault.hits).toBe(1);
    ac.abort();
    await sent;
    await sleep(fault.delayMs + 500);
    // The request has ended on the server (its audit event is written then): only now is the row
    // there or not for good.
    const events = await auditOf(requestId);
    fault.mode = 'ok';
    const row = await xrayRepository.findById(server.pool, id);
    expect(events).toHaveLength(1);
    if (row) {
      expect(events[0]).toMatchObject({ action: 'xray.create', outcome: 'success', xray_id: id });
      expect((await readRecord(server.store, server.keys, row.objectKey))?.id).toBe(id);
      expect(await downloadSha(server.url, id)).toBe(sha256Hex(png));
    } else {
      await nothingOf(id, before);
      expect(events[0]).toMatchObject({ action: 'xray.create', outcome: 'failed' });
    }
    expect((await check('--all')).code).toBe(0);
  });
});

describe('finalize record attack: which failure the client is told when both fail', () => {
  let server: TestServer;
  beforeAll(async () => {
    fault.kind = 'fs';
    server = await startTestServer(
      'fs',
      { DATABASE_STATEMENT_TIMEOUT_MS: '800' },
      { authenticate: headerActor, decorateStore },
    );
  });
  afterAll(async () => {
    fault.mode = 'ok';
    await server?.close();
  });

  async function postWithSlowIndex(mode: Mode) {
    const name = `test_att_slow_${randomUUID().replaceAll('-', '')}`;
    await asOwner(
      server,
      `CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(3); RETURN NEW; END $$;
       CREATE TRIGGER ${name} BEFORE INSERT ON dicom_instances FOR EACH ROW EXECUTE FUNCTION ${name}();`,
    );
    const id = randomUUID();
    fault.mode = mode;
    try {
      const res = await postXray(
        server.url,
        validMetadata({ id, patientId: 'P-ATT-REC-TO' }),
        blobOf(makeDicom({ rows: 32, columns: 32 })),
        { 'X-Test-Actor': PARAMEDIC },
      );
      return { status: res.status, body: (await res.json()) as { code?: string }, id };
    } finally {
      fault.mode = 'ok';
      await asOwner(server, `DROP TRIGGER ${name} ON dicom_instances; DROP FUNCTION ${name}();`);
    }
  }

  it('a database too slow to index (statement_timeout) is answered the same whether or not the record also failed', async () => {
    const indexOnly = await postWithSlowIndex('ok');
    const both = await postWithSlowIndex('fail');
    expect(await xrayRepository.findById(server.pool, indexOnly.id)).toBeNull();
    expect(await xrayRepository.findById(server.pool, both.id)).toBeNull();
    expect(indexOnly.status).toBe(503);
    // The database was the cause in both: a client told 500 instead of 503 does not know to retry later.
    expect({ status: both.status, code: both.body.code }).toEqual({
      status: indexOnly.status,
      code: indexOnly.body.code,
    });
  });
});
