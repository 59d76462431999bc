import { createHash, randomUUID } from 'node:crypto';
import { request, type ClientRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeDicom } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobOf, headerActor, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';

/**
 * Attack: clients that open WADO-RS Retrieve Frames responses and never read them. Each such
 * response holds a read of the object store open (backpressure, rightly: nothing is buffered).
 * On S3 each holds one of the SDK's sockets (50 by default): before RESPONSE_STALL_TIMEOUT_MS
 * (http/stalled-responses.ts), 55 stalled readers from one user held them for ever and every
 * other store read waited. Now each is cut after the timeout (3 s here) and the store's
 * connections come back; a reader that pauses for less, again and again, is not cut. (While they
 * are held, other downloads still wait, uploads and the server's own reads not: they have a pool
 * of their own, attack-s3-pools.int.test.ts. One user may hold only DOWNLOAD_MAX_STREAMS_PER_USER
 * of them, raised here so that the cut itself is what is proven, as many users or vanished clients
 * need it; the per-user limit is proven in download-slots.int.test.ts.)
 */
const STALL_MS = 3000;

const DOCTOR = 'doctor-atk-stall; doctor';
const MEDIC = 'medic-atk-stall; paramedic';
const STUDY = '1.2.826.0.1.3680043.10.19.79';
const SERIES = '1.2.826.0.1.3680043.10.19.79.1';

describe('attack: stalled readers of Retrieve Frames on S3', () => {
  let server: TestServer;
  const stalled: ClientRequest[] = [];
  const sops: Record<string, string> = {};
  const files: Record<string, { id: string; sha256: string }> = {};

  const framesPath = (sop: string, frames: string) =>
    `/dicom-web/studies/${STUDY}/series/${SERIES}/instances/${sop}/frames/${frames}`;

  beforeAll(async () => {
    server = await startTestServer(
      's3',
      { RESPONSE_STALL_TIMEOUT_MS: String(STALL_MS), DOWNLOAD_MAX_STREAMS_PER_USER: '64' },
      { authenticate: headerActor },
    );
    for (const [name, opts] of [
      ['big', { rows: 1024, columns: 1024, frames: 8, seed: 501 }],
      ['small', { rows: 32, columns: 32, seed: 502 }],
    ] as const) {
      const sop = `${SERIES}.${opts.seed}`;
      const bytes = makeDicom({ ...opts, studyInstanceUid: STUDY, seriesInstanceUid: SERIES, sopInstanceUid: sop });
      const id = randomUUID();
      const res = await postXray(server.url, validMetadata({ id }), blobOf(bytes), { 'X-Test-Actor': MEDIC });
      expect(res.status, await res.clone().text()).toBe(201);
      sops[name] = sop;
      files[name] = { id, sha256: createHash('sha256').update(bytes).digest('hex') };
    }
  }, 60_000);
  afterAll(async () => {
    for (const r of stalled) r.destroy();
    await server?.close();
  });

  it('55 responses left unread are cut off after the timeout, and another user’s frame is then served', async () => {
    const { hostname, port } = new URL(server.url);
    // Not awaited one by one: past the SDK's 50 sockets a request waits for one that is freed.
    for (let i = 0; i < 55; i++) {
      const req = request(
        { hostname, port, path: framesPath(sops.big!, '1,2,3,4,5,6,7,8'), headers: { 'X-Test-Actor': DOCTOR } },
        // Never read: the response's first bytes are in, the rest waits on this client.
        (res) => res.pause(),
      );
      req.on('error', () => undefined);
      req.end();
      stalled.push(req);
    }
    // Each is cut once the client has taken nothing for STALL_MS (the sweep runs every second);
    // those that waited for a socket are served, stall and are cut in turn. Without the cut the
    // store's sockets stay held and this never answers.
    await sleep(STALL_MS - 500);
    const t0 = Date.now();
    let status = 0;
    while (status !== 200 && Date.now() - t0 < 40_000) {
      status = await fetch(`${server.url}${framesPath(sops.small!, '1')}`, {
        headers: { 'X-Test-Actor': DOCTOR },
        signal: AbortSignal.timeout(5_000),
      }).then(
        (r) => r.status,
        () => 0,
      );
    }
    console.log(`a small frame with 55 stalled readers: ${status} after ${Date.now() - t0} ms`);
    expect(status).toBe(200);
  });

  it('a reader that pauses for less than the timeout, again and again, is not cut and gets every byte', async () => {
    const { hostname, port } = new URL(server.url);
    const { sha256, pauses } = await new Promise<{ sha256: string; pauses: number }>((resolve, reject) => {
      const hash = createHash('sha256');
      let pauses = 0;
      const req = request(
        { hostname, port, path: `/xrays/${files.big!.id}/download`, headers: { 'X-Test-Actor': DOCTOR } },
        (res) => {
          // Three pauses of half the timeout each, each after 2 MiB read: the server's buffer fills
          // during each pause, and each burst frees enough of the socket's send buffer for the
          // kernel to take more (see RESPONSE_STALL_TIMEOUT_MS: about a third of it).
          let sincePause = 0;
          res.on('data', (chunk: Buffer) => {
            hash.update(chunk);
            sincePause += chunk.length;
            if (sincePause >= 2 * 1024 * 1024 && pauses < 3) {
              pauses++;
              sincePause = 0;
              res.pause();
              setTimeout(() => res.resume(), STALL_MS / 2);
            }
          });
          res.on('end', () => resolve({ sha256: hash.digest('hex'), pauses }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(pauses).toBe(3);
    expect(sha256).toBe(files.big!.sha256);
  });
});
