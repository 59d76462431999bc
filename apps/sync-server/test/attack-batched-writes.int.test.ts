// Attack on e0dff11 (a tus PATCH body on disk written in batches of ~1 MiB by FileHandle.writev):
// the bytes a paramedic's device sends must land exactly, and an upload resumed after a drop must
// go on exactly at the server's offset. A PATCH cut before, at and after a batch boundary, a PATCH
// taken over by a reconnecting client (the lock's release), a body the idle guard cuts, bodies of
// exactly 0 and 1 MiB ± 1 bytes, offsets that do not match: each ends in an X-ray whose download
// is the original, byte for byte.
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { dicomDimensionsForSize, makeDicom, sha256Hex } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.ts';
import { start, type RunningServer } from '../src/server.ts';
import { createTestStorage, startTestServer, testServerEnv, type TestServer, type TestStorage } from './harness.ts';
import { downloadSha, metricValue, MiB, rebase, sealed, tusCreate } from './tus-client.ts';

const IDLE_MS = 1500;
const TUS = { 'Tus-Resumable': '1.0.0' };

let server: TestServer;
let plain: Buffer;

beforeAll(async () => {
  server = await startTestServer('fs', { UPLOAD_IDLE_TIMEOUT_MS: String(IDLE_MS) });
  plain = makeDicom({ ...dicomDimensionsForSize(4 * MiB), seed: 77 });
});
afterAll(async () => {
  await server?.close();
});

const head = async (url: string) => {
  const res = await fetch(url, { method: 'HEAD', headers: TUS });
  expect(res.status).toBe(200);
  return Number(res.headers.get('upload-offset'));
};

const patch = (url: string, offset: number, body: Buffer) =>
  fetch(url, {
    method: 'PATCH',
    headers: { ...TUS, 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' },
    body: new Uint8Array(body),
  });

/**
 * A PATCH declaring `declared` bytes that sends only `bytes`, on its own socket. 'fin' half-closes
 * the socket after them (every byte reaches the server before the end); 'hold' keeps it open, silent.
 */
function partialPatch(url: string, offset: number, declared: number, bytes: Buffer, how: 'fin' | 'hold') {
  const { hostname, port, pathname } = new URL(url);
  let socket!: Socket;
  const closed = new Promise<string>((resolve) => {
    let answer = '';
    socket = connect(Number(port), hostname, () => {
      socket.write(
        `PATCH ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nTus-Resumable: 1.0.0\r\n` +
          `Upload-Offset: ${offset}\r\nContent-Type: application/offset+octet-stream\r\n` +
          `Content-Length: ${declared}\r\n\r\n`,
      );
      socket.write(bytes, () => {
        if (how === 'fin') socket.end();
      });
    });
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(answer));
  });
  return { socket, closed };
}

const onArrival = () => metricValue(server, 'xray_tus_verifications_total', 'how="on_arrival"');

async function newUpload() {
  const { body, metadata } = await sealed(server.url, plain);
  const url = await tusCreate(server.url, body, metadata);
  return { body, id: metadata.id, url };
}

/** Sends the rest from `offset` in one PATCH and checks the X-ray served is the original. */
async function finish(url: string, id: string, body: Buffer, offset: number) {
  const last = await patch(url, offset, body.subarray(offset));
  expect(last.status, await last.text()).toBe(204);
  expect(last.headers.get('upload-offset')).toBe(String(body.length));
  expect(await downloadSha(server.url, id)).toBe(sha256Hex(plain));
}

describe('tus PATCH bodies written in batches (fs storage)', () => {
  it('a PATCH cut before, at, after and between batch boundaries keeps no more than arrived, all of it verified; resuming gives the original', async () => {
    const { body, id, url } = await newUpload();
    const verified = await onArrival();
    let offset = 0;
    for (const sent of [1, 65_535, MiB - 1, MiB, MiB + 1, 70_001]) {
      const cut = partialPatch(url, offset, body.length - offset, body.subarray(offset, offset + sent), 'fin');
      await cut.closed;
      // HEAD waits for the upload's lock: once it answers, the cut PATCH is over.
      // Never more than arrived; what arrived but was still in the request's buffers when it
      // ended may be missing (tus stops reading at the abort), and the client resumes there.
      const now = await head(url);
      expect(now - offset, `after sending ${sent} bytes at ${offset}`).toBeGreaterThanOrEqual(0);
      expect(now - offset, `after sending ${sent} bytes at ${offset}`).toBeLessThanOrEqual(sent);
      offset = now;
    }
    await finish(url, id, body, offset);
    // Every byte went through the verification on arrival: nothing read back.
    expect(await onArrival()).toBe(verified + 1);
  });

  it('PATCH bodies of 0, 1 MiB - 1, 1 MiB and 1 MiB + 1 bytes move the offset by exactly their length', async () => {
    const { body, id, url } = await newUpload();
    let offset = 0;
    for (const n of [0, MiB - 1, MiB, MiB + 1, 0]) {
      const res = await patch(url, offset, body.subarray(offset, offset + n));
      expect(res.status, await res.text()).toBe(204);
      offset += n;
      expect(res.headers.get('upload-offset')).toBe(String(offset));
      expect(await head(url)).toBe(offset);
    }
    await finish(url, id, body, offset);
  });

  it('a PATCH at the wrong offset is refused and changes nothing', async () => {
    const { body, id, url } = await newUpload();
    expect((await patch(url, 0, body.subarray(0, MiB + 5))).status).toBe(204);
    for (const wrong of [0, MiB, MiB + 6, body.length]) {
      const res = await patch(url, wrong, body.subarray(wrong, wrong + 2 * MiB));
      expect(res.status).toBe(409);
      expect(await head(url)).toBe(MiB + 5);
    }
    await finish(url, id, body, MiB + 5);
  });

  it('a PATCH taken over by a reconnecting client ends promptly with what it gathered written', async () => {
    const { body, id, url } = await newUpload();
    const sent = MiB + 300_000; // one batch written, ~300 KB gathered when the client reconnects
    const old = partialPatch(url, 0, body.length, body.subarray(0, sent), 'hold');
    await sleep(500);
    const started = Date.now();
    // The reconnecting client's HEAD asks the old PATCH for the lock (tus ends it after its
    // lockDrainTimeout of 3 s), well before TUS_LOCK_TIMEOUT_MS.
    expect(await head(url)).toBe(sent);
    expect(Date.now() - started).toBeLessThan(10_000);
    old.socket.destroy();
    await finish(url, id, body, sent);
  });

  it('a chunked body longer than the upload is refused (413) with every byte up to its end stored, and the X-ray is the original', async () => {
    const { body, id, url } = await newUpload();
    const from = body.length - MiB - 7;
    expect((await patch(url, 0, body.subarray(0, from))).status).toBe(204);
    const { hostname, port, pathname } = new URL(url);
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      const socket = connect(Number(port), hostname, () => {
        socket.write(
          `PATCH ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nTus-Resumable: 1.0.0\r\n` +
            `Upload-Offset: ${from}\r\nContent-Type: application/offset+octet-stream\r\n` +
            `Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n`,
        );
        // The rest of the upload, then (once the server has it) 100 KB beyond.
        const rest = body.subarray(from);
        socket.write(`${rest.length.toString(16)}\r\n`);
        socket.write(rest);
        socket.write('\r\n');
        setTimeout(() => {
          socket.write(`${(100_000).toString(16)}\r\n`);
          socket.write(Buffer.alloc(100_000, 7));
          socket.write('\r\n0\r\n\r\n');
        }, 500);
      });
      socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 413/);
    // Every byte of the upload arrived before the excess: it is all stored, none beyond, and
    // the HEAD that finds it complete stores the X-ray (tus.operations: an end offset always
    // comes with its X-ray).
    expect(await head(url)).toBe(body.length);
    expect(await downloadSha(server.url, id)).toBe(sha256Hex(plain));
  });

  it('a body that stalls is cut off by the idle guard with what it brought written', async () => {
    const { body, id, url } = await newUpload();
    const sent = 2 * MiB + 12_345;
    const stalled = partialPatch(url, 0, body.length, body.subarray(0, sent), 'hold');
    // The guard ends the request after IDLE_MS of silence; the socket closes without our help.
    await Promise.race([
      stalled.closed,
      sleep(IDLE_MS + 5_000).then(() => {
        throw new Error('the stalled PATCH was not cut off');
      }),
    ]);
    expect(await head(url)).toBe(sent);
    await finish(url, id, body, sent);
  });
});

describe('one upload written through two instances sharing its disk', () => {
  let storage: TestStorage;
  let a: RunningServer;
  let b: RunningServer;
  beforeAll(async () => {
    storage = await createTestStorage('fs');
    const env = await testServerEnv(storage, { UPLOAD_IDLE_TIMEOUT_MS: String(IDLE_MS) });
    a = await start(loadConfig(env));
    b = await start(loadConfig(env));
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await storage?.cleanup();
  });

  it('a PATCH held open on one instance is ended by a PATCH to the other, which is told the offset it wrote', async () => {
    const { body, metadata } = await sealed(a.url, plain);
    const urlA = await tusCreate(a.url, body, metadata);
    const urlB = rebase(urlA, b.url);
    const sent = MiB + 200_000;
    const old = partialPatch(urlA, 0, body.length, body.subarray(0, sent), 'hold');
    await sleep(500);
    // The reconnecting client still believes in offset 0: refused once the old PATCH has let go,
    // without a byte of its body stored.
    const stale = await patch(urlB, 0, body);
    expect(stale.status).toBe(409);
    expect(await head(urlB)).toBe(sent);
    old.socket.destroy();
    const last = await patch(urlB, sent, body.subarray(sent));
    expect(last.status, await last.text()).toBe(204);
    expect(await downloadSha(b.url, metadata.id)).toBe(sha256Hex(plain));
  });

  it('two whole PATCHes at once through both instances: one is stored, the X-ray is the original', async () => {
    const { body, metadata } = await sealed(a.url, plain);
    const urlA = await tusCreate(a.url, body, metadata);
    const replies = await Promise.all([patch(urlA, 0, body), patch(rebase(urlA, b.url), 0, body)]);
    const statuses = replies.map((r) => r.status).sort();
    // The second to get the lock finds the upload finished (an X-ray), or its offset moved on.
    expect(statuses[0]).toBe(204);
    expect([404, 409, 410]).toContain(statuses[1]);
    expect(await downloadSha(a.url, metadata.id)).toBe(sha256Hex(plain));
  });
});
