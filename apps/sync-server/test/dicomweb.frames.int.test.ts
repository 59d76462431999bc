import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dcmtk, makeDicom, readDownload } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobOf, headerActor, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';
import { startOrthanc } from './orthanc.ts';
import { multipartParts } from './multipart-parts.ts';

const MEDIC = 'medic-frames; paramedic';
const OTHER_MEDIC = 'medic-frames-other; paramedic';
const DOCTOR = 'doctor-frames; doctor';
const NO_ROLE = 'nobody-frames; ';
const ADMIN = 'admin-frames; admin';

const STUDY = '1.2.826.0.1.3680043.10.19.31';
const SERIES = '1.2.826.0.1.3680043.10.19.31.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const JPEG_LOSSLESS = '1.2.840.10008.1.2.4.70';
const JPEG_LS = '1.2.840.10008.1.2.4.80';
const RLE = '1.2.840.10008.1.2.5';
const OHIF_ACCEPT = 'multipart/related; type=application/octet-stream; transfer-syntax=*';

// dcmjs (the copy dcmjs-codecs loads: the server's own reader is not used for the expectation).
const require = createRequire(import.meta.url);
const dcmjs = createRequire(require.resolve('dcmjs-codecs'))('dcmjs') as {
  data: {
    DicomMessage: {
      readFile(b: ArrayBuffer): { dict: Record<string, { Value?: unknown[] }>; meta: Record<string, unknown> };
    };
  };
};

interface Sample {
  name: string;
  /** The file as sent. */
  bytes: Buffer;
  instance: string;
  transferSyntax: string;
  xrayId: string;
  /** Each frame's bytes as dcmjs reads them from the original file. */
  frames: Buffer[];
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * The frames of a DICOM file as dcmjs reads them: native pixel data cut in frames of
 * Rows × Columns × SamplesPerPixel × BitsAllocated/8; encapsulated pixel data as dcmjs groups it
 * (by the Basic Offset Table, else one fragment each; a single frame is every fragment).
 */
function framesByDcmjs(bytes: Buffer, encapsulated: boolean): Buffer[] {
  const { dict } = dcmjs.data.DicomMessage.readFile(
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer,
  );
  const n = (tag: string) => Number(dict[tag]?.Value?.[0] ?? 1);
  const frames = n('00280008');
  const values = (dict['7FE00010']?.Value ?? []) as ArrayBuffer[];
  if (encapsulated) {
    const buffers = values.map((v) => Buffer.from(v));
    return frames === 1 ? [Buffer.concat(buffers)] : buffers;
  }
  const all = Buffer.from(values[0]!);
  const size = (n('00280010') * n('00280011') * n('00280002') * n('00280100')) / 8;
  return Array.from({ length: frames }, (_, i) => all.subarray(i * size, (i + 1) * size));
}

/**
 * WADO-RS Retrieve Frames against the real server (PostgreSQL, encrypted storage): OHIF's way of
 * loading pixels. Each part is the frame dcmjs reads from the original file (sha256), native and
 * compressed (dcmtk's JPEG lossless, JPEG-LS, RLE; one fragment per frame, with and without a
 * Basic Offset Table, several fragments per frame); refusals and the audit are a retrieve's.
 */
describe('WADO-RS Retrieve Frames', () => {
  let server: TestServer;
  let dir: string;
  const samples: Sample[] = [];
  const sample = (name: string) => {
    const s = samples.find((x) => x.name === name);
    if (!s) throw new Error(name);
    return s;
  };
  const framesPath = (s: Sample, frames: string) =>
    `/studies/${STUDY}/series/${SERIES}/instances/${s.instance}/frames/${frames}`;
  const get = (p: string, actor = DOCTOR, headers: Record<string, string> = {}, method = 'GET') =>
    fetch(`${server.url}/dicom-web${p}`, { method, headers: { 'X-Test-Actor': actor, ...headers } });

  async function make(
    name: string,
    options: NonNullable<Parameters<typeof makeDicom>[0]>,
    transform?: (input: string, output: string) => Promise<void>,
  ): Promise<void> {
    const source = path.join(dir, `${name}.source.dcm`);
    await writeFile(
      source,
      makeDicom({ rows: 64, columns: 64, studyInstanceUid: STUDY, seriesInstanceUid: SERIES, ...options }),
    );
    const file = path.join(dir, `${name}.dcm`);
    if (transform) await transform(source, file);
    else await writeFile(file, await readFile(source));
    const bytes = await readFile(file);
    const xrayId = randomUUID();
    const res = await postXray(server.url, validMetadata({ id: xrayId, patientId: 'P-1931' }), blobOf(bytes), {
      'X-Test-Actor': MEDIC,
    });
    expect(res.status, await res.clone().text()).toBe(201);
    const dump = (await dcmtk('dcmdump', ['-Un', '+P', '0002,0010', '+P', '0008,0018', file])).stdout;
    const [ts = '', sop = ''] = [...dump.matchAll(/\[([0-9.]+)\]/g)].map((m) => m[1]);
    samples.push({
      name,
      bytes,
      instance: sop,
      transferSyntax: ts,
      xrayId,
      frames: framesByDcmjs(bytes, ts !== EXPLICIT_LE && ts !== IMPLICIT_LE),
    });
  }
  const tool =
    (name: string, ...args: string[]) =>
    async (input: string, output: string) => {
      await dcmtk(name, [...args, input, output]);
    };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'frames-'));
    server = await startTestServer('fs', {}, { authenticate: headerActor });
    await make('native', { rows: 256, columns: 256, seed: 301 });
    await make('implicit', { seed: 302 }, tool('dcmconv', '+ti'));
    await make('multi', { seed: 303, frames: 3 });
    await make('jpeg', { seed: 304 }, tool('dcmcjpeg'));
    await make('jpeg-ls', { seed: 305 }, tool('dcmcjpls'));
    await make('rle', { seed: 306 }, tool('dcmcrle'));
    // Multi-frame compressed: one fragment per frame with a Basic Offset Table (dcmtk's default) …
    await make('jpeg-multi', { seed: 307, frames: 3 }, tool('dcmcjpeg'));
    // … without one (the fragments are counted) …
    await make('rle-multi-no-table', { seed: 308, frames: 3 }, tool('dcmcrle', '-ot'));
    // … several fragments per frame, located by the table …
    await make(
      'jpeg-multi-fragmented',
      { rows: 128, columns: 128, seed: 309, frames: 3 },
      tool('dcmcjpeg', '+fs', '1'),
    );
    // … and not locatable without decoding: several fragments per frame and no table.
    await make(
      'jpeg-multi-unlocatable',
      { rows: 128, columns: 128, seed: 310, frames: 3 },
      tool('dcmcjpeg', '+fs', '1', '-ot'),
    );
    // One frame in several fragments, no table: all of them.
    await make('jpeg-fragmented', { rows: 128, columns: 128, seed: 311 }, tool('dcmcjpeg', '+fs', '1', '-ot'));
  });
  afterAll(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function frames(s: Sample, list: string, accept?: string) {
    const res = await get(framesPath(s, list), DOCTOR, accept === undefined ? {} : { Accept: accept });
    const body = Buffer.from(await res.arrayBuffer());
    expect(res.status, `${s.name} ${list}: ${body.toString().slice(0, 300)}`).toBe(200);
    const type = res.headers.get('content-type') ?? '';
    return { type, parts: multipartParts(body, type) };
  }

  it('native pixel data: each part is the frame dcmjs reads (single frame, Implicit VR, frames 1 and 3 of three, in the order asked)', async () => {
    expect(samples.map((s) => s.transferSyntax)).toEqual([
      EXPLICIT_LE,
      IMPLICIT_LE,
      EXPLICIT_LE,
      JPEG_LOSSLESS,
      JPEG_LS,
      RLE,
      JPEG_LOSSLESS,
      RLE,
      JPEG_LOSSLESS,
      JPEG_LOSSLESS,
      JPEG_LOSSLESS,
    ]);
    const native = sample('native');
    expect(native.frames[0]?.length).toBe(256 * 256 * 2);
    // OHIF's Accept, none, */*, and the stored syntax named.
    for (const accept of [
      OHIF_ACCEPT,
      undefined,
      '*/*',
      `multipart/related; type="application/octet-stream"; transfer-syntax=${EXPLICIT_LE}`,
    ]) {
      const { type, parts } = await frames(native, '1', accept);
      expect(type).toMatch(/^multipart\/related; type="application\/octet-stream"; boundary=/);
      expect(parts.map((p) => p.headers)).toEqual([
        `Content-Type: application/octet-stream; transfer-syntax=${EXPLICIT_LE}\r\nContent-Length: ${256 * 256 * 2}`,
      ]);
      expect(sha256(parts[0]!.bytes), String(accept)).toBe(sha256(native.frames[0]!));
    }
    const implicit = sample('implicit');
    const stored = await frames(implicit, '1', OHIF_ACCEPT);
    expect(stored.parts[0]?.headers).toContain(`transfer-syntax=${IMPLICIT_LE}`);
    expect(sha256(stored.parts[0]!.bytes)).toBe(sha256(implicit.frames[0]!));
    // The same bytes in Explicit VR: asked for, named so.
    const asExplicit = await frames(
      implicit,
      '1',
      `multipart/related; type="application/octet-stream"; transfer-syntax=${EXPLICIT_LE}`,
    );
    expect(asExplicit.parts[0]?.headers).toContain(`transfer-syntax=${EXPLICIT_LE}`);
    expect(sha256(asExplicit.parts[0]!.bytes)).toBe(sha256(implicit.frames[0]!));

    const multi = sample('multi');
    expect(multi.frames).toHaveLength(3);
    expect(new Set(multi.frames.map(sha256)).size).toBe(3);
    const { parts } = await frames(multi, '1,3');
    expect(parts.map((p) => sha256(p.bytes))).toEqual([sha256(multi.frames[0]!), sha256(multi.frames[2]!)]);
    const reversed = await frames(multi, '3,2,1');
    expect(reversed.parts.map((p) => sha256(p.bytes))).toEqual([2, 1, 0].map((i) => sha256(multi.frames[i]!)));
  });

  it('compressed pixel data: each part is the frame’s bitstream as stored (JPEG lossless, JPEG-LS, RLE; multi-frame with and without an offset table, fragmented)', async () => {
    for (const name of ['jpeg', 'jpeg-ls', 'rle', 'jpeg-fragmented']) {
      const s = sample(name);
      const { type, parts } = await frames(s, '1', OHIF_ACCEPT);
      expect(type).toMatch(/^multipart\/related; type="application\/octet-stream"; boundary=/);
      expect(
        parts.map((p) => p.headers),
        name,
      ).toEqual([`Content-Type: application/octet-stream; transfer-syntax=${s.transferSyntax}`]);
      expect(sha256(parts[0]!.bytes), name).toBe(sha256(s.frames[0]!));
    }
    // A JPEG frame is a JPEG bitstream (SOI … EOI).
    const jpeg = (await frames(sample('jpeg'), '1')).parts[0]!.bytes;
    expect(jpeg.subarray(0, 2).toString('hex')).toBe('ffd8');
    expect(jpeg.subarray(-2).toString('hex')).toBe('ffd9');

    for (const name of ['jpeg-multi', 'rle-multi-no-table', 'jpeg-multi-fragmented']) {
      const s = sample(name);
      expect(s.frames, name).toHaveLength(3);
      const { parts } = await frames(s, '1,3', OHIF_ACCEPT);
      expect(
        parts.map((p) => sha256(p.bytes)),
        name,
      ).toEqual([sha256(s.frames[0]!), sha256(s.frames[2]!)]);
      const second = await frames(s, '2');
      expect(sha256(second.parts[0]!.bytes), name).toBe(sha256(s.frames[1]!));
    }

    // The bitstream's own media type, when the client asks for it (the old names too).
    for (const [name, asked, answered] of [
      ['jpeg', 'image/jpeg', 'image/jpeg'],
      ['jpeg-ls', 'image/jls', 'image/jls'],
      ['rle', 'image/x-dicom-rle', 'image/x-dicom-rle'],
    ] as const) {
      const s = sample(name);
      const { type, parts } = await frames(
        s,
        '1',
        `multipart/related; type="${asked}"; transfer-syntax=${s.transferSyntax}`,
      );
      expect(type).toMatch(new RegExp(`^multipart/related; type="${answered}"; boundary=`));
      expect(parts[0]?.headers).toBe(`Content-Type: ${answered}; transfer-syntax=${s.transferSyntax}`);
      expect(sha256(parts[0]!.bytes)).toBe(sha256(s.frames[0]!));
    }
  });

  it('two different files under one SOP Instance UID (two patients): DICOMweb serves only the one stored first, the later X-ray says so; deleting the first hands the UID over', async () => {
    const sop = '1.2.826.0.1.3680043.10.19.31.99';
    const files = [701, 702].map((seed) =>
      Buffer.from(
        makeDicom({
          rows: 64,
          columns: 64,
          studyInstanceUid: STUDY,
          seriesInstanceUid: SERIES,
          seed,
          sopInstanceUid: sop,
        }),
      ),
    );
    // The later file has the smaller sha256: an order left to the hash would serve it.
    files.sort((a, b) => sha256(b).localeCompare(sha256(a)));
    const stored = [
      { bytes: files[0]!, patientId: 'P-1941', actor: MEDIC, id: randomUUID() },
      { bytes: files[1]!, patientId: 'P-1942', actor: OTHER_MEDIC, id: randomUUID() },
    ];
    const posted: boolean[] = [];
    for (const x of stored) {
      const res = await postXray(server.url, validMetadata({ id: x.id, patientId: x.patientId }), blobOf(x.bytes), {
        'X-Test-Actor': x.actor,
      });
      expect(res.status, await res.clone().text()).toBe(201);
      posted.push(((await res.json()) as { dicomUidConflict: boolean }).dicomUidConflict);
    }
    // Stored all the same (a capture is never lost), and the answer to the later upload says so.
    expect(posted).toEqual([false, true]);
    const instancePath = `/studies/${STUDY}/series/${SERIES}/instances/${sop}`;
    const flagOf = async (id: string, actor = DOCTOR) => {
      const res = await fetch(`${server.url}/xrays/${id}`, { headers: { 'X-Test-Actor': actor } });
      expect(res.status).toBe(200);
      return ((await res.json()) as { dicomUidConflict: boolean }).dicomUidConflict;
    };
    const listed = async (patientId: string) => {
      const res = await fetch(`${server.url}/xrays?patientId=${patientId}`, { headers: { 'X-Test-Actor': DOCTOR } });
      expect(res.status).toBe(200);
      return ((await res.json()) as { items: { id: string; dicomUidConflict: boolean }[] }).items;
    };
    /** What every DICOMweb door serves under the UID: one file, the one `x` stored. */
    const servesOnly = async (x: (typeof stored)[number]) => {
      const frames = await get(`${instancePath}/frames/1`);
      expect(frames.status).toBe(200);
      const [part] = multipartParts(Buffer.from(await frames.arrayBuffer()), frames.headers.get('content-type') ?? '');
      expect(sha256(part!.bytes)).toBe(sha256(framesByDcmjs(x.bytes, false)[0]!));
      const patientIds = (sets: Record<string, { Value?: unknown[] }>[]) => sets.map((d) => d['00100020']?.Value?.[0]);
      const meta = await get(`${instancePath}/metadata`, DOCTOR, { Accept: 'application/dicom+json' });
      expect(patientIds((await meta.json()) as Record<string, { Value?: unknown[] }>[])).toEqual([x.patientId]);
      const qido = await get(`/instances?SOPInstanceUID=${sop}`, DOCTOR, { Accept: 'application/dicom+json' });
      expect(patientIds((await qido.json()) as Record<string, { Value?: unknown[] }>[])).toEqual([x.patientId]);
      const retrieve = await get(instancePath, DOCTOR, { Accept: 'multipart/related; type="application/dicom"' });
      expect(retrieve.status).toBe(200);
      const parts = multipartParts(
        Buffer.from(await retrieve.arrayBuffer()),
        retrieve.headers.get('content-type') ?? '',
      );
      expect(parts.map((p) => sha256(p.bytes))).toEqual([sha256(x.bytes)]);
      // The series too: the other file is in none of its parts.
      const series = await get(`/studies/${STUDY}/series/${SERIES}`, DOCTOR, {
        Accept: 'multipart/related; type="application/dicom"',
      });
      const seriesParts = multipartParts(
        Buffer.from(await series.arrayBuffer()),
        series.headers.get('content-type') ?? '',
      );
      const shas = seriesParts.map((p) => sha256(p.bytes));
      expect(shas).toContain(sha256(x.bytes));
      for (const other of stored.filter((o) => o !== x)) expect(shas).not.toContain(sha256(other.bytes));
    };
    await servesOnly(stored[0]!);
    expect([await flagOf(stored[0]!.id), await flagOf(stored[1]!.id)]).toEqual([false, true]);
    expect((await listed('P-1942')).find((i) => i.id === stored[1]!.id)?.dicomUidConflict).toBe(true);
    // The later file's own capturer is not shown it under the UID either (nor the first one's).
    expect(await flagOf(stored[1]!.id, OTHER_MEDIC)).toBe(true);
    expect((await get(`${instancePath}/frames/1`, OTHER_MEDIC)).status).toBe(404);
    const scoped = await get(`/instances?SOPInstanceUID=${sop}`, OTHER_MEDIC, { Accept: 'application/dicom+json' });
    expect(scoped.status === 204 ? [] : await scoped.json()).toEqual([]);

    // The first X-ray deleted: the second holds the UID now, and its flag is gone.
    const del = await fetch(`${server.url}/xrays/${stored[0]!.id}`, {
      method: 'DELETE',
      headers: { 'X-Test-Actor': ADMIN },
    });
    expect(del.status, await del.clone().text()).toBeLessThan(300);
    await servesOnly(stored[1]!);
    expect(await flagOf(stored[1]!.id)).toBe(false);
    expect((await listed('P-1942')).find((i) => i.id === stored[1]!.id)?.dicomUidConflict).toBe(false);
    expect((await get(`${instancePath}/frames/1`, OTHER_MEDIC)).status).toBe(200);
  });

  it('attack: the first file stored again later (same bytes, another id) does not hand the instance to the second file', async () => {
    const sop = '1.2.826.0.1.3680043.10.19.31.98';
    const [firstFile, secondFile] = [703, 704].map((seed) =>
      Buffer.from(
        makeDicom({
          rows: 64,
          columns: 64,
          studyInstanceUid: STUDY,
          seriesInstanceUid: SERIES,
          seed,
          sopInstanceUid: sop,
        }),
      ),
    );
    const frameSha = async () => {
      const res = await get(`/studies/${STUDY}/series/${SERIES}/instances/${sop}/frames/1`);
      expect(res.status).toBe(200);
      const [part] = multipartParts(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type') ?? '');
      return sha256(part!.bytes);
    };
    const store = async (bytes: Buffer, actor: string) => {
      const res = await postXray(server.url, validMetadata({ id: randomUUID(), patientId: 'P-1932' }), blobOf(bytes), {
        'X-Test-Actor': actor,
      });
      expect(res.status, await res.clone().text()).toBe(201);
    };
    const first = sha256(framesByDcmjs(firstFile!, false)[0]!);
    await store(firstFile!, MEDIC);
    await store(secondFile!, MEDIC);
    expect(await frameSha()).toBe(first);
    // The first file again, later, by someone else (an edge retry under a new id, another device).
    await store(firstFile!, OTHER_MEDIC);
    expect(await frameSha()).toBe(first);
  });

  it('attack: the same file stored for two patients is found under each, not only under the one stored last', async () => {
    const sop = '1.2.826.0.1.3680043.10.19.31.97';
    const bytes = Buffer.from(
      makeDicom({
        rows: 16,
        columns: 16,
        studyInstanceUid: STUDY,
        seriesInstanceUid: SERIES,
        seed: 705,
        sopInstanceUid: sop,
      }),
    );
    const xrayIds: string[] = [];
    for (const [actor, patientId] of [
      [MEDIC, 'P-1933'],
      [OTHER_MEDIC, 'P-1934'],
    ] as const) {
      const id = randomUUID();
      const res = await postXray(server.url, validMetadata({ id, patientId }), blobOf(bytes), {
        'X-Test-Actor': actor,
      });
      expect(res.status, await res.clone().text()).toBe(201);
      xrayIds.push(id);
    }
    // One file: no conflict to flag.
    for (const id of xrayIds) {
      const res = await fetch(`${server.url}/xrays/${id}`, { headers: { 'X-Test-Actor': DOCTOR } });
      expect(((await res.json()) as { dicomUidConflict: boolean }).dicomUidConflict, id).toBe(false);
    }
    for (const patientId of ['P-1933', 'P-1934']) {
      const res = await get(`/instances?SOPInstanceUID=${sop}&PatientID=${patientId}`, DOCTOR, {
        Accept: 'application/dicom+json',
      });
      expect(res.status, patientId).toBe(200);
      expect(((await res.json()) as unknown[]).length, patientId).toBe(1);
    }
    // The instance's metadata names both links (the doctor sees the conflict), the frames are the same bytes.
    const meta = await get(`/studies/${STUDY}/series/${SERIES}/instances/${sop}/metadata`);
    const ids = ((await meta.json()) as Record<string, { Value?: unknown[] }>[]).map((d) => d['00100020']?.Value?.[0]);
    expect(ids.sort()).toEqual(['P-1933', 'P-1934']);
  });

  it('HEAD answers as GET without a body', async () => {
    const res = await get(framesPath(sample('multi'), '2'), DOCTOR, {}, 'HEAD');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^multipart\/related; type="application\/octet-stream"/);
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  it('a malformed frame list is 400 naming `frames`; a frame past NumberOfFrames 404 naming it; an unknown instance 404', async () => {
    const multi = sample('multi');
    for (const list of [
      '0',
      '-1',
      'a',
      '1,,2',
      '1,',
      ',',
      '1.5',
      '1;2',
      Array.from({ length: 1001 }, () => '1').join(','),
    ]) {
      const res = await get(framesPath(multi, encodeURIComponent(list).replaceAll('%2C', ',')));
      expect(res.status, list.slice(0, 20)).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await res.json()).toMatchObject({ code: 'bad_request', errors: [{ field: 'frames' }] });
    }
    const beyond = await get(framesPath(multi, '1,4'));
    expect(beyond.status).toBe(404);
    expect(beyond.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const problem = (await beyond.json()) as { code: string; detail: string };
    expect(problem.code).toBe('not_found');
    expect(problem.detail).toMatch(/3 frames.*frame 4/);
    const single = await get(framesPath(sample('jpeg'), '2'));
    expect(single.status).toBe(404);
    const unknown = await get(`/studies/${STUDY}/series/${SERIES}/instances/1.2.3.404/frames/1`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 'not_found' });
  });

  it('406 for what cannot be served without transcoding: another transfer syntax, another type, unlocatable frames', async () => {
    const cases: [string, string | undefined][] = [
      ['jpeg', `multipart/related; type="application/octet-stream"; transfer-syntax=${EXPLICIT_LE}`],
      ['jpeg', 'multipart/related; type="image/jls"'],
      ['native', 'multipart/related; type="image/jpeg"'],
      ['native', `multipart/related; type="application/octet-stream"; transfer-syntax=${JPEG_LOSSLESS}`],
      ['native', 'application/dicom'],
      ['native', 'multipart/related; type="application/dicom"'],
      ['jpeg-multi-unlocatable', undefined],
    ];
    for (const [name, accept] of cases) {
      const res = await get(framesPath(sample(name), '1'), DOCTOR, accept === undefined ? {} : { Accept: accept });
      expect(res.status, `${name} ${accept}`).toBe(406);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await res.json()).toMatchObject({ code: 'not_acceptable', status: 406 });
    }
    const unlocatable = (await (await get(framesPath(sample('jpeg-multi-unlocatable'), '2'))).json()) as {
      detail: string;
    };
    expect(unlocatable.detail).toMatch(/cannot be told apart/);
  });

  it('the capturer and a doctor read frames, another paramedic gets 404, no role 403; audited as the instance’s download, refusals as denials', async () => {
    const s = sample('multi');
    const ids = {
      doctor: `frames-doctor-${randomUUID()}`,
      medic: `frames-medic-${randomUUID()}`,
      other: `frames-other-${randomUUID()}`,
      none: `frames-none-${randomUUID()}`,
      beyond: `frames-beyond-${randomUUID()}`,
    };
    const doctor = await get(framesPath(s, '1,3'), DOCTOR, { 'X-Request-Id': ids.doctor });
    expect(doctor.status).toBe(200);
    await doctor.arrayBuffer();
    const medic = await get(framesPath(s, '2'), MEDIC, { 'X-Request-Id': ids.medic });
    expect(medic.status).toBe(200);
    const medicParts = multipartParts(Buffer.from(await medic.arrayBuffer()), medic.headers.get('content-type') ?? '');
    expect(medicParts.map((p) => sha256(p.bytes))).toEqual([sha256(s.frames[1]!)]);
    const other = await get(framesPath(s, '1'), OTHER_MEDIC, { 'X-Request-Id': ids.other });
    expect(other.status).toBe(404);
    expect(await other.json()).toMatchObject({ code: 'not_found' });
    const none = await get(framesPath(s, '1'), NO_ROLE, { 'X-Request-Id': ids.none });
    expect(none.status).toBe(403);
    expect(await none.json()).toMatchObject({ code: 'forbidden' });
    expect((await get(framesPath(s, '9'), DOCTOR, { 'X-Request-Id': ids.beyond })).status).toBe(404);

    const { rows } = await server.pool.query<{
      request_id: string;
      action: string;
      outcome: string;
      xray_id: string | null;
      actor_sub: string;
      details: Record<string, unknown>;
    }>(
      `SELECT request_id, action, outcome, xray_id, actor_sub, details FROM audit_events WHERE request_id = ANY($1) ORDER BY id`,
      [Object.values(ids)],
    );
    const by = (id: string) => rows.filter((r) => r.request_id === id);
    expect(by(ids.doctor)).toEqual([
      expect.objectContaining({
        action: 'xray.download',
        outcome: 'success',
        xray_id: s.xrayId,
        actor_sub: 'doctor-frames',
        details: expect.objectContaining({
          interface: 'dicomweb',
          dicomweb: 'frames',
          frames: '1,3',
          study: STUDY,
          series: SERIES,
          instance: s.instance,
        }),
      }),
    ]);
    expect(by(ids.medic)).toEqual([
      expect.objectContaining({
        action: 'xray.download',
        outcome: 'success',
        details: expect.objectContaining({ frames: '2' }),
      }),
    ]);
    expect(by(ids.other)).toEqual([
      expect.objectContaining({
        action: 'access.denied',
        outcome: 'denied',
        details: expect.objectContaining({ attempted: 'xray.download', denial: 'not_owner' }),
      }),
    ]);
    expect(by(ids.none)).toEqual([
      expect.objectContaining({
        action: 'access.denied',
        outcome: 'denied',
        details: expect.objectContaining({ attempted: 'xray.download', error: 'forbidden' }),
      }),
    ]);
    expect(by(ids.beyond)).toEqual([
      expect.objectContaining({
        action: 'xray.download',
        outcome: 'failed',
        details: expect.objectContaining({ error: 'not_found' }),
      }),
    ]);
  });

  it('a stored segment that fails authentication cuts the response after the frames before it; frames elsewhere still read', async () => {
    // Three frames of 1.28 MB: frame 1 in the first two 1 MiB segments, frames 2 and 3 cross the third.
    await make('tampered', { rows: 800, columns: 800, seed: 312, frames: 3 });
    const s = sample('tampered');
    const { rows } = await server.pool.query<{ key: string }>('SELECT object_key AS key FROM xrays WHERE id = $1', [
      s.xrayId,
    ]);
    if (server.config.storage.kind !== 'fs') throw new Error('the test writes the stored object on disk');
    const file = path.join(server.config.storage.dir, rows[0]!.key);
    const stored = await readFile(file);
    expect(stored.subarray(0, 4).toString('latin1')).toBe('XRE1');
    const SEG = 1024 * 1024;
    const TAG = 16;
    // One byte of the third segment (plaintext [2 MiB, 3 MiB)) flipped, as bit rot or an attacker would.
    stored[8 + stored.readUInt32BE(4) + 2 * (SEG + TAG) + 4321]! ^= 0x01;
    await writeFile(file, stored);

    const url = `${server.url}/dicom-web${framesPath(s, '1,2')}`;
    const cut = await readDownload(url, { 'X-Test-Actor': DOCTOR });
    expect(cut.status).toBe(200);
    expect(cut.failed).toBe(true);
    // Frame 1 whole, then of frame 2 only bytes before the damaged segment: never a wrong byte.
    const frame1 = s.frames[0]!;
    const frame2 = s.frames[1]!;
    const at1 = cut.body.indexOf(frame1.subarray(0, 64));
    expect(at1).toBeGreaterThan(0);
    expect(cut.body.subarray(at1, at1 + frame1.length).equals(frame1)).toBe(true);
    const head2 = cut.body.indexOf('\r\n\r\n', at1 + frame1.length);
    const got2 = cut.body.subarray(head2 + 4);
    expect(got2.equals(frame2.subarray(0, got2.length))).toBe(true);
    const frame2Start = s.bytes.indexOf(frame2.subarray(0, 64));
    expect(frame2Start + got2.length).toBeLessThanOrEqual(2 * SEG);

    // Frame 1 alone touches only the good segments.
    const { parts } = await frames(s, '1');
    expect(sha256(parts[0]!.bytes)).toBe(sha256(frame1));
  });

  it('answers as Orthanc does: the same frame bytes from Orthanc’s own Retrieve Frames for the same files', async () => {
    const orthanc = await startOrthanc();
    try {
      for (const [name, list] of [
        ['native', '1'],
        ['multi', '3'],
        ['jpeg', '1'],
        ['jpeg-ls', '1'],
        ['rle', '1'],
        ['jpeg-multi', '2'],
      ] as const) {
        const s = sample(name);
        await orthanc.upload(s.bytes);
        const p = `/dicom-web${framesPath(s, list)}`;
        const theirs = await orthanc.request('GET', p, undefined, { Accept: OHIF_ACCEPT });
        const theirBody = Buffer.from(await theirs.arrayBuffer());
        expect(theirs.status, `${name}: ${theirBody.toString().slice(0, 200)}`).toBe(200);
        const theirParts = multipartParts(theirBody, theirs.headers.get('content-type') ?? '');
        const ours = await frames(s, list, OHIF_ACCEPT);
        expect(
          ours.parts.map((x) => sha256(x.bytes)),
          name,
        ).toEqual(theirParts.map((x) => sha256(x.bytes)));
      }
    } finally {
      await orthanc.stop();
    }
  });
});
