import { randomUUID } from 'node:crypto';
import { openAsBlob } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeJpeg, makePng, sha256Hex, writeDicom, type WrittenDicom } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failingWrites } from './fault-injection.ts';
import type { ApiClient } from '@xray/shared/api';
import {
  apiClient,
  blobOf,
  countRows,
  openMultipartUploads,
  postXray,
  startTestServer,
  storedObjects,
  validMetadata,
  type StorageKind,
  type TestServer,
} from './harness.ts';

/** Waits until nothing is left behind: cleanup after a failed upload runs as the request unwinds. */
async function expectNothingStored(server: TestServer): Promise<void> {
  // Cleanup after a failed upload finishes after the response (S3: aborting the multipart upload).
  const openUploads = () =>
    server.config.storage.kind === 's3' ? openMultipartUploads(server.env) : Promise.resolve(0);
  // Up to 20 s on a busy machine; whatever stays fails the assertions after it.
  for (let i = 0; i < 200; i++) {
    if ((await countRows(server)) === 0 && (await storedObjects(server)).length === 0 && (await openUploads()) === 0)
      break;
    await sleep(100);
  }
  expect(await countRows(server)).toBe(0);
  expect(await storedObjects(server)).toEqual([]);
  if (server.config.storage.kind === 's3') expect(await openMultipartUploads(server.env)).toBe(0);
}

async function download(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  const body = Buffer.from(await res.arrayBuffer());
  return { res, body };
}

// One contract, both storage adapters: what a client sees must not depend on where bytes live.
describe.each<StorageKind>(['fs', 's3'])('X-ray REST API on %s storage', (kind) => {
  let server: TestServer;
  /** The client generated from openapi.json (this server acts as one user with every role). */
  let api: ApiClient;
  let dir: string;
  let dicom: WrittenDicom;
  let dicomBytes: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'xray-files-'));
    dicom = await writeDicom(path.join(dir, 'chest.dcm'), {
      patientId: 'P-1001',
      bodyPart: 'CHEST',
      view: 'PA',
      seed: 7,
    });
    const { readFile } = await import('node:fs/promises');
    dicomBytes = await readFile(dicom.path);
    server = await startTestServer(kind);
    api = apiClient(server.url);
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const cases = [
    {
      name: '18 MB DICOM',
      type: 'application/dicom',
      ext: 'dcm',
      file: () => openAsBlob(dicom.path),
      bytes: () => dicomBytes,
    },
    {
      name: 'PNG',
      type: 'image/png',
      ext: 'png',
      file: async () => blobOf(makePng({ seed: 3 })),
      bytes: () => makePng({ seed: 3 }),
    },
    {
      name: 'JPEG',
      type: 'image/jpeg',
      ext: 'jpg',
      file: async () => blobOf(makeJpeg({ seed: 4 })),
      bytes: () => makeJpeg({ seed: 4 }),
    },
  ];

  it.each(cases)('round trip of a $name: upload, get, list, download, range, delete', async (c) => {
    const bytes = c.bytes();
    const patientId = `P-${randomUUID().slice(0, 8)}`;
    const res = await postXray(
      server.url,
      validMetadata({ patientId, consultationId: 'C-77', notes: 'query rib fracture' }),
      await c.file(),
    );
    expect(res.status).toBe(201);
    const created = await res.json();
    expect(res.headers.get('location')).toBe(`/xrays/${created.id}`);
    expect(created).toMatchObject({
      patientId,
      consultationId: 'C-77',
      bodyPart: 'CHEST',
      view: 'PA',
      priority: 'urgent',
      notes: 'query rib fracture',
      contentType: c.type,
      sizeBytes: bytes.length,
      sha256: sha256Hex(bytes),
    });
    if (c.type === 'application/dicom') {
      expect(created.dicom).toMatchObject({
        patientId: 'P-1001',
        studyDate: '20260115',
        modality: 'DX',
        bodyPartExamined: 'CHEST',
        viewPosition: 'PA',
        rows: 3000,
        columns: 3000,
      });
    } else {
      expect(created.dicom).toBeNull();
    }

    const got = await api.GET('/xrays/{id}', { params: { path: { id: created.id } } });
    expect(got.response.status).toBe(200);
    expect(got.data).toEqual(created);

    const list = await api.GET('/xrays', { params: { query: { patientId: [patientId] } } });
    expect(list.data?.items.map((x) => x.id)).toEqual([created.id]);

    const full = await download(`${server.url}/xrays/${created.id}/download`);
    expect(full.res.status).toBe(200);
    expect(sha256Hex(full.body)).toBe(sha256Hex(bytes));
    expect(full.res.headers.get('content-type')).toBe(c.type);
    expect(full.res.headers.get('etag')).toBe(`"${created.sha256}"`);
    expect(full.res.headers.get('content-disposition')).toMatch(
      new RegExp(`^attachment; filename="?xray-${created.id}\\.${c.ext}"?$`),
    );

    const part = await download(`${server.url}/xrays/${created.id}/download`, { Range: 'bytes=100-1099' });
    expect(part.res.status).toBe(206);
    expect(part.res.headers.get('content-range')).toBe(`bytes 100-1099/${bytes.length}`);
    expect(part.body.equals(bytes.subarray(100, 1100))).toBe(true);

    const tail = await download(`${server.url}/xrays/${created.id}/download`, { Range: 'bytes=-10' });
    expect(tail.res.status).toBe(206);
    expect(tail.body.equals(bytes.subarray(bytes.length - 10))).toBe(true);

    const notModified = await fetch(`${server.url}/xrays/${created.id}/download`, {
      headers: { 'If-None-Match': `"${created.sha256}"` },
    });
    expect(notModified.status).toBe(304);

    const del = await api.DELETE('/xrays/{id}', { params: { path: { id: created.id } } });
    expect(del.response.status).toBe(204);
    const after = await api.GET('/xrays/{id}', { params: { path: { id: created.id } } });
    expect(after.response.status).toBe(404);
    expect(after.error).toMatchObject({ status: 404, code: 'not_found' });
    const gone = await fetch(`${server.url}/xrays/${created.id}/download`);
    expect(gone.status).toBe(404);
    expect(gone.headers.get('content-type')).toContain('application/problem+json');
    expect((await storedObjects(server)).filter((k) => k.includes(created.id))).toEqual([]);
  });

  it('is idempotent on a client-chosen id: same bytes 200, different bytes 409', async () => {
    const id = randomUUID();
    const png = makePng({ seed: 11 });
    const first = await postXray(server.url, validMetadata({ id }), blobOf(png));
    expect(first.status).toBe(201);
    const again = await postXray(server.url, validMetadata({ id }), blobOf(png));
    expect(again.status).toBe(200);
    expect((await again.json()).id).toBe(id);
    const other = await postXray(server.url, validMetadata({ id }), blobOf(makePng({ seed: 12 })));
    expect(other.status).toBe(409);
    expect((await other.json()).code).toBe('conflict');
    // One object and its recovery record: the refused bytes left nothing.
    expect((await storedObjects(server)).filter((k) => k.includes(id))).toHaveLength(2);
    const { rows } = await server.pool.query('SELECT count(*)::int AS n FROM xrays WHERE id = $1', [id]);
    expect(rows[0].n).toBe(1);
    expect((await api.DELETE('/xrays/{id}', { params: { path: { id } } })).response.status).toBe(204);
  });

  it('lists with filters and cursor pagination, newest capture first', async () => {
    const patientId = `P-${randomUUID().slice(0, 8)}`;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await postXray(
        server.url,
        validMetadata({ patientId, consultationId: i < 2 ? 'C-A' : 'C-B', capturedAt: `2026-11-2${i}T10:00:00Z` }),
        blobOf(makePng({ seed: 100 + i })),
      );
      expect(res.status).toBe(201);
      ids.push((await res.json()).id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: { patientId: string[]; limit: number; cursor?: string } = { patientId: [patientId], limit: 2 };
      if (cursor) query.cursor = cursor;
      const { data: page } = await api.GET('/xrays', { params: { query } });
      seen.push(...(page?.items ?? []).map((x) => x.id));
      const next: string | null = page?.nextCursor ?? null;
      cursor = next;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse());

    const byConsultation = await api.GET('/xrays', {
      params: { query: { consultationId: 'C-A', patientId: [patientId] } },
    });
    expect(byConsultation.data?.items).toHaveLength(2);
    const window = await api.GET('/xrays', {
      params: { query: { patientId: [patientId], from: '2026-11-21T00:00:00Z', to: '2026-11-23T00:00:00Z' } },
    });
    expect(window.data?.items.map((x) => x.id)).toEqual([ids[2], ids[1]]);

    const bad = await fetch(`${server.url}/xrays?from=yesterday&cursor=nope`);
    expect(bad.status).toBe(400);
    const problem = await bad.json();
    expect(problem.errors.map((e: { field: string }) => e.field)).toContain('from');
    const badCursor = await fetch(`${server.url}/xrays?cursor=bm9wZQ`);
    expect(badCursor.status).toBe(400);
    expect((await badCursor.json()).errors[0].field).toBe('cursor');

    for (const id of ids)
      expect((await api.DELETE('/xrays/{id}', { params: { path: { id } } })).response.status).toBe(204);
  });

  describe('bad input: a clear problem and nothing left behind', () => {
    it('missing and invalid metadata fields give 400 naming each field', async () => {
      const res = await postXray(
        server.url,
        { patientId: 'has space', view: 'SIDEWAYS', priority: 'soon' },
        blobOf(makePng()),
      );
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      const p = await res.json();
      expect(p).toMatchObject({ status: 400, code: 'validation_failed' });
      const fields = p.errors.map((e: { field: string }) => e.field);
      expect(fields).toEqual(
        expect.arrayContaining([
          'metadata.patientId',
          'metadata.capturedAt',
          'metadata.bodyPart',
          'metadata.view',
          'metadata.priority',
        ]),
      );
      expect(p.errors.find((e: { field: string }) => e.field === 'metadata.capturedAt').message).toBe('is required');
      await expectNothingStored(server);
    });

    it('metadata that is not JSON, a missing file, and a file before metadata give 400', async () => {
      const notJson = await postXray(server.url, '{patientId:', blobOf(makePng()));
      expect(notJson.status).toBe(400);
      expect((await notJson.json()).errors[0]).toEqual({ field: 'metadata', message: 'metadata is not valid JSON.' });

      const form = new FormData();
      form.append('metadata', JSON.stringify(validMetadata()));
      const noFile = await fetch(`${server.url}/xrays`, { method: 'POST', body: form });
      expect(noFile.status).toBe(400);
      expect((await noFile.json()).errors[0].field).toBe('file');

      const reversed = new FormData();
      reversed.append('file', blobOf(makePng()), 'a.png');
      reversed.append('metadata', JSON.stringify(validMetadata()));
      const wrongOrder = await fetch(`${server.url}/xrays`, { method: 'POST', body: reversed });
      expect(wrongOrder.status).toBe(400);
      expect((await wrongOrder.json()).detail).toMatch(/metadata part must come before/);
      await expectNothingStored(server);
    });

    it('a body that is not multipart gives 415', async () => {
      const res = await fetch(`${server.url}/xrays`, {
        method: 'POST',
        body: JSON.stringify(validMetadata()),
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(415);
      await expectNothingStored(server);
    });

    it('content that is not DICOM, PNG or JPEG gives 415', async () => {
      const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(300_000, 7)]);
      const res = await postXray(server.url, validMetadata(), blobOf(pdf));
      expect(res.status).toBe(415);
      expect((await res.json()).code).toBe('unsupported_media_type');
      await expectNothingStored(server);
    });

    it('a declared sha256 that does not match the bytes gives 422', async () => {
      const res = await postXray(server.url, validMetadata({ sha256: 'a'.repeat(64) }), blobOf(makeJpeg()));
      expect(res.status).toBe(422);
      expect((await res.json()).code).toBe('checksum_mismatch');
      await expectNothingStored(server);
    });

    it('malformed id 400, unknown id 404, unsatisfiable Range 416', async () => {
      const malformed = await fetch(`${server.url}/xrays/not-a-uuid`);
      expect(malformed.status).toBe(400);
      expect((await malformed.json()).errors[0].field).toBe('id');
      const unknown = await fetch(`${server.url}/xrays/${randomUUID()}`);
      expect(unknown.status).toBe(404);
      expect((await unknown.json()).code).toBe('not_found');

      const png = makePng({ seed: 21 });
      const created = await (await postXray(server.url, validMetadata(), blobOf(png))).json();
      const bad = await fetch(`${server.url}/xrays/${created.id}/download`, {
        headers: { Range: `bytes=${png.length + 10}-` },
      });
      expect(bad.status).toBe(416);
      expect(bad.headers.get('content-range')).toBe(`bytes */${png.length}`);
      expect((await bad.json()).code).toBe('range_not_satisfiable');
      await fetch(`${server.url}/xrays/${created.id}`, { method: 'DELETE' });
      await expectNothingStored(server);
    });

    it('a client disconnecting mid-upload leaves no row and no object', async () => {
      const boundary = 'xraytestboundary';
      const head =
        `--${boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n${JSON.stringify(validMetadata())}\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.dcm"\r\nContent-Type: application/dicom\r\n\r\n`;
      const { port } = new URL(server.url);
      await new Promise<void>((resolve) => {
        const req = request({
          host: '127.0.0.1',
          port,
          path: '/xrays',
          method: 'POST',
          headers: {
            'content-type': `multipart/form-data; boundary=${boundary}`,
            'content-length': String(dicomBytes.length + head.length + 100),
          },
        });
        req.on('error', () => resolve());
        req.write(head);
        // Send 6 MB of the DICOM (more than one S3 part), then vanish.
        req.write(dicomBytes.subarray(0, 6 * 1024 * 1024), () =>
          setTimeout(() => {
            req.destroy();
            resolve();
          }, 300),
        );
      });
      await expectNothingStored(server);
    });
  });

  describe('limits and failures (own server instances)', () => {
    it('an upload over MAX_UPLOAD_BYTES gives 413, checked while streaming', async () => {
      const small = await startTestServer(kind, { MAX_UPLOAD_BYTES: String(4 * 1024 * 1024) });
      try {
        // Known length: refused before reading.
        const declared = await postXray(small.url, validMetadata(), await openAsBlob(dicom.path));
        expect(declared.status).toBe(413);
        // Chunked, no length: refused once the limit is crossed mid-stream.
        const form = new FormData();
        form.append('metadata', JSON.stringify(validMetadata()));
        form.append('file', await openAsBlob(dicom.path), 'c.dcm');
        const body = new Response(form);
        const chunked = await fetch(`${small.url}/xrays`, {
          method: 'POST',
          body: body.body,
          headers: { 'content-type': body.headers.get('content-type') ?? '' },
          duplex: 'half',
        } as RequestInit);
        expect(chunked.status).toBe(413);
        expect((await chunked.json()).code).toBe('payload_too_large');
        await expectNothingStored(small);
        // The server still serves this client afterwards.
        const ok = await postXray(small.url, validMetadata(), blobOf(makePng()));
        expect(ok.status).toBe(201);
      } finally {
        await small.close();
      }
    });

    it('storage failing mid-upload gives 503 and leaves nothing behind', async () => {
      const failing = await startTestServer(kind, {}, { decorateStore: failingWrites(7 * 1024 * 1024) });
      try {
        const res = await postXray(failing.url, validMetadata(), await openAsBlob(dicom.path));
        expect(res.status).toBe(503);
        expect((await res.json()).code).toBe('storage_failed');
        await expectNothingStored(failing);
      } finally {
        await failing.close();
      }
    });
  });
});
