import { readFile, rm, mkdtemp } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, sha256Hex, writeDicom } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.ts';
import { start, type RunningServer } from '../src/server.ts';
import { createTestStorage, testServerEnv, type StorageKind, type TestStorage } from './harness.ts';
import { spawnServer } from './server-process.ts';
import { downloadSha, MiB, rebase, sealed, startTus, tusCreate } from './tus-client.ts';

/** PATCH `body` at `offset`, dribbled out over ~1 s so two of them overlap. */
function slowPatch(url: string, offset: number, body: Buffer): Promise<number> {
  const { hostname, port, pathname } = new URL(url);
  return new Promise((resolve) => {
    const req = request(
      {
        host: hostname,
        port,
        path: pathname,
        method: 'PATCH',
        headers: {
          'Tus-Resumable': '1.0.0',
          'Upload-Offset': String(offset),
          'Content-Type': 'application/offset+octet-stream',
          'Content-Length': String(body.length),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(-1)); // cancelled by the other instance's lock request
    let sent = 0;
    const piece = 256 * 1024;
    const pump = () => {
      if (sent >= body.length) return void req.end();
      req.write(body.subarray(sent, sent + piece));
      sent += piece;
      setTimeout(pump, 50);
    };
    pump();
  });
}

// Sync servers are stateless: any instance can take the next chunk of any upload.
describe.each<StorageKind>(['fs', 's3'])('tus across instances on %s storage', (kind) => {
  let storage: TestStorage;
  let env: Record<string, string>;
  let a: RunningServer;
  let b: RunningServer;
  let dir: string;
  let dicom: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'xray-cluster-'));
    dicom = await readFile((await writeDicom(path.join(dir, 'chest.dcm'), { seed: 41 })).path);
    storage = await createTestStorage(kind);
    env = await testServerEnv(storage);
    a = await start(loadConfig(env));
    b = await start(loadConfig(env));
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await storage?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it('chunks alternate between two instances and the X-ray is stored byte-exact', async () => {
    const { body, metadata } = await sealed(a.url, dicom);
    const servers = [a, b];
    let uploadUrl: string | undefined;
    let xrayId: string | null = null;
    for (let i = 0; xrayId === null && i < 10; i++) {
      const base = servers[i % 2]!.url;
      let stop!: () => void;
      const stopped = new Promise<void>((r) => (stop = r));
      const run = startTus({
        endpoint: `${base}/uploads`,
        file: body,
        metadata,
        ...(uploadUrl ? { uploadUrl: rebase(uploadUrl, base) } : {}),
        onChunkComplete: () => void run.upload.abort().then(stop),
      });
      const outcome = await Promise.race([run.done, stopped]);
      uploadUrl = run.upload.url ?? uploadUrl;
      if (outcome) xrayId = outcome.xrayId;
    }
    expect(xrayId).toBe(metadata.id);
    expect(await downloadSha(a.url, metadata.id)).toBe(sha256Hex(dicom));
    expect(await downloadSha(b.url, metadata.id)).toBe(sha256Hex(dicom));
  });

  it('two concurrent PATCHes for one upload on different instances never both write', async () => {
    const { body, metadata } = await sealed(a.url, dicom);
    const url = await tusCreate(a.url, body, metadata);
    const chunk = body.subarray(0, 5 * MiB);
    const first = slowPatch(rebase(url, a.url), 0, chunk);
    await sleep(300);
    const second = slowPatch(rebase(url, b.url), 0, chunk);
    const statuses = await Promise.all([first, second]);
    console.log(`concurrent PATCH statuses: ${statuses.join(', ')}`);
    expect(statuses.filter((s) => s === 204).length).toBeLessThanOrEqual(1);

    const head = await fetch(rebase(url, b.url), { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
    const offset = Number(head.headers.get('upload-offset'));
    // Never both: at most one chunk's worth was accepted.
    expect(offset).toBeLessThanOrEqual(5 * MiB);

    const rest = startTus({ endpoint: `${b.url}/uploads`, file: body, metadata, uploadUrl: rebase(url, b.url) });
    expect((await rest.done).xrayId).toBe(metadata.id);
    expect(await downloadSha(a.url, metadata.id)).toBe(sha256Hex(dicom));
  });

  it('a server killed with SIGKILL mid-PATCH restarts and the upload resumes to completion', async () => {
    const port = String(await freePort());
    const procEnv = { ...env, PORT: port, LOG_LEVEL: 'info' };
    let server = await spawnServer(procEnv);
    const { body, metadata } = await sealed(server.url, dicom);
    let killed = false;
    let restarted: Promise<void> | undefined;
    const run = startTus({
      endpoint: `${server.url}/uploads`,
      file: body,
      metadata,
      chunkSize: 8 * MiB,
      retryDelays: [200, 500, 1000, 2000, 3000, 5000, 5000, 5000],
      onProgress: (sent) => {
        if (!killed && sent > 11 * MiB) {
          killed = true;
          restarted = server.kill('SIGKILL').then(async () => {
            server = await spawnServer(procEnv);
          });
        }
      },
    });
    const { xrayId } = await run.done;
    await restarted;
    expect(killed).toBe(true);
    expect(xrayId).toBe(metadata.id);
    expect(await downloadSha(server.url, metadata.id)).toBe(sha256Hex(dicom));
    await server.kill();
  });
});
