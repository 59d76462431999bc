import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { dcmtk, makeDicom, makeJpeg, makePng, sha256Hex, writeDicom } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
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
import { sealed, startTus, tusCreate } from './tus-client.ts';

/**
 * Files are judged by their structure, not their first bytes: a polyglot (an image with a web
 * page riding on it), a truncated or damaged file is refused through both doors with a 422
 * problem a paramedic can read, and leaves nothing behind; files real tools write still pass.
 */

/** Nothing of a refused upload may stay: no X-ray, no upload row, no object, no open multipart upload. */
async function expectNothingLeft(server: TestServer): Promise<void> {
  const left = async () =>
    (await countRows(server)) +
    (await countRows(server, 'tus_uploads')) +
    (await storedObjects(server)).length +
    (server.config.storage.kind === 's3' ? await openMultipartUploads(server.env) : 0);
  // Cleanup after a refusal may finish just after the response (S3: aborting the multipart upload);
  // on a busy machine it is given up to 20 s.
  for (let i = 0; i < 200 && (await left()) > 0; i++) await sleep(100);
  expect(await countRows(server)).toBe(0);
  expect(await countRows(server, 'tus_uploads')).toBe(0);
  expect(await storedObjects(server)).toEqual([]);
  if (server.config.storage.kind === 's3') expect(await openMultipartUploads(server.env)).toBe(0);
}

const tusPatch = (url: string, offset: number, body: Uint8Array) =>
  fetch(url, {
    method: 'PATCH',
    headers: {
      'Tus-Resumable': '1.0.0',
      'Upload-Offset': String(offset),
      'Content-Type': 'application/offset+octet-stream',
    },
    body: new Uint8Array(body),
  });

interface Refused {
  name: string;
  bytes: () => Buffer;
  status: number;
  code: string;
  detail: RegExp;
}

const html = Buffer.from(
  '<!DOCTYPE html><html><body><script>fetch("/xrays").then(r => r.text())</script></body></html>',
);
const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.domain)"/>');
const files: Record<string, Buffer> = {};

const refused: Refused[] = [
  {
    name: 'a PNG followed by HTML',
    bytes: () => Buffer.concat([makePng({ seed: 1 }), html]),
    status: 422,
    code: 'content_invalid',
    detail:
      /^The PNG file has other data hidden after the end of the image, so it cannot be accepted\. Nothing was stored\./,
  },
  {
    name: 'a JPEG followed by SVG',
    bytes: () => Buffer.concat([makeJpeg({ seed: 2 }), svg]),
    status: 422,
    code: 'content_invalid',
    detail: /^The JPEG file has other data hidden after the end of the image, so it cannot be accepted\./,
  },
  {
    name: 'a DICOM with an HTML preamble',
    bytes: () => {
      const dicom = makeDicom({ rows: 256, columns: 256, seed: 3 });
      html.subarray(0, 128).copy(dicom, 0);
      return dicom;
    },
    status: 422,
    code: 'content_invalid',
    detail:
      /^The DICOM file carries web page code \(HTML, SVG or script\) in its first bytes, so it cannot be accepted\./,
  },
  {
    name: 'an 18 MB DICOM whose pixel data is cut short',
    bytes: () => files.truncated!,
    status: 422,
    code: 'content_invalid',
    detail: /^The DICOM file is cut off before its end; copy or export it again\. Nothing was stored\. \(pixel data/,
  },
  {
    name: 'a PNG with a damaged chunk (bad CRC)',
    bytes: () => {
      const png = makePng({ seed: 4 });
      png[png.length - 30] = (png[png.length - 30] ?? 0) ^ 0x01;
      return png;
    },
    status: 422,
    code: 'content_invalid',
    detail: /^The PNG file is damaged: one of its checksums does not match\./,
  },
  {
    name: 'a JPEG without EOI',
    bytes: () => {
      const jpeg = makeJpeg({ seed: 5 });
      return jpeg.subarray(0, jpeg.length - 2);
    },
    status: 422,
    code: 'content_invalid',
    detail: /^The JPEG file is cut off before its end/,
  },
  {
    name: 'a deflated DICOM (an encoding not taken)',
    bytes: () => files.deflated!,
    status: 415,
    code: 'unsupported_media_type',
    detail: /^The DICOM file is compressed as a whole \(deflated\), which the service does not accept/,
  },
];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'xray-content-'));
  const chest = await readFile((await writeDicom(path.join(dir, 'chest.dcm'), { seed: 6 })).path);
  files.truncated = chest.subarray(0, chest.length - 1_000_000);

  // Real-world encodings, as dcmtk writes them (it fails with an install hint if missing).
  const source = path.join(dir, 'source.dcm');
  await writeFile(source, makeDicom({ rows: 256, columns: 256, seed: 7 }));
  const photo = path.join(dir, 'photo.jpg');
  await writeFile(photo, makeJpeg({ width: 320, height: 240, seed: 8 }));
  await dcmtk('img2dcm', [photo, path.join(dir, 'img2dcm.dcm')]);
  await dcmtk('dcmcjpeg', [source, path.join(dir, 'jpeg-lossless.dcm')]);
  await dcmtk('dcmcrle', [source, path.join(dir, 'rle.dcm')]);
  await dcmtk('dcmconv', ['+ti', source, path.join(dir, 'implicit.dcm')]);
  await dcmtk('dcmconv', ['+td', source, path.join(dir, 'deflated.dcm')]);
  for (const name of ['img2dcm', 'jpeg-lossless', 'rle', 'implicit', 'deflated']) {
    files[name] = await readFile(path.join(dir, `${name}.dcm`));
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.each<StorageKind>(['fs', 's3'])('content checks on %s storage', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await server?.close();
  });

  it.each(refused)('POST /xrays: $name is refused ($status $code) and leaves nothing', async (c) => {
    const bytes = c.bytes();
    const res = await postXray(server.url, validMetadata({ sha256: sha256Hex(bytes) }), blobOf(bytes));
    expect(res.status).toBe(c.status);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const problem = await res.json();
    expect(problem).toMatchObject({ status: c.status, code: c.code });
    expect(problem.detail).toMatch(c.detail);
    await expectNothingLeft(server);
  });

  it.each(refused)('tus /uploads: $name is refused ($status $code) and leaves nothing', async (c) => {
    const bytes = c.bytes();
    const { body, metadata } = await sealed(server.url, bytes);
    const url = await tusCreate(server.url, body, metadata);
    // Two PATCHes: the bytes are inspected as they arrive, and the upload is judged at its end.
    const half = Math.floor(body.length / 2);
    expect((await tusPatch(url, 0, body.subarray(0, half))).status).toBe(204);
    const last = await tusPatch(url, half, body.subarray(half));
    expect(last.status).toBe(c.status);
    const problem = JSON.parse(await last.text());
    expect(problem).toMatchObject({ status: c.status, code: c.code });
    expect(problem.detail).toMatch(c.detail);
    await expectNothingLeft(server);
  });

  it('DICOM as dcmtk writes it (img2dcm, JPEG lossless, RLE, implicit VR) is stored through both doors', async () => {
    for (const name of ['img2dcm', 'jpeg-lossless', 'rle', 'implicit']) {
      const bytes = files[name]!;
      const posted = await postXray(server.url, validMetadata({ sha256: sha256Hex(bytes) }), blobOf(bytes));
      expect(posted.status, name).toBe(201);
      expect(await posted.json()).toMatchObject({ contentType: 'application/dicom', sizeBytes: bytes.length });

      const { body, metadata } = await sealed(server.url, bytes);
      const { xrayId } = await startTus({
        endpoint: `${server.url}/uploads`,
        file: body,
        metadata,
        chunkSize: 64 * 1024,
      }).done;
      expect(xrayId, name).toBe(metadata.id);
      const stored = await (await fetch(`${server.url}/xrays/${metadata.id}`)).json();
      expect(stored).toMatchObject({ sha256: sha256Hex(bytes), contentType: 'application/dicom' });
    }
  });
});
