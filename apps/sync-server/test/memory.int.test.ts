import { openAsBlob } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dicomDimensionsForSize, writeDicom } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postXray, validMetadata } from './harness.ts';
import { spawnServer, type ServerProcess } from './server-process.ts';

const MB = 1024 * 1024;

// Streaming, not buffering: the server's memory must not grow with the size of an X-ray.
describe('memory while receiving a 200 MB upload', () => {
  let dir: string;
  let server: ServerProcess;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'xray-mem-'));
    server = await spawnServer({ DATABASE_URL: await createTestDatabase(), DATA_DIR: dir, LOG_LEVEL: 'info' });
  });
  afterAll(async () => {
    await server?.kill();
    await rm(dir, { recursive: true, force: true });
  });

  it('grows the server RSS by less than 64 MB', async () => {
    const big = await writeDicom(path.join(dir, 'big.dcm'), { ...dicomDimensionsForSize(200 * MB), seed: 5 });
    expect(big.size).toBeGreaterThanOrEqual(200 * MB);
    // Warm up code paths (JIT, pools) so the baseline is the steady state.
    const small = await writeDicom(path.join(dir, 'small.dcm'), { seed: 6 });
    expect((await postXray(server.url, validMetadata(), await openAsBlob(small.path))).status).toBe(201);
    global.gc?.();
    const baseline = await server.rssBytes();

    let peak = baseline;
    const sampler = setInterval(() => {
      void server.rssBytes().then((rss) => (peak = Math.max(peak, rss)));
    }, 25);
    const res = await postXray(server.url, validMetadata(), await openAsBlob(big.path));
    clearInterval(sampler);
    expect(res.status).toBe(201);
    expect((await res.json()).sha256).toBe(big.sha256);
    const growth = peak - baseline;
    console.log(
      `server RSS: baseline ${(baseline / MB).toFixed(1)} MB, peak ${(peak / MB).toFixed(1)} MB, growth ${(growth / MB).toFixed(1)} MB for ${(big.size / MB).toFixed(0)} MB`,
    );
    expect(growth).toBeLessThan(64 * MB);
  });
});
