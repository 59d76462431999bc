import { createHash, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { request, type IncomingMessage } from 'node:http';
import { type Readable, Writable } from 'node:stream';
import type { Agent } from 'node:http';
import pino from 'pino';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { makeDicom } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectStore } from '../src/storage/index.ts';
import { S3ObjectStore, type S3StorageConfig } from '../src/storage/s3.store.ts';
import { blobOf, headerActor, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';

/**
 * Attack on client-paced S3 reads that let go of their response when unread (ResumableRead),
 * through the real server: downloads paused and resumed at whatever offsets the buffers give, an
 * X-ray deleted while its download is paused. The server's client-paced reads come from a store
 * that lets go after 100 ms unread (50 ms when other reads wait), so every pause is a release.
 */
const DOCTOR = 'doctor-resume; doctor';
const ADMIN = 'admin-resume; admin';
const MEDIC = 'medic-resume; paramedic';
const STUDY = '1.2.826.0.1.3680043.10.19.91';
const SERIES = `${STUDY}.1`;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('attack: S3 downloads paused and resumed (reads let go and reopened)', () => {
  let server: TestServer;
  const logs: {
    level: number;
    msg: string;
    err?: { message?: string; type?: string };
    url?: string;
    code?: string;
    detail?: string;
  }[] = [];
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString('utf8').split('\n')) if (l) logs.push(JSON.parse(l) as (typeof logs)[number]);
        done();
      },
    }),
  );
  /** Every client-paced read the server opened; 'released' on `events` each time one lets go. */
  const reads: Readable[] = [];
  const events = new EventEmitter();
  /** Reads let go and not read since (one download at a time in these tests). */
  const letGo = new Set<Readable>();
  events.on('reopen', () => letGo.clear());
  let fast: S3ObjectStore;
  const uploaded = new Map<string, Buffer>();
  let shared: string;

  const resumable = (store: ObjectStore): ObjectStore => {
    fast = new S3ObjectStore(
      // Two sockets: a socket left behind by any of the cycles below would soon keep a download waiting.
      { ...(store as unknown as { config: S3StorageConfig }).config, downloadConnections: 2 },
      { releaseUnread: { whenPressedMs: 50, idleMs: 100 } },
    );
    // Which reads are let go now (not yet reopened): a pause then has nothing to let go of.
    const hooked = fast as unknown as { reopen: (...a: unknown[]) => Promise<Readable> };
    const reopen = hooked.reopen.bind(fast);
    hooked.reopen = async (...a: unknown[]) => {
      events.emit('reopen');
      const body = await reopen(...a);
      events.emit('reopened');
      return body;
    };
    return Object.assign(Object.create(store) as ObjectStore, {
      async get(...args: Parameters<ObjectStore['get']>) {
        if (!args[2]?.clientPaced) return store.get(...args);
        const s = await fast.get(...args);
        reads.push(s);
        s.on('released', () => {
          letGo.add(s);
          events.emit('released', s);
        });
        return s;
      },
    });
  };

  const upload = async (seed: number, rows: number, frames: number) => {
    const bytes = makeDicom({
      rows,
      columns: rows,
      frames,
      seed,
      studyInstanceUid: STUDY,
      seriesInstanceUid: SERIES,
      sopInstanceUid: `${SERIES}.${seed}`,
    });
    const id = randomUUID();
    const res = await postXray(server.url, validMetadata({ id }), blobOf(bytes), { 'X-Test-Actor': MEDIC });
    expect(res.status, await res.text()).toBe(201);
    uploaded.set(id, bytes);
    return id;
  };

  /**
   * GET path; reads `pauses[i]` bytes more, then stops reading until the server's read let go
   * (`pauses` run out: reads the rest). Resolves with what arrived and how it ended.
   */
  const pausedGet = (
    path: string,
    pauses: number[],
    headers: Record<string, string> = {},
    onPause?: (i: number) => Promise<void>,
  ) =>
    new Promise<{
      status: number;
      body: Buffer;
      complete: boolean;
      releases: number;
      /** Where the client paused (bytes it had), and whether the server's read let go then. */
      log: string[];
      res: IncomingMessage;
    }>((resolve, reject) => {
      const { hostname, port } = new URL(server.url);
      const got: Buffer[] = [];
      let n = 0;
      let releases = 0;
      const log: string[] = [];
      // A connection of its own: one kept alive from an earlier answer has a receive buffer grown
      // large enough to take a whole image, and the server would never see this client pause.
      const req = request(
        { hostname, port, path, agent: false, headers: { 'X-Test-Actor': DOCTOR, ...headers } },
        (res) => {
          const ours = reads.at(-1);
          const todo = [...pauses];
          let target = todo.length ? n + todo.shift()! : Infinity;
          const finish = () =>
            resolve({ status: res.statusCode!, body: Buffer.concat(got), complete: res.complete, releases, log, res });
          res.on('data', (c: Buffer) => {
            got.push(c);
            n += c.length;
            if (n < target) return;
            res.pause();
            const i = pauses.length - todo.length - 1;
            target = todo.length ? n + todo.shift()! : Infinity;
            // The read lets go within 100 ms of being left unread. One let go already and not read
            // since (the client read only what was in flight) has nothing to let go of; one whose
            // response came in whole (all in flight) neither: after a while, read on.
            const fallback = setTimeout(() => go(false), letGo.has(ours!) ? 0 : 700);
            const go = (was: boolean) => {
              clearTimeout(fallback);
              events.off('released', onReleased);
              if (was) releases++;
              log.push(`${n}${was ? ' released' : ''}`);
              void (onPause?.(i) ?? Promise.resolve()).then(() => res.resume(), reject);
            };
            const onReleased = (s: Readable) => {
              if (s === ours) go(true);
            };
            events.on('released', onReleased);
          });
          res.once('end', finish);
          res.once('close', finish);
          res.once('error', () => undefined);
        },
      );
      req.on('error', reject);
      req.end();
    });

  beforeAll(async () => {
    server = await startTestServer(
      's3',
      // The stall cut at its shortest: longer than any pause below (≤ 0.8 s), so only a client that
      // never reads again is cut.
      { S3_PART_SIZE: String(5 * 1024 * 1024), RESPONSE_STALL_TIMEOUT_MS: '1500' },
      { authenticate: headerActor, decorateStore: resumable, log },
    );
    // 6 frames of 1024 × 1024 16-bit: 12 MiB, three 5 MiB parts: an ETag "…-3".
    shared = await upload(911, 1024, 6);
  }, 60_000);
  afterAll(async () => server?.close());

  /** The client-paced pool's agent (what the store built for the S3 endpoint, http here). */
  const agent = () =>
    (fast as unknown as { clientPacedReads: { config: { requestHandler: { config?: { httpAgent: Agent } } } } })
      .clientPacedReads.config.requestHandler.config!.httpAgent;
  const count = (o: NodeJS.ReadOnlyDict<unknown[]>) => Object.values(o).reduce((n, l) => n + (l?.length ?? 0), 0);

  it('a whole download paused many times at odd offsets: the stored bytes, sha256-equal (multipart object)', async () => {
    const r = await pausedGet(`/xrays/${shared}/download`, [1, 65_537, 1_048_577, 300_001, 2_000_003, 17]);
    expect(r.status).toBe(200);
    expect(r.complete).toBe(true);
    expect(r.releases).toBeGreaterThanOrEqual(2);
    expect(sha256(r.body)).toBe(sha256(uploaded.get(shared)!));
  }, 20_000);

  it('a Range across segment boundaries, paused mid-way: exactly those bytes', async () => {
    const id = shared;
    const plain = uploaded.get(id)!;
    const [start, end] = [1_048_570, 11_534_339];
    const r = await pausedGet(`/xrays/${id}/download`, [3, 1_048_575, 999_999, 1], { Range: `bytes=${start}-${end}` });
    expect(r.status).toBe(206);
    expect(r.complete).toBe(true);
    expect(r.releases).toBeGreaterThanOrEqual(1);
    expect(sha256(r.body)).toBe(sha256(plain.subarray(start, end + 1)));
    for (const [a, b] of [
      [plain.length - 1, plain.length - 1],
      [0, 0],
      [1_048_575, 1_048_576],
    ] as const) {
      const one = await pausedGet(`/xrays/${id}/download`, [], { Range: `bytes=${a}-${b}` });
      expect([one.status, one.body.equals(plain.subarray(a, b + 1))]).toEqual([206, true]);
    }
  }, 20_000);

  it('WADO-RS retrieve and a frame, paused: the instance and the frame bytes', async () => {
    const plain = uploaded.get(shared)!;
    const instance = `/dicom-web/studies/${STUDY}/series/${SERIES}/instances/${SERIES}.911`;
    const whole = await fetch(`${server.url}${instance}`, { headers: { 'X-Test-Actor': DOCTOR } });
    const wholeBody = Buffer.from(await whole.arrayBuffer());
    const r = await pausedGet(instance, [70_000, 1_500_000, 5]);
    // (Each multipart answer has a boundary of its own: compared by what it carries.)
    expect([r.status, r.complete, r.body.length]).toEqual([200, true, wholeBody.length]);
    expect([wholeBody.includes(plain), r.body.includes(plain)]).toEqual([true, true]);
    const frame = `${instance}/frames/3`;
    const f0 = Buffer.from(
      await (await fetch(`${server.url}${frame}`, { headers: { 'X-Test-Actor': DOCTOR } })).arrayBuffer(),
    );
    const f = await pausedGet(frame, [1, 200_000]);
    // Frame 3 of six 2 MiB frames (the pixel data ends the file), in the part.
    const third = plain.subarray(plain.length - 4 * 2 * 1024 * 1024, plain.length - 3 * 2 * 1024 * 1024);
    expect([f.status, f.complete, f.body.length]).toEqual([200, true, f0.length]);
    expect([f0.includes(third), f.body.includes(third)]).toEqual([true, true]);
  }, 20_000);

  it('clients gone while paused, while reopening, during the reopen’s first bytes: no socket left behind, nothing unhandled', async () => {
    const id = shared;
    const plain = uploaded.get(id)!;
    const path = `/xrays/${id}/download`;
    const { hostname, port } = new URL(server.url);
    for (const when of ['paused', 'reopen', 'reopened', 'paused', 'reopen', 'reopened'] as const) {
      await new Promise<void>((resolve, reject) => {
        const req = request({ hostname, port, path, agent: false, headers: { 'X-Test-Actor': DOCTOR } }, (res) => {
          const ours = reads.at(-1);
          let n = 0;
          const onData = (c: Buffer) => {
            n += c.length;
            if (n < 50_000) return;
            res.off('data', onData);
            res.pause();
            const onReleased = (s: Readable) => {
              if (s !== ours) return;
              events.off('released', onReleased);
              if (when === 'paused') return gone();
              events.once(when, gone);
              res.resume();
            };
            events.on('released', onReleased);
          };
          const gone = () => {
            req.destroy();
            // The server's answer is done with (its read destroyed) once it sees the client gone.
            if (ours!.destroyed) resolve();
            else ours!.once('close', () => resolve());
          };
          res.on('data', onData);
          res.on('error', () => undefined);
        });
        req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
        req.end();
      });
    }
    const t0 = Date.now();
    const again = await fetch(`${server.url}${path}`, {
      headers: { 'X-Test-Actor': DOCTOR },
      signal: AbortSignal.timeout(10_000),
    });
    expect(sha256(Buffer.from(await again.arrayBuffer()))).toBe(sha256(plain));
    console.log(
      `after the cycles: whole in ${Date.now() - t0} ms; agent sockets ${count(agent().sockets)}, free ${count(agent().freeSockets)}, waiting ${count(agent().requests)}`,
    );
    expect(count(agent().sockets)).toBe(0); // (kept-alive sockets are in freeSockets)
    expect(count(agent().requests)).toBe(0);
  }, 30_000);

  it('a client that never reads again after its read was let go is still cut as stalled; its read is closed', async () => {
    const { hostname, port } = new URL(server.url);
    logs.length = 0;
    const path = `/xrays/${shared}/download`;
    // (A paused client answer reports nothing until read: the server's side is watched.)
    const { res, read } = await new Promise<{ res: IncomingMessage; read: Readable }>((resolve, reject) => {
      const req = request({ hostname, port, path, agent: false, headers: { 'X-Test-Actor': DOCTOR } }, (res) => {
        const ours = reads.at(-1)!;
        res.once('data', () => res.pause());
        res.on('error', () => undefined);
        ours.once('close', () => resolve({ res, read: ours }));
      });
      req.on('error', () => undefined);
      req.end();
      setTimeout(() => reject(new Error('not cut within 6 s')), 6_000).unref();
    });
    expect(letGo.has(read)).toBe(true); // let go long before
    expect(res.complete).toBe(false);
    expect(logs.filter((l) => l.url === path).map((l) => l.msg)).toContain(
      'response cut off: the client stopped reading',
    );
    res.destroy();
    expect(count(agent().sockets)).toBe(0);
  }, 10_000);

  it('the store (here Swift s3api) answers a reopen as asked: Range honoured, If-Match of a multipart ETag honoured, 412 otherwise', async () => {
    const { rows } = await server.pool.query<{ object_key: string }>('SELECT object_key FROM xrays WHERE id = $1', [
      shared,
    ]);
    const Key = rows[0]!.object_key;
    const Bucket = server.env.S3_BUCKET;
    const head = await fast.client.send(new GetObjectCommand({ Bucket, Key, Range: 'bytes=0-0' }));
    await head.Body?.transformToByteArray();
    expect(head.ETag).toMatch(/^"[0-9a-f]{32}-3"$/); // three parts
    const last = await fast.client.send(
      new GetObjectCommand({ Bucket, Key, Range: 'bytes=12583880-12583880', IfMatch: head.ETag }),
    );
    expect([last.ETag, last.ContentRange, (await last.Body!.transformToByteArray()).length]).toEqual([
      head.ETag,
      `bytes 12583880-12583880/12583881`,
      1,
    ]);
    const other = await fast.client
      .send(new GetObjectCommand({ Bucket, Key, Range: 'bytes=5-9', IfMatch: '"0123456789abcdef0123456789abcdef-3"' }))
      .then(
        () => 200,
        (err: { $metadata?: { httpStatusCode?: number } }) => err.$metadata?.httpStatusCode,
      );
    expect(other).toBe(412);
  });

  it('the X-ray deleted while its download is paused: the answer is cut (never complete), what came is the image’s start; logged', async () => {
    // Last: it deletes the shared X-ray.
    const id = shared;
    const plain = uploaded.get(id)!;
    logs.length = 0;
    const r = await pausedGet(`/xrays/${id}/download`, [100_000], {}, async () => {
      const del = await fetch(`${server.url}/xrays/${id}`, { method: 'DELETE', headers: { 'X-Test-Actor': ADMIN } });
      expect(del.status).toBe(204);
    });
    expect([r.status, r.releases]).toEqual([200, 1]);
    expect(r.complete).toBe(false);
    expect(r.body.length).toBeLessThan(plain.length);
    expect(r.body.equals(plain.subarray(0, r.body.length))).toBe(true);
    // For the operator: one line, not an error (two users' race, not a fault): the download refused
    // as not found, its X-ray deleted while it was being read.
    const failed = logs.filter((l) => l.url === `/xrays/${id}/download`);
    expect(failed.map((l) => [l.level, l.msg, l.code, l.detail])).toEqual([
      [30, 'request refused', 'not_found', 'The X-ray was deleted while it was being read.'],
    ]);
    // The trail: the download as it was allowed and begun (recorded before its first byte, all
    // bytes counted), then the delete. That it was cut is only in the log (as for any answer cut mid-way).
    const { rows } = await server.pool.query<{ action: string; outcome: string; bytes: number | null }>(
      `SELECT action, outcome, (details->>'bytes')::int AS bytes FROM audit_events
        WHERE xray_id = $1 ORDER BY id DESC LIMIT 2`,
      [id],
    );
    rows.reverse();
    expect(rows).toEqual([
      { action: 'xray.download', outcome: 'success', bytes: plain.length },
      { action: 'xray.delete', outcome: 'success', bytes: null },
    ]);
  }, 20_000);
});
