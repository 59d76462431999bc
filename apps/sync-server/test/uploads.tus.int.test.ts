import { readFile, rm, mkdtemp } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { XrayMetadataInputSchema } from '@xray/shared';
import { makePng, sha256Hex, writeDicom } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  countRows,
  openMultipartUploads,
  startTestServer,
  storedObjects,
  type StorageKind,
  type TestServer,
} from './harness.ts';
import { downloadSha, encodeMeta, metricValue, MiB, sealed, startTus, tusMetadata } from './tus-client.ts';
import { createOutboxWriter } from '../src/events/outbox.repository.ts';
import { finalizeXray } from '../src/ingest/finalize.ts';
import { xrayRepository } from '../src/xrays/xray.repository.ts';

/** Nothing of a refused upload may stay: no X-ray, no upload row, no object, no open multipart upload. */
async function expectNothingLeft(server: TestServer): Promise<void> {
  for (
    let i = 0;
    i < 200 && ((await storedObjects(server)).length > 0 || (await countRows(server, 'tus_uploads')) > 0);
    i++
  )
    await sleep(100);
  expect(await countRows(server)).toBe(0);
  expect(await countRows(server, 'tus_uploads')).toBe(0);
  expect(await storedObjects(server)).toEqual([]);
  if (server.config.storage.kind === 's3') expect(await openMultipartUploads(server.env)).toBe(0);
}

async function tusRequest(url: string, method: string, headers: Record<string, string>, body?: Buffer) {
  return fetch(url, {
    method,
    headers: { 'Tus-Resumable': '1.0.0', ...headers },
    ...(body ? { body: new Uint8Array(body) } : {}),
  });
}

describe.each<StorageKind>(['fs', 's3'])('tus uploads on %s storage', (kind) => {
  let server: TestServer;
  let dir: string;
  let dicom: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'xray-tus-'));
    dicom = await readFile((await writeDicom(path.join(dir, 'chest.dcm'), { seed: 31 })).path);
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('an 18 MB DICOM aborted after 2 chunks resumes, sends at most one chunk again, and is stored byte-exact', async () => {
    const { body, metadata } = await sealed(server.url, dicom);
    const endpoint = `${server.url}/uploads`;
    let chunks = 0;
    let aborted!: () => void;
    const abortedAfterTwo = new Promise<void>((r) => (aborted = r));
    const first = startTus({
      endpoint,
      file: body,
      metadata,
      onChunkComplete: () => {
        if (++chunks === 2) void first.upload.abort().then(aborted);
      },
    });
    await Promise.race([first.done, abortedAfterTwo]);
    const url = first.upload.url;
    expect(url).toBeTruthy();
    const head = await tusRequest(url!, 'HEAD', {});
    const offset = Number(head.headers.get('upload-offset'));
    expect(offset).toBe(10 * MiB);

    const before = await metricValue(server, 'xray_tus_request_bytes_total', 'method="body"');
    const resumed = startTus({ endpoint, file: body, metadata, uploadUrl: url! });
    const { xrayId } = await resumed.done;
    const sentAfterResume = (await metricValue(server, 'xray_tus_request_bytes_total', 'method="body"')) - before;
    const remainder = body.length - offset;
    expect(sentAfterResume).toBeGreaterThanOrEqual(remainder);
    expect(sentAfterResume).toBeLessThanOrEqual(remainder + 5 * MiB);

    expect(xrayId).toBe(metadata.id);
    const x = await (await fetch(`${server.url}/xrays/${metadata.id}`)).json();
    expect(x).toMatchObject({
      id: metadata.id,
      sha256: sha256Hex(dicom),
      sizeBytes: dicom.length,
      contentType: 'application/dicom',
    });
    expect(x.dicom).toMatchObject({ rows: 3000, columns: 3000 });
    expect(await downloadSha(server.url, metadata.id)).toBe(sha256Hex(dicom));
    // The finished upload's tus bookkeeping is gone; the X-ray object is all that is stored.
    expect((await storedObjects(server)).filter((k) => k.endsWith('.info') || k.endsWith('.json'))).toEqual([]);
    expect((await fetch(`${server.url}/xrays/${metadata.id}`, { method: 'DELETE' })).status).toBe(204);
    await expectNothingLeft(server);
  });

  it('a lost final response: HEAD still answers with the X-ray id, and re-creating returns the same X-ray', async () => {
    const png = makePng({ width: 1024, height: 1024, seed: 8 });
    const { body, metadata } = await sealed(server.url, png);
    const created = await tusRequest(`${server.url}/uploads`, 'POST', {
      'Upload-Length': String(body.length),
      'Upload-Metadata': encodeMeta(metadata),
    });
    expect(created.status).toBe(201);
    const url = created.headers.get('location')!;

    // Send the whole body, then vanish without reading the response: write, half-close, drop.
    const { hostname, port, pathname } = new URL(url);
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => {
        socket.write(
          `PATCH ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n` +
            `Content-Type: application/offset+octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`,
        );
        socket.write(body);
      });
      // The first byte of the response means the server has the whole body: drop it unread.
      socket.once('data', () => {
        socket.destroy();
        resolve();
      });
      socket.on('error', reject);
    });
    let head: Response | undefined;
    for (let i = 0; i < 100; i++) {
      head = await tusRequest(url, 'HEAD', {});
      if (head.headers.get('x-xray-id')) break;
      await sleep(100);
    }
    expect(head!.status).toBe(200);
    expect(head!.headers.get('upload-offset')).toBe(String(body.length));
    expect(head!.headers.get('x-xray-id')).toBe(metadata.id);

    // The client retries the whole upload with the same X-ray id: it learns the outcome, no duplicate.
    const again = startTus({ endpoint: `${server.url}/uploads`, file: body, metadata });
    const outcome = await again.done.catch((e: Error) => e);
    const recreate = await tusRequest(`${server.url}/uploads`, 'POST', {
      'Upload-Length': String(body.length),
      'Upload-Metadata': encodeMeta(metadata),
    });
    expect(recreate.status).toBe(200);
    expect(recreate.headers.get('x-xray-id')).toBe(metadata.id);
    expect((await recreate.json()).sha256).toBe(sha256Hex(png));
    expect(outcome instanceof Error ? outcome.message : 'ok').toBe('ok');
    const { rows } = await server.pool.query('SELECT count(*)::int AS n FROM xrays WHERE id = $1', [metadata.id]);
    expect(rows[0].n).toBe(1);
    expect(await downloadSha(server.url, metadata.id)).toBe(sha256Hex(png));
    await fetch(`${server.url}/xrays/${metadata.id}`, { method: 'DELETE' });
  });

  it('one upload finalized twice (an empty PATCH at its end racing the last one) keeps the X-ray and its object', async () => {
    const png = Buffer.from(makePng({ seed: 77 }));
    const { body, metadata } = await sealed(server.url, png);
    const { xrayId } = await startTus({ endpoint: `${server.url}/uploads`, file: body, metadata }).done;
    if (!xrayId) throw new Error('no X-ray id');
    const stored = await xrayRepository.findById(server.pool, xrayId);
    if (!stored) throw new Error('no X-ray row');
    // The second finalize of the same upload: same object, same bytes, the row already there.
    const again = await finalizeXray(
      {
        pool: server.pool,
        store: server.store,
        log: server.log,
        links: { enabled: false, verify: async () => ({ status: 'unchecked' }) },
        outbox: createOutboxWriter([], { publicUrl: () => server.url }),
        keys: server.keys,
      },
      {
        id: xrayId,
        metadata: XrayMetadataInputSchema.parse({ ...tusMetadata(png), id: xrayId }),
        // The same user as the upload (tests without tokens act as the local developer).
        actor: { sub: 'local-dev', name: null, roles: ['paramedic'] },
        objectKey: stored.objectKey,
        content: { sha256: stored.sha256, sizeBytes: stored.sizeBytes, contentType: stored.contentType, dicom: null },
        sealed: { dekWrapped: stored.dekWrapped, kekId: stored.kekId, cipherSize: stored.cipherSize },
      },
    );
    expect(again).toMatchObject({ created: false, xray: { id: xrayId } });
    expect(await server.store.stat(stored.objectKey)).not.toBeNull();
    expect(await downloadSha(server.url, xrayId)).toBe(sha256Hex(png));
    expect((await fetch(`${server.url}/xrays/${xrayId}`, { method: 'DELETE' })).status).toBe(204);
  });

  it('bad input gets a clear status and leaves nothing: too long, bad metadata, wrong offset, wrong content type, bad checksum', async () => {
    await server.pool.query('DELETE FROM tus_uploads');
    const png = makePng({ seed: 9 });
    const post = (length: number, metadata: Record<string, string>) =>
      tusRequest(`${server.url}/uploads`, 'POST', {
        'Upload-Length': String(length),
        'Upload-Metadata': encodeMeta(metadata),
      });
    const patch = (url: string, body: Buffer, headers: Record<string, string> = {}) =>
      tusRequest(
        url,
        'PATCH',
        { 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream', ...headers },
        body,
      );

    const good = await sealed(server.url, png);
    const tooLong = await post(2 * 1024 ** 3, good.metadata);
    expect(tooLong.status).toBe(413);

    const badMeta = await post(good.body.length, { patientId: 'P 1' });
    expect(badMeta.status).toBe(400);
    const problem = JSON.parse(await badMeta.text());
    expect(problem.errors.map((e: { field: string }) => e.field)).toEqual(
      expect.arrayContaining(['metadata.id', 'metadata.sha256', 'metadata.patientId', 'metadata.capturedAt']),
    );
    const noKey = await post(good.body.length, { ...good.metadata, dek: '' });
    expect(noKey.status).toBe(400);
    expect(JSON.parse(await noKey.text()).errors[0].field).toBe('metadata.dek');
    const unknownKid = await post(good.body.length, { ...good.metadata, kid: 'retired-key' });
    expect(unknownKid.status).toBe(400);
    expect(JSON.parse(await unknownKid.text()).errors[0].field).toBe('metadata.kid');

    const wrongSum = await sealed(server.url, png, { sha256: 'b'.repeat(64) });
    const created = await post(wrongSum.body.length, wrongSum.metadata);
    expect(created.status).toBe(201);
    const url = created.headers.get('location')!;
    expect((await patch(url, wrongSum.body, { 'Upload-Offset': '100' })).status).toBe(409);
    expect((await patch(url, wrongSum.body, { 'Content-Type': 'application/json' })).status).toBe(415);
    const badChecksum = await patch(url, wrongSum.body);
    expect(badChecksum.status).toBe(422);
    expect(JSON.parse(await badChecksum.text()).code).toBe('checksum_mismatch');
    expect((await tusRequest(url, 'HEAD', {})).status).toBe(404);

    const pdf = await sealed(server.url, Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(1000)]));
    const pdfUpload = await post(pdf.body.length, pdf.metadata);
    expect((await patch(pdfUpload.headers.get('location')!, pdf.body)).status).toBe(415);
    await expectNothingLeft(server);
  });

  it('tampered ciphertext, or a data key that is not ours, is refused at finalize and leaves nothing', async () => {
    const png = makePng({ seed: 10 });
    const post = (length: number, metadata: Record<string, string>) =>
      tusRequest(`${server.url}/uploads`, 'POST', {
        'Upload-Length': String(length),
        'Upload-Metadata': encodeMeta(metadata),
      });
    const patch = (url: string, body: Buffer) =>
      tusRequest(url, 'PATCH', { 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' }, body);

    const flipped = await sealed(server.url, png);
    flipped.body[flipped.body.length - 40]! ^= 0x01;
    const a = await post(flipped.body.length, flipped.metadata);
    const tampered = await patch(a.headers.get('location')!, flipped.body);
    expect(tampered.status).toBe(422);
    expect(JSON.parse(await tampered.text()).code).toBe('ciphertext_invalid');

    // A data key wrapped for our kid but not by our key pair (someone else's RSA key).
    const other = await sealed(server.url, png);
    const { publicKey } = await crypto.subtle.generateKey(
      { name: 'RSA-OAEP', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      true,
      ['wrapKey', 'unwrapKey'],
    );
    const foreignDek = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt']);
    const foreign = Buffer.from(
      await crypto.subtle.wrapKey('raw', foreignDek, publicKey, { name: 'RSA-OAEP' }),
    ).toString('base64');
    const b = await post(other.body.length, { ...other.metadata, dek: foreign });
    const wrongKey = await patch(b.headers.get('location')!, other.body);
    expect(wrongKey.status).toBe(400);
    expect(JSON.parse(await wrongKey.text()).errors[0].field).toBe('metadata.dek');
    await expectNothingLeft(server);
  });

  it('the tus store beside the encrypted bytes holds no patient data: only the wrapped data key', async () => {
    const png = makePng({ seed: 41 });
    const patientId = 'P-TUS-INFO-7';
    const { body, metadata } = await sealed(server.url, png, { patientId, notes: 'fell from a ladder' });
    const created = await tusRequest(`${server.url}/uploads`, 'POST', {
      'Upload-Length': String(body.length),
      'Upload-Metadata': encodeMeta(metadata),
    });
    expect(created.status).toBe(201);
    const url = created.headers.get('location')!;
    const uploadId = new URL(url).pathname.split('/').pop()!;
    const half = await tusRequest(
      url,
      'PATCH',
      { 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
      body.subarray(0, 100),
    );
    expect(half.status).toBe(204);
    const keys = (await storedObjects(server)).filter((k) => k.includes(uploadId));
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      const chunks: Buffer[] = [];
      for await (const c of await server.store.get(key)) chunks.push(Buffer.from(c as Uint8Array));
      const stored = Buffer.concat(chunks).toString('latin1');
      for (const clear of [patientId, metadata.capturedAt, 'fell from a ladder', metadata.sha256])
        expect(stored, key).not.toContain(clear);
    }
    // The owner still finishes it, and the X-ray has every field.
    const { xrayId } = await startTus({ endpoint: `${server.url}/uploads`, file: body, metadata, uploadUrl: url }).done;
    const x = await (await fetch(`${server.url}/xrays/${xrayId}`)).json();
    expect(x).toMatchObject({ patientId, notes: 'fell from a ladder', sha256: sha256Hex(png) });
    expect((await fetch(`${server.url}/xrays/${xrayId}`, { method: 'DELETE' })).status).toBe(204);
  });

  it('expired unfinished uploads are cleaned up', async () => {
    const short = await startTestServer(kind, { TUS_EXPIRY_MS: '4000' });
    try {
      const { body, metadata } = await sealed(short.url, dicom);
      let aborted!: () => void;
      const abortedAfterOne = new Promise<void>((r) => (aborted = r));
      const run = startTus({
        endpoint: `${short.url}/uploads`,
        file: body,
        metadata,
        onChunkComplete: () => void run.upload.abort().then(aborted),
      });
      await Promise.race([run.done, abortedAfterOne]);
      // HEAD waits for the upload's lock: once it answers, the aborted PATCH is over on the server.
      expect((await tusRequest(run.upload.url!, 'HEAD', {})).status).toBe(200);
      expect((await storedObjects(short)).length).toBeGreaterThan(0);
      await short.uploads.cleanupExpired(); // not yet expired: kept
      expect((await tusRequest(run.upload.url!, 'HEAD', {})).status).toBe(200);
      await sleep(4200);
      await short.uploads.cleanupExpired();
      expect((await tusRequest(run.upload.url!, 'HEAD', {})).status).toBe(404);
      await expectNothingLeft(short);
    } finally {
      await short.close();
    }
  });
});
