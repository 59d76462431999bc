import { createHash, randomUUID } from 'node:crypto';
import { openAsBlob } from 'node:fs';
import { readlink, readdir, readFile, rm, mkdtemp, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { dicomDimensionsForSize, readDownload, sha256Hex, writeDicom } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectStore } from '../src/storage/index.ts';
import {
  blobOf,
  blockAuditFor,
  createTestDatabase,
  postXray,
  s3Client,
  startTestServer,
  validMetadata,
  type StorageKind,
  type TestServer,
} from './harness.ts';
import { spawnServer, type ServerProcess } from './server-process.ts';
import { heldByKernel } from './tcp-queues.ts';
import { sealed, startTus } from './tus-client.ts';

const SEG = 1024 * 1024;
const TAG = 16;

/** Every stream the server opens on the store, so a test can see that each one was released. */
function trackingReads(opened: { key: string; stream: Readable }[]): (store: ObjectStore) => ObjectStore {
  return (store) =>
    Object.assign(Object.create(store) as ObjectStore, {
      async get(...args: Parameters<ObjectStore['get']>) {
        const stream = await store.get(...args);
        opened.push({ key: args[0], stream });
        return stream;
      },
    });
}

async function fetchBytes(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  return { res, body: Buffer.from(await res.arrayBuffer()) };
}

describe.each<StorageKind>(['fs', 's3'])('downloads on %s storage', (kind) => {
  const opened: { key: string; stream: Readable }[] = [];
  let server: TestServer;
  let dir: string;
  let dicom: Buffer;

  /** Open file descriptors of this process (the server runs in it) on a stored object. */
  async function openObjectFiles(): Promise<string[]> {
    if (server.config.storage.kind !== 'fs') return [];
    const root = server.config.storage.dir;
    const fds = await readdir('/proc/self/fd');
    const targets = await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
    return targets.filter((t) => t.startsWith(root + path.sep) && !t.includes(`${path.sep}.tmp${path.sep}`));
  }

  async function storedKey(id: string): Promise<string> {
    const { rows } = await server.pool.query<{ key: string }>('SELECT object_key AS key FROM xrays WHERE id = $1', [
      id,
    ]);
    return rows[0]!.key;
  }

  /**
   * Waits until every store read the server opened for the X-ray is released and no file of it
   * stays open. `opensReads`: the requests must have read the object (false when a request may
   * fail before its read is under way).
   */
  async function expectReadsReleased(id: string, opensReads = true): Promise<void> {
    const key = await storedKey(id);
    const mine = () => opened.filter((o) => o.key === key);
    const pending = async () => mine().filter((o) => !o.stream.destroyed).length + (await openObjectFiles()).length;
    for (let i = 0; i < 50 && ((await pending()) > 0 || (i < 10 && mine().length === 0)); i++) await sleep(50);
    if (opensReads) expect(mine().length).toBeGreaterThan(0);
    expect(mine().filter((o) => !o.stream.destroyed)).toEqual([]);
    expect(await openObjectFiles()).toEqual([]);
  }

  async function upload(bytes: Buffer): Promise<string> {
    const res = await postXray(server.url, validMetadata(), blobOf(bytes));
    expect(res.status).toBe(201);
    return ((await res.json()) as { id: string }).id;
  }

  async function readObject(key: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of await server.store.get(key)) chunks.push(Buffer.from(c as Buffer));
    return Buffer.concat(chunks);
  }

  /** Replaces a stored object, as an attacker with bucket access (or bit rot) would. */
  async function overwrite(key: string, bytes: Buffer): Promise<void> {
    if (server.config.storage.kind === 'fs') await writeFile(path.join(server.config.storage.dir, key), bytes);
    else await s3Client(server.env).send(new PutObjectCommand({ Bucket: server.env.S3_BUCKET, Key: key, Body: bytes }));
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'xray-download-'));
    // A little over five segments, so a download crosses several segment boundaries and ends mid-segment.
    const written = await writeDicom(path.join(dir, 'chest.dcm'), { ...dicomDimensionsForSize(5.3 * SEG), seed: 61 });
    dicom = await readFile(written.path);
    expect(dicom.length).toBeGreaterThan(5 * SEG);
    server = await startTestServer(kind, {}, { decorateStore: trackingReads(opened) });
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('whole downloads and Ranges at and around every segment boundary are byte-exact', async () => {
    const id = await upload(dicom);
    const url = `${server.url}/xrays/${id}/download`;
    const n = dicom.length;
    const whole = await fetchBytes(url);
    expect(whole.res.status).toBe(200);
    expect(sha256Hex(whole.body)).toBe(sha256Hex(dicom));

    const ranges: [number, number][] = [
      [0, n - 1],
      [0, SEG - 1],
      [1, n - 2],
      [n - 1, n - 1],
      [Math.floor(n / SEG) * SEG, n - 1], // exactly the last (short) segment
    ];
    for (let k = 1; k * SEG < n; k++) {
      ranges.push([k * SEG - 1, k * SEG], [k * SEG, Math.min((k + 1) * SEG, n) - 1], [k * SEG - 16, n - 1]);
    }
    for (const [start, end] of ranges) {
      const { res, body } = await fetchBytes(url, { Range: `bytes=${start}-${end}` });
      expect(res.status, `${start}-${end}`).toBe(206);
      expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${n}`);
      expect(sha256Hex(body), `${start}-${end}`).toBe(sha256Hex(dicom.subarray(start, end + 1)));
    }
    await expectReadsReleased(id);
  });

  it('an X-ray sealed with another segment size downloads byte-exact, whole and by Range', async () => {
    // The edge chooses the segment size; 100 000 bytes also changes the header length the server first guesses.
    const segmentSize = 100_000;
    const { body, metadata } = await sealed(server.url, dicom, { patientId: 'P-7' }, { segmentSize });
    const { id } = metadata;
    const tus = startTus({ endpoint: `${server.url}/uploads`, file: body, metadata });
    expect((await tus.done).xrayId).toBe(id);

    const url = `${server.url}/xrays/${id}/download`;
    expect(sha256Hex((await fetchBytes(url)).body)).toBe(sha256Hex(dicom));
    for (const [start, end] of [
      [segmentSize - 1, segmentSize],
      [3 * segmentSize + 7, 40 * segmentSize + 3],
      [dicom.length - 5, dicom.length - 1],
    ] as const) {
      const { res, body: part } = await fetchBytes(url, { Range: `bytes=${start}-${end}` });
      expect(res.status).toBe(206);
      expect(part.equals(dicom.subarray(start, end + 1)), `${start}-${end}`).toBe(true);
    }
    await expectReadsReleased(id);
  });

  it('a tampered segment mid-file aborts a whole download after only original bytes; Ranges that avoid it still read', async () => {
    const id = await upload(dicom);
    const key = await storedKey(id);
    const original = await readObject(key);
    // Flip one byte in segment index 3: plaintext bytes [3 MiB, 4 MiB).
    const headerLength = 8 + original.readUInt32BE(4);
    const bad = Buffer.from(original);
    bad[headerLength + 3 * (SEG + TAG) + 4321]! ^= 0x01;
    await overwrite(key, bad);
    const url = `${server.url}/xrays/${id}/download`;

    const whole = await readDownload(url);
    expect(whole.failed).toBe(true);
    expect(whole.body.length).toBeLessThanOrEqual(3 * SEG);
    // Whatever arrived is the original's beginning: no byte of the bad segment (or after it) was sent.
    expect(whole.body.equals(dicom.subarray(0, whole.body.length))).toBe(true);

    const across = await readDownload(url, { Range: `bytes=${2 * SEG + 5}-${4 * SEG + 5}` });
    expect(across.failed).toBe(true);
    expect(across.body.equals(dicom.subarray(2 * SEG + 5, 2 * SEG + 5 + across.body.length))).toBe(true);
    expect(across.body.length).toBeLessThanOrEqual(SEG);

    // Only the touched segments are opened: a range after the damage still reads.
    const after = await fetchBytes(url, { Range: `bytes=${4 * SEG}-${5 * SEG + 10}` });
    expect(after.res.status).toBe(206);
    expect(after.body.equals(dicom.subarray(4 * SEG, 5 * SEG + 11))).toBe(true);
    await expectReadsReleased(id);
  });

  it('a damaged header fails the download with a problem response, not bytes', async () => {
    const id = await upload(dicom);
    const key = await storedKey(id);
    const bad = await readObject(key);
    bad[0] = 'Y'.charCodeAt(0); // not XRE1 any more
    await overwrite(key, bad);
    for (const headers of [{}, { Range: `bytes=${2 * SEG}-${3 * SEG}` }] as Record<string, string>[]) {
      const res = await fetch(`${server.url}/xrays/${id}/download`, { headers });
      expect(res.status).toBe(500);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    }
    await expectReadsReleased(id);
  });

  it('a client that disconnects mid-download leaves no open reads, and the next download is whole', async () => {
    const id = await upload(dicom);
    const received = await new Promise<number>((resolve, reject) => {
      const req = request(`${server.url}/xrays/${id}/download`, (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => {
          n += c.length;
          // Gone after the first bytes, with most of the file (and the read-ahead) still to come.
          if (n > 0) {
            req.destroy();
            resolve(n);
          }
        });
        res.on('error', () => undefined);
      });
      req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
      req.end();
    });
    expect(received).toBeLessThan(dicom.length);
    await expectReadsReleased(id);
    expect(sha256Hex((await fetchBytes(`${server.url}/xrays/${id}/download`)).body)).toBe(sha256Hex(dicom));
    await expectReadsReleased(id);
  });

  it('when the audit event cannot be written the download fails and what was opened for it is released', async () => {
    const patientId = `P-${randomUUID().slice(0, 8)}`;
    const res = await postXray(server.url, validMetadata({ patientId }), blobOf(dicom));
    const { id } = (await res.json()) as { id: string };
    const unblock = await blockAuditFor(server, patientId);
    try {
      for (const headers of [{}, { Range: `bytes=${SEG}-${3 * SEG}` }] as Record<string, string>[]) {
        const got = await fetchBytes(`${server.url}/xrays/${id}/download`, headers);
        expect(got.res.status).toBe(500);
        expect(got.res.headers.get('content-type')).toContain('application/problem+json');
        expect(got.body.includes(dicom.subarray(0, 64))).toBe(false);
      }
    } finally {
      await unblock();
    }
    await expectReadsReleased(id, false);
  });
});

// Bounded buffering: a client that stops reading must stop the server reading and decrypting.
describe('a slow client downloading a 100 MiB X-ray', () => {
  let dir: string;
  let server: ServerProcess;

  /** Bytes the server process has read so far (files and sockets, all threads). */
  const bytesRead = async () =>
    Number(/^rchar: (\d+)$/m.exec(await readFile(`/proc/${server.child.pid}/io`, 'utf8'))?.[1]);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'xray-download-slow-'));
    server = await spawnServer({ DATABASE_URL: await createTestDatabase(), DATA_DIR: path.join(dir, 'data') });
  });
  afterAll(async () => {
    await server?.kill();
    await rm(dir, { recursive: true, force: true });
  });

  it('makes the server stop reading while it does not read, and still gets every byte', async () => {
    const big = await writeDicom(path.join(dir, 'big.dcm'), { ...dicomDimensionsForSize(100 * SEG), seed: 62 });
    const res = await postXray(server.url, validMetadata(), await openAsBlob(big.path));
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    // Warm up the download path (JIT, buffer pools) so the baseline is the steady state.
    await (await fetch(`${server.url}/xrays/${id}/download`, { headers: { Range: 'bytes=0-99' } })).arrayBuffer();
    const baseline = await server.rssBytes();

    let peak = baseline;
    const sampler = setInterval(() => void server.rssBytes().then((rss) => (peak = Math.max(peak, rss))), 20);
    let readWhilePaused = 0;
    let queuedWhilePaused = 0;
    const { sha256, received } = await new Promise<{ sha256: string; received: number }>((resolve, reject) => {
      const hash = createHash('sha256');
      let n = 0;
      let paused = false;
      request(`${server.url}/xrays/${id}/download`, (r) => {
        r.on('data', (c: Buffer) => {
          hash.update(c);
          n += c.length;
          // Stop reading for a while early on: a server that ignored backpressure would read and
          // decrypt the rest of the file meanwhile.
          if (!paused && n > 8 * SEG) {
            paused = true;
            r.pause();
            const port = r.socket.localPort!;
            // Each side measured so that a race between the two counts can only excuse bytes, not blame.
            void (async () => {
              const heldBefore = await heldByKernel(port);
              const before = await bytesRead();
              await sleep(2000);
              readWhilePaused = (await bytesRead()) - before;
              queuedWhilePaused = (await heldByKernel(port)) - heldBefore;
              r.resume();
            })().catch(reject);
          }
        });
        r.on('end', () => resolve({ sha256: hash.digest('hex'), received: n }));
        r.on('error', reject);
      })
        .on('error', reject)
        .end();
    });
    clearInterval(sampler);
    expect(received).toBe(big.size);
    expect(sha256).toBe(big.sha256);
    const growth = peak - baseline;
    console.log(
      `server read ${(readWhilePaused / SEG).toFixed(1)} MiB while the client paused, of which ${(queuedWhilePaused / SEG).toFixed(1)} MiB went into the kernel's socket buffers; RSS baseline ${(baseline / SEG).toFixed(1)} MiB, growth ${(growth / SEG).toFixed(1)} MiB for ${(big.size / SEG).toFixed(0)} MiB`,
    );
    // What filled the socket buffers and a few segments of read-ahead, not the ~90 MiB still to come.
    expect(readWhilePaused - queuedWhilePaused).toBeLessThan(4 * SEG);
    expect(growth).toBeLessThan(64 * SEG);
  });
});
