import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import pg from 'pg';
import { makeDicom } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FlippableNetwork, openEdgeDevice, type EdgeDevice } from '../src/edge-device.ts';
import { CLEAN_LINK, FaultProxy } from '../src/fault-proxy.ts';
import type { SoakDatabase, SyncInstance } from '../src/stack.ts';
import { startUploadStack } from './upload.support.ts';

// Found by the soak: an upload that expired on the server while the device was still sending it
// answered the next PATCH with 404, and the engine put the capture in needs-attention (a person
// had to act) although nothing was wrong with the X-ray. Now the engine retries; tus finds the
// upload gone and creates a new one.
describe('an upload that expires on the server mid-way (the edge engine, a real server)', () => {
  let dir: string;
  let db: SoakDatabase;
  let server: SyncInstance;
  let proxy: FaultProxy;
  let device: EdgeDevice;
  const link = { bytesPerSecond: 400 * 1024 };

  beforeAll(async () => {
    ({ dir, db, server } = await startUploadStack('xray-soak-expiry-', {
      // Shorter than the first upload takes on the slow link below, longer than the second.
      // No sweep during the test: the upload is refused for its age alone (tus's expiry check).
      TUS_EXPIRY_MS: '10000',
      TUS_CLEANUP_INTERVAL_MS: String(60 * 60_000),
    }));
    // A slow link at first (400 KB/s: the first 5 MiB chunk takes 13 s), so the upload expires
    // while the device is still sending it.
    proxy = new FaultProxy({
      name: 'device',
      upstreams: () => [{ host: '127.0.0.1', port: server.port }],
      profile: () => ({ ...CLEAN_LINK, bytesPerSecond: link.bytesPerSecond }),
    });
    await proxy.listen();
    device = await openEdgeDevice({
      dbName: 'expiry-device',
      apiBase: proxy.url,
      network: new FlippableNetwork(),
      deviceId: 'expiry-device',
      // No stall on this slow link: the test is about the expiry (the stall is the soak's other finding).
      options: { concurrency: 1, retry: { baseDelayMs: 200, maxDelayMs: 1000 }, stallTimeoutMs: 120_000 },
    });
  });

  afterAll(async () => {
    await device?.engine.stop();
    device?.db.close();
    await proxy?.close();
    await server?.kill('SIGTERM');
    await db?.stop();
    if (process.env.SOAK_KEEP_LOGS !== '1') await rm(dir, { recursive: true, force: true });
  });

  it('is sent again as a new upload and syncs, never waiting for a person', async () => {
    const bytes = makeDicom({ rows: 2000, columns: 2000, seed: 7 }); // 8 MB: two 5 MiB chunks
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const { id } = await device.capture(new Blob([new Uint8Array(bytes)]), {
      patientId: 'P-1001',
      bodyPart: 'CHEST',
      view: 'PA',
      priority: 'routine',
    });

    // The first upload outlives the server's expiry while the device is still sending it.
    // Once the device has met that, the link gets fast, so the next upload finishes in time.
    const seen: string[] = [];
    const errors = new Set<number>();
    await vi
      .waitFor(
        async () => {
          const c = await device.db.captures.get(id);
          const line = `${c?.status} ${c?.lastError?.status ?? ''} ${c?.lastError?.message ?? ''}`;
          if (seen.at(-1) !== line) seen.push(line);
          if (c?.lastError?.status) errors.add(c.lastError.status);
          if (c?.lastError && link.bytesPerSecond > 0) {
            link.bytesPerSecond = 0;
            proxy.resetAll(); // a new connection gets the fast link
          }
          expect(['synced', 'needs-attention']).toContain(c?.status);
        },
        { timeout: 240_000, interval: 50 },
      )
      .catch((err: unknown) => {
        throw new Error(`${String(err)}\nstates seen:\n${seen.join('\n')}`);
      });
    // Synced, not waiting for a person: the device met the vanished upload (404) and got past it.
    expect((await device.db.captures.get(id))?.status, seen.join('\n')).toBe('synced');
    expect([...errors], seen.join('\n')).toContain(404);

    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ sha256: string }>('SELECT sha256 FROM xrays WHERE id = $1', [id]);
      expect(rows.map((r) => r.sha256)).toEqual([sha256]);
    } finally {
      await client.end();
    }
    const res = await fetch(`http://127.0.0.1:${server.port}/xrays/${id}/download`);
    expect(res.status).toBe(200);
    expect(
      createHash('sha256')
        .update(Buffer.from(await res.arrayBuffer()))
        .digest('hex'),
    ).toBe(sha256);
  });
});
