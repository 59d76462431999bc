import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sha256Hex, writeDicom } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.ts';
import { start, type RunningServer } from '../src/server.ts';
import { createTestStorage, testServerEnv, type StorageKind, type TestStorage } from './harness.ts';
import { downloadSha, metricValue, MiB, rebase, sealed, startTus, tusCreate } from './tus-client.ts';

/** How this instance verified the tus uploads it finalized. */
async function verifications(server: RunningServer) {
  return {
    onArrival: await metricValue(server, 'xray_tus_verifications_total', 'how="on_arrival"'),
    readBack: await metricValue(server, 'xray_tus_verifications_total', 'how="read_back"'),
  };
}

const tusPatch = (url: string, offset: number, body: Buffer) =>
  fetch(url, {
    method: 'PATCH',
    headers: {
      'Tus-Resumable': '1.0.0',
      'Upload-Offset': String(offset),
      'Content-Type': 'application/offset+octet-stream',
    },
    body: new Uint8Array(body),
  });

// Finalize trusts what it verified PATCH by PATCH only when that is all of the stored bytes;
// otherwise it reads the object back. Both must give the same X-ray.
describe.each<StorageKind>(['fs', 's3'])('tus uploads verified on arrival, on %s storage', (kind) => {
  let storage: TestStorage;
  let env: Record<string, string>;
  let dir: string;
  let dicom: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'xray-arrival-'));
    dicom = await readFile((await writeDicom(path.join(dir, 'chest.dcm'), { seed: 51 })).path);
    storage = await createTestStorage(kind);
    env = await testServerEnv(storage);
  });
  afterAll(async () => {
    await storage?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  async function withServer(run: (server: RunningServer) => Promise<void>): Promise<void> {
    const server = await start(loadConfig(env));
    try {
      await run(server);
    } finally {
      await server.stop();
    }
  }

  it('finalizes from what it verified on arrival, without reading back, and stores the same X-ray', async () => {
    await withServer(async (server) => {
      const { body, metadata } = await sealed(server.url, dicom);
      const before = await verifications(server);
      const run = startTus({ endpoint: `${server.url}/uploads`, file: body, metadata, chunkSize: 8 * MiB });
      expect((await run.done).xrayId).toBe(metadata.id);
      expect(await verifications(server)).toEqual({ onArrival: before.onArrival + 1, readBack: before.readBack });

      const x = await (await fetch(`${server.url}/xrays/${metadata.id}`)).json();
      expect(x).toMatchObject({ sha256: sha256Hex(dicom), sizeBytes: dicom.length, contentType: 'application/dicom' });
      expect(x.dicom).toMatchObject({ rows: 3000, columns: 3000, modality: 'DX' });
      expect(await downloadSha(server.url, metadata.id)).toBe(sha256Hex(dicom));
    });
  });

  it('an upload resumed after a restart is read back at finalize and stored byte-exact', async () => {
    let uploadUrl: string | undefined;
    let upload!: Awaited<ReturnType<typeof sealed>>;
    await withServer(async (first) => {
      upload = await sealed(first.url, dicom);
      let stop!: () => void;
      const stopped = new Promise<void>((r) => (stop = r));
      const run = startTus({
        endpoint: `${first.url}/uploads`,
        file: upload.body,
        metadata: upload.metadata,
        chunkSize: 8 * MiB,
        onChunkComplete: () => void run.upload.abort().then(stop),
      });
      await Promise.race([run.done, stopped]);
      uploadUrl = run.upload.url!;
      // HEAD waits for the upload's lock: once it answers, the aborted PATCH is over.
      const head = await fetch(uploadUrl, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
      expect(Number(head.headers.get('upload-offset'))).toBeGreaterThan(0);
    });

    await withServer(async (second) => {
      const before = await verifications(second);
      const { body, metadata } = upload;
      const run = startTus({
        endpoint: `${second.url}/uploads`,
        file: body,
        metadata,
        uploadUrl: rebase(uploadUrl!, second.url),
      });
      expect((await run.done).xrayId).toBe(metadata.id);
      expect(await verifications(second)).toEqual({ onArrival: before.onArrival, readBack: before.readBack + 1 });
      const x = await (await fetch(`${second.url}/xrays/${metadata.id}`)).json();
      expect(x).toMatchObject({ sha256: sha256Hex(dicom), sizeBytes: dicom.length });
      expect(await downloadSha(second.url, metadata.id)).toBe(sha256Hex(dicom));
    });
  });

  it('an upload created on one instance and sent to another from its first byte is verified on arrival there', async () => {
    await withServer(async (creator) => {
      await withServer(async (receiver) => {
        const { body, metadata } = await sealed(creator.url, dicom);
        // A proxy that routes each upload's PATCHes to one replica, but its creation anywhere.
        const url = rebase(await tusCreate(creator.url, body, metadata), receiver.url);
        const before = await verifications(receiver);
        expect((await tusPatch(url, 0, body.subarray(0, 8 * MiB))).status).toBe(204);
        const last = await tusPatch(url, 8 * MiB, body.subarray(8 * MiB));
        expect(last.status).toBe(204);
        expect(last.headers.get('x-xray-sha256')).toBe(sha256Hex(dicom));
        expect(await verifications(receiver)).toEqual({
          onArrival: before.onArrival + 1,
          readBack: before.readBack,
        });
        expect(await downloadSha(receiver.url, metadata.id)).toBe(sha256Hex(dicom));
      });
    });
  });

  it('a write it did not see (another instance) makes it read back, with the same outcome', async () => {
    await withServer(async (server) => {
      const { body, metadata } = await sealed(server.url, dicom);
      const url = await tusCreate(server.url, body, metadata);
      const half = 9 * MiB;
      expect((await tusPatch(url, 0, body.subarray(0, half))).status).toBe(204);
      // What a write on another instance leaves behind: one more count than this instance saw.
      await server.pool.query('UPDATE tus_uploads SET writes = writes + 1 WHERE id = $1', [url.split('/').pop()]);
      const before = await verifications(server);
      const last = await tusPatch(url, half, body.subarray(half));
      expect(last.status).toBe(204);
      expect(last.headers.get('x-xray-sha256')).toBe(sha256Hex(dicom));
      expect(await verifications(server)).toEqual({ onArrival: before.onArrival, readBack: before.readBack + 1 });
      expect(await downloadSha(server.url, metadata.id)).toBe(sha256Hex(dicom));
    });
  });
});
