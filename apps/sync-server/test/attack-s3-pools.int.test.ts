import { createHash, randomUUID } from 'node:crypto';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { makeDicom } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectStore } from '../src/storage/index.ts';
import { blobOf, headerActor, startTestServer, validMetadata, type TestServer } from './harness.ts';

/**
 * Attack: doctors who open downloads and never read them, on S3. Each such answer would hold an
 * S3 socket for as long as its client leaves it unread (backpressure, rightly: nothing is
 * buffered), until it is cut as stalled after RESPONSE_STALL_TIMEOUT_MS (60 s, kept here: nothing
 * is cut during this test). The SDK allows 50 sockets per client: when downloads shared the
 * store's one client, 50 unread downloads made every other store operation wait, and an
 * ambulance's upload hung. Downloads now read through a pool of their own, so the upload is
 * stored at once; and a read left unread lets go of its socket when other reads wait for one
 * (after 1 s unread: RELEASE_UNREAD_WHEN_PRESSED_MS), so another doctor's download is not kept
 * waiting either, and the unread ones go on where they stopped once read.
 * (One user may hold DOWNLOAD_MAX_STREAMS_PER_USER such answers: raised here so that a few
 * doctors can stand in for many; the per-user limit is proven in download-slots.int.test.ts.)
 */
const READERS = 55;
/** The SDK's sockets per client: at least this many downloads are streaming (the rest wait for one). */
const SDK_SOCKETS = 50;

const DOCTORS = ['doctor-pools-a; doctor', 'doctor-pools-b; doctor', 'doctor-pools-c; doctor'];
const MEDIC = 'medic-pools; paramedic';
const READING_DOCTOR = 'doctor-pools-reading; doctor';
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const STUDY = '1.2.826.0.1.3680043.10.19.83';
const SERIES = `${STUDY}.1`;
const BIG_SOP = `${SERIES}.831`;

/** The store, noting of each read whether it was asked as client-paced (its own S3 pool). */
const notingReads =
  (paced: boolean[]) =>
  (store: ObjectStore): ObjectStore =>
    Object.assign(Object.create(store) as ObjectStore, {
      get(...args: Parameters<ObjectStore['get']>) {
        paced.push(args[2]?.clientPaced === true);
        return store.get(...args);
      },
    });

describe('attack: unread downloads on S3 against an ambulance’s upload', () => {
  let server: TestServer;
  const held: ClientRequest[] = [];
  const answers: IncomingMessage[] = [];
  let bigId: string;
  let bigSha: string;
  const paced: boolean[] = [];

  const upload = (seed: number, rows: number, frames: number, signal?: AbortSignal) => {
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
    const form = new FormData();
    form.append('metadata', JSON.stringify(validMetadata({ id })));
    form.append('file', blobOf(bytes), 'image.dcm');
    const headers = { 'X-Test-Actor': MEDIC };
    return {
      id,
      sha256: sha256(bytes),
      res: fetch(`${server.url}/xrays`, { method: 'POST', body: form, headers, ...(signal ? { signal } : {}) }),
    };
  };

  beforeAll(async () => {
    server = await startTestServer(
      's3',
      { DOWNLOAD_MAX_STREAMS_PER_USER: '64' },
      { authenticate: headerActor, decorateStore: notingReads(paced) },
    );
    // 8 frames of 1024 × 1024 16-bit pixels: 16 MiB, far more than an unread connection buffers.
    const big = upload(831, 1024, 8);
    const res = await big.res;
    expect(res.status, await res.text()).toBe(201);
    bigId = big.id;
    bigSha = big.sha256;
  }, 60_000);
  afterAll(async () => {
    for (const r of held) r.destroy();
    await server?.close();
  });

  it('each answer streaming stored bytes reads them as client-paced; what the server reads for itself is not', async () => {
    const instance = `/dicom-web/studies/${STUDY}/series/${SERIES}/instances/${BIG_SOP}`;
    for (const path of [`/xrays/${bigId}/download`, instance, `${instance}/frames/8`]) {
      paced.length = 0;
      const res = await fetch(`${server.url}${path}`, { headers: { 'X-Test-Actor': DOCTORS[0]! } });
      expect(res.status, path).toBe(200);
      await res.arrayBuffer();
      // The stored header (and for frames the DICOM header) at the server's pace; the bytes sent, the client's.
      expect(paced, path).toContain(true);
      expect(paced, path).toContain(false);
    }
  });

  it(`${READERS} unread downloads; a paramedic's POST /xrays is still stored at once`, async () => {
    const { hostname, port } = new URL(server.url);
    const opened = Date.now();
    // Not awaited one by one: past the SDK's 50 sockets a download waits for one to be freed.
    await new Promise<void>((resolve, reject) => {
      for (let i = 0; i < READERS; i++) {
        const req = request(
          {
            hostname,
            port,
            path: `/xrays/${bigId}/download`,
            headers: { 'X-Test-Actor': DOCTORS[i % DOCTORS.length] },
          },
          (res) => {
            // Never read: the first bytes are in, the rest waits on this client (and on its S3 socket).
            res.pause();
            if (res.statusCode !== 200) reject(new Error(`download answered ${res.statusCode}`));
            answers.push(res);
            if (answers.length === SDK_SOCKETS) resolve();
          },
        );
        req.on('error', reject);
        req.end();
        held.push(req);
      }
    });

    const t0 = Date.now();
    const post = upload(832, 64, 1, AbortSignal.timeout(20_000));
    const status = await post.res.then(
      async (r) => `${r.status} ${await r.text()}`,
      (err: unknown) => `no answer: ${String(err)}`,
    );
    console.log(
      `POST /xrays with ${answers.length} unread downloads (streaming after ${t0 - opened} ms): ${status.slice(0, 40)} after ${Date.now() - t0} ms`,
    );
    expect(status).toMatch(/^201 /);
    // The downloads were still held, unread, the whole time: none was cut or delivered.
    expect(answers.filter((a) => a.complete || a.destroyed)).toHaveLength(0);
    expect(answers.length).toBeGreaterThanOrEqual(SDK_SOCKETS);
  }, 45_000);

  it("with those downloads still unread, a doctor's download is served whole at once; an unread one, read now, is delivered whole", async () => {
    const t0 = Date.now();
    const res = await fetch(`${server.url}/xrays/${bigId}/download`, {
      headers: { 'X-Test-Actor': READING_DOCTOR },
      // Far below the stall cut (60 s) that alone would free a socket if unread reads kept theirs.
      signal: AbortSignal.timeout(15_000),
    });
    expect(res.status).toBe(200);
    expect(sha256(new Uint8Array(await res.arrayBuffer()))).toBe(bigSha);
    console.log(`GET /xrays/{id}/download with ${answers.length} unread downloads: whole after ${Date.now() - t0} ms`);
    expect(answers.filter((a) => a.complete || a.destroyed)).toHaveLength(0);
    // Its S3 read was let go long ago: reading it reopens the object where it stopped.
    const hash = createHash('sha256');
    for await (const chunk of answers[0]!) hash.update(chunk as Buffer);
    expect(hash.digest('hex')).toBe(bigSha);
  }, 30_000);

  it('the operator sees it: reads let go and reopened, and the pool of S3 connections in use and waited for', async () => {
    const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    expect(value('xray_s3_download_reads_total{event="released"}')).toBeGreaterThanOrEqual(1);
    expect(value('xray_s3_download_reads_total{event="reopened"}')).toBeGreaterThanOrEqual(1);
    // Shown at 0 from the start (no object changed here): a first one shows in increase().
    expect(value('xray_s3_download_reads_total{event="changed"}')).toBe(0);
    const inUse = value('xray_s3_download_connections{state="in_use"}');
    expect(inUse).toBeGreaterThanOrEqual(0);
    expect(inUse).toBeLessThanOrEqual(SDK_SOCKETS);
    expect(value('xray_s3_download_connections{state="waiting"}')).toBeGreaterThanOrEqual(0);
  });
});
