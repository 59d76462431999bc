import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { dcmtk, makeDicom, makePng } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rendersPrefixOf } from '../src/rendering/render.cache.ts';
import type { ObjectStore } from '../src/storage/index.ts';
import { ADMIN, DOCTOR, eventsOf, PARAMEDIC } from './audit.support.ts';
import { blobOf, headerActor, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';
import { startOrthanc, type Orthanc } from './orthanc.ts';

/**
 * Rendering as a radiographer would accept it, proven against a reference: Orthanc's own
 * `/instances/{id}/rendered` for the same files (MONOCHROME1 and 2, with and without a window in
 * the file, a rescale, and the compressed syntaxes dcmtk writes) gives an image of the same size
 * whose mean gray is within 2 levels of ours. Then the cache (a second request decodes nothing;
 * what is stored is ciphertext; a DELETE leaves none), the refusals and who may see what.
 */

const ROWS = 300;
const COLUMNS = 200;
const OTHER_PARAMEDIC = 'para-2; paramedic';

interface Fixture {
  name: string;
  file: string;
}

/** A file made with dcmtk: the testkit's 12-bit DX image, tags changed by dcmodify, compressed by `tool`. */
async function variant(
  dir: string,
  name: string,
  seed: number,
  tags: string[],
  compress?: [tool: string, ...args: string[]],
): Promise<Fixture> {
  const plain = path.join(dir, `${name}.plain.dcm`);
  await writeFile(plain, makeDicom({ rows: ROWS, columns: COLUMNS, seed, patientId: 'P-1001' }));
  if (tags.length) await dcmtk('dcmodify', ['-nb', ...tags.flatMap((t) => ['-i', t]), plain]);
  if (!compress) return { name, file: plain };
  const [tool, ...args] = compress;
  const file = path.join(dir, `${name}.dcm`);
  await dcmtk(tool, [...args, plain, file]);
  return { name, file };
}

const MONO1 = '(0028,0004)=MONOCHROME1';
const WINDOW = ['(0028,1050)=1500', '(0028,1051)=800'];

/** Mean gray and size of an image (PNG or JPEG), decoded by sharp. */
async function grayOf(bytes: Uint8Array): Promise<{ mean: number; width: number; height: number }> {
  const { data, info } = await sharp(bytes).greyscale().raw().toBuffer({ resolveWithObject: true });
  let sum = 0;
  for (const v of data) sum += v;
  return { mean: sum / data.length, width: info.width, height: info.height };
}

async function rendersCount(server: TestServer, outcome: string): Promise<number> {
  const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
  const m = new RegExp(`^xray_renders_total\\{outcome="${outcome}"\\} (\\d+)`, 'm').exec(text);
  return Number(m?.[1] ?? 0);
}

const JPEG_MAGIC = Buffer.from([0xff, 0xd8, 0xff]);
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe('rendered previews', () => {
  let server: TestServer;
  let orthanc: Orthanc;
  let dir: string;
  const fixtures: Fixture[] = [];

  async function upload(bytes: Uint8Array, actor = PARAMEDIC): Promise<string> {
    const res = await postXray(server.url, validMetadata(), blobOf(bytes), { 'X-Test-Actor': actor });
    expect(res.status, await res.clone().text()).toBe(201);
    return ((await res.json()) as { id: string }).id;
  }

  const preview = (id: string, query = '', headers: Record<string, string> = {}, actor = DOCTOR) =>
    fetch(`${server.url}/xrays/${id}/preview${query}`, { headers: { 'X-Test-Actor': actor, ...headers } });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'xray-rendering-'));
    const made = await Promise.all([
      variant(dir, 'monochrome2', 1, []),
      variant(dir, 'monochrome2-window', 2, WINDOW),
      variant(dir, 'monochrome1', 3, [MONO1]),
      variant(dir, 'monochrome1-window', 4, [MONO1, ...WINDOW]),
      variant(dir, 'rescale-window', 5, ['(0028,1052)=-1024', '(0028,1053)=2', '(0028,1050)=2000', '(0028,1051)=3000']),
      variant(dir, 'jpeg-lossless', 6, WINDOW, ['dcmcjpeg']),
      variant(dir, 'jpeg-lossless-mono1', 7, [MONO1], ['dcmcjpeg', '+e1']),
      variant(dir, 'jpeg-baseline', 8, WINDOW, ['dcmcjpeg', '+eb']),
      variant(dir, 'jpeg-extended-mono1', 9, [MONO1, ...WINDOW], ['dcmcjpeg', '+ee']),
      variant(dir, 'jpeg-ls', 10, [], ['dcmcjpls']),
      variant(dir, 'jpeg-ls-mono1-window', 11, [MONO1, ...WINDOW], ['dcmcjpls']),
      variant(dir, 'rle', 12, WINDOW, ['dcmcrle']),
      variant(dir, 'rle-mono1', 13, [MONO1], ['dcmcrle']),
      variant(dir, 'implicit-vr', 14, [MONO1], ['dcmconv', '+ti']),
      // 16 bits stored, signed, a rescale to negative values, and a window over them.
      variant(dir, 'signed16-rescale', 15, [
        '(0028,0101)=16',
        '(0028,0102)=15',
        '(0028,0103)=1',
        '(0028,1052)=-2048',
        '(0028,1053)=1',
        '(0028,1050)=0',
        '(0028,1051)=3000',
      ]),
    ]);
    // An intercept without its slope: not a rescale (PS3.3 C.11.1 wants both), as dcmtk and Orthanc read it.
    made.push(await variant(dir, 'intercept-without-slope', 16, ['(0028,1052)=-1024', ...WINDOW]));
    // 8 bits allocated, uncompressed: the baseline JPEG (which dcmtk writes at 8 bits) decompressed again.
    const eightBit = path.join(dir, 'eight-bit.dcm');
    await dcmtk('dcmdjpeg', [made.find((f) => f.name === 'jpeg-baseline')!.file, eightBit]);
    await dcmtk('dcmodify', ['-nb', '-gin', eightBit]);
    made.push({ name: 'eight-bit', file: eightBit });
    fixtures.push(...made);
    [server, orthanc] = await Promise.all([startTestServer('fs', {}, { authenticate: headerActor }), startOrthanc()]);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([server?.close(), orthanc?.stop()]);
    await rm(dir, { recursive: true, force: true });
  });

  it('matches Orthanc’s rendering: same size, mean gray within 2 levels, for every photometric, window and syntax', async () => {
    const rows: string[] = [];
    for (const f of fixtures) {
      const bytes = await readFile(f.file);
      const stored = await orthanc.upload(bytes);
      const theirs = await orthanc.request('GET', `/instances/${stored.ID}/rendered`, undefined, {
        Accept: 'image/png',
      });
      expect(theirs.status, `${f.name}: ${orthanc.tail()}`).toBe(200);
      const id = await upload(bytes);
      // The longest side: the preview is then the image at its own size.
      const ours = await preview(id, `?size=${Math.max(ROWS, COLUMNS)}`, { Accept: 'image/png' });
      expect(ours.status, `${f.name}: ${await ours.clone().text()}`).toBe(200);
      expect(ours.headers.get('content-type')).toBe('image/png');
      const a = await grayOf(new Uint8Array(await ours.arrayBuffer()));
      const b = await grayOf(new Uint8Array(await theirs.arrayBuffer()));
      rows.push(`${f.name}: ours ${a.mean.toFixed(2)} orthanc ${b.mean.toFixed(2)}`);
      expect({ name: f.name, width: a.width, height: a.height }).toEqual({
        name: f.name,
        width: COLUMNS,
        height: ROWS,
      });
      expect({ name: f.name, width: b.width, height: b.height }).toEqual({
        name: f.name,
        width: COLUMNS,
        height: ROWS,
      });
      expect(Math.abs(a.mean - b.mean), rows.join('\n')).toBeLessThanOrEqual(2);
    }
    // The fixtures differ from each other: a renderer that ignored the window or MONOCHROME1 fails above.
    const means = rows.map((r) => Number(/ours ([\d.]+)/.exec(r)?.[1]));
    expect(Math.max(...means) - Math.min(...means)).toBeGreaterThan(30);
  }, 180_000);

  it('a second request decodes nothing: it is served from the encrypted cache, which holds no image bytes in clear', async () => {
    const bytes = await readFile(fixtures.find((f) => f.name === 'jpeg-ls')!.file);
    const id = await upload(bytes);
    const decoded = await rendersCount(server, 'decoded');
    const cached = await rendersCount(server, 'cached');

    const first = await preview(id, '?size=128');
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('image/jpeg');
    expect(first.headers.get('cache-control')).toBe('private, no-store');
    const firstBytes = Buffer.from(await first.arrayBuffer());
    expect(firstBytes.subarray(0, 3).equals(JPEG_MAGIC)).toBe(true);
    expect((await grayOf(firstBytes)).height).toBe(128);
    expect(await rendersCount(server, 'decoded')).toBe(decoded + 1);

    const second = await preview(id, '?size=128');
    expect(second.status).toBe(200);
    expect(Buffer.from(await second.arrayBuffer()).equals(firstBytes)).toBe(true);
    expect(await rendersCount(server, 'decoded')).toBe(decoded + 1);
    expect(await rendersCount(server, 'cached')).toBe(cached + 1);

    // PNG is another entry (decoded once more), then cached too.
    const png = await preview(id, '?size=128', { Accept: 'image/png' });
    const pngBytes = Buffer.from(await png.arrayBuffer());
    expect(pngBytes.subarray(0, 8).equals(PNG_MAGIC)).toBe(true);
    expect(await rendersCount(server, 'decoded')).toBe(decoded + 2);

    const keys = await server.store.list(rendersPrefixOf(id));
    expect(keys).toHaveLength(2);
    for (const key of keys) {
      const chunks: Buffer[] = [];
      for await (const c of await server.store.get(key)) chunks.push(Buffer.from(c as Uint8Array));
      const stored = Buffer.concat(chunks);
      expect(stored.subarray(0, 4).toString('latin1')).toBe('XRR1');
      expect(stored.includes(JPEG_MAGIC), key).toBe(false);
      expect(stored.includes(PNG_MAGIC), key).toBe(false);
      expect(stored.includes(firstBytes.subarray(0, 64))).toBe(false);
      expect(stored.includes(pngBytes.subarray(8, 64))).toBe(false);
    }
  });

  it('a cache entry copied under other parameters does not open: it is rendered again, never served', async () => {
    const id = await upload(await readFile(fixtures.find((f) => f.name === 'monochrome2')!.file));
    expect((await preview(id, '?size=64')).status).toBe(200);
    expect((await preview(id, '?size=96')).status).toBe(200);
    const [a, b] = await server.store.list(rendersPrefixOf(id));
    // b's object now holds a's entry (its key bound to a's object key).
    await server.store.copy(a!, b!);
    const decoded = await rendersCount(server, 'decoded');
    const res96 = await preview(id, '?size=96');
    const res64 = await preview(id, '?size=64');
    const [img96, img64] = await Promise.all([
      grayOf(new Uint8Array(await res96.arrayBuffer())),
      grayOf(new Uint8Array(await res64.arrayBuffer())),
    ]);
    // Whichever key was overwritten was rendered again at its own size.
    expect([img96.height, img64.height]).toEqual([96, 64]);
    expect(await rendersCount(server, 'decoded')).toBe(decoded + 1);
  });

  it('DELETE of the X-ray removes its cached renders', async () => {
    const id = await upload(await readFile(fixtures.find((f) => f.name === 'rle')!.file));
    for (const size of [64, 200]) expect((await preview(id, `?size=${size}`)).status).toBe(200);
    expect(await server.store.list(rendersPrefixOf(id))).toHaveLength(2);
    const del = await fetch(`${server.url}/xrays/${id}`, { method: 'DELETE', headers: { 'X-Test-Actor': ADMIN } });
    expect(del.status).toBe(204);
    expect(await server.store.list(rendersPrefixOf(id))).toEqual([]);
    expect((await server.store.list('renders/')).filter((k) => k.includes(id))).toEqual([]);
    expect((await preview(id, '?size=64')).status).toBe(404);
  });

  it('PNG and JPEG X-rays get previews too (scaled by sharp)', async () => {
    const id = await upload(makePng({ width: 640, height: 480 }));
    const res = await preview(id, '?size=320');
    expect(res.status).toBe(200);
    const img = await grayOf(new Uint8Array(await res.arrayBuffer()));
    expect([img.width, img.height]).toEqual([320, 240]);
  });

  it('refusals are problem+json: 400 size, 404 unknown, 406 Accept, 422 not renderable', async () => {
    const id = await upload(await readFile(fixtures.find((f) => f.name === 'monochrome2')!.file));
    const problem = async (res: Response) => {
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      return ((await res.json()) as { code: string }).code;
    };
    for (const size of ['63', '2049', 'big']) {
      const res = await preview(id, `?size=${size}`);
      expect(res.status, size).toBe(400);
      expect(await problem(res)).toBe('validation_failed');
    }
    const unknown = await preview(randomUUID());
    expect(unknown.status).toBe(404);
    expect(await problem(unknown)).toBe('not_found');
    const gif = await preview(id, '', { Accept: 'image/gif' });
    expect(gif.status).toBe(406);
    expect(await problem(gif)).toBe('not_acceptable');

    const palette = await variant(dir, 'palette', 99, ['(0028,0004)=PALETTE COLOR']);
    const paletteId = await upload(await readFile(palette.file));
    const failed = await rendersCount(server, 'failed');
    const refusedAgain = await rendersCount(server, 'refused_again');
    const res = await preview(paletteId);
    expect(res.status).toBe(422);
    expect(await problem(res)).toBe('not_renderable');
    expect(await rendersCount(server, 'failed')).toBe(failed + 1);
    // Asked again (a viewer retrying): the same answer, nothing decoded again.
    for (let i = 0; i < 3; i++) {
      const again = await preview(paletteId);
      expect(again.status).toBe(422);
      expect(await problem(again)).toBe('not_renderable');
    }
    expect(await rendersCount(server, 'failed')).toBe(failed + 1);
    expect(await rendersCount(server, 'refused_again')).toBe(refusedAgain + 3);
    // Other parameters are another render: decoded (and refused) on their own.
    expect((await preview(paletteId, '?size=128')).status).toBe(422);
    expect(await rendersCount(server, 'failed')).toBe(failed + 2);
  });

  it('a stored X-ray that is not the one recorded is refused (500 integrity_failed), nothing rendered or cached', async () => {
    const [victim, other] = await Promise.all([
      upload(await readFile(fixtures.find((f) => f.name === 'monochrome2')!.file)),
      upload(await readFile(fixtures.find((f) => f.name === 'monochrome1')!.file)),
    ]);
    const { rows } = await server.pool.query<{ id: string; object_key: string }>(
      'SELECT id, object_key FROM xrays WHERE id = ANY($1)',
      [[victim, other]],
    );
    const keyOf = (id: string) => rows.find((r) => r.id === id)!.object_key;
    // The other X-ray's ciphertext under the victim's key: its segments do not open with the victim's data key.
    await server.store.copy(keyOf(other), keyOf(victim));
    const res = await preview(victim, '?size=64');
    expect(res.status).toBe(500);
    expect(((await res.json()) as { code: string }).code).toBe('integrity_failed');
    expect(await server.store.list(rendersPrefixOf(victim))).toEqual([]);
  });

  it('decided and audited as GET /xrays/{id}: a paramedic sees only their own; refusals are on the trail', async () => {
    const id = await upload(await readFile(fixtures.find((f) => f.name === 'monochrome1')!.file), PARAMEDIC);
    const asked = async (actor: string) => {
      const requestId = randomUUID();
      const res = await preview(id, '?size=64', { 'X-Request-Id': requestId }, actor);
      return { status: res.status, events: await eventsOf(server.pool, requestId) };
    };
    const own = await asked(PARAMEDIC);
    expect(own.status).toBe(200);
    expect(own.events).toMatchObject([
      { action: 'xray.preview', outcome: 'success', xray_id: id, patient_id: 'P-1001', actor_sub: 'para-1' },
    ]);
    expect(own.events[0]?.details).toMatchObject({ type: 'image/jpeg', size: 64 });

    const doctor = await asked(DOCTOR);
    expect(doctor.status).toBe(200);
    expect(doctor.events).toMatchObject([{ action: 'xray.preview', outcome: 'success', xray_id: id }]);
    expect(doctor.events[0]?.details).toMatchObject({ cached: true });

    const other = await asked(OTHER_PARAMEDIC);
    expect(other.status).toBe(404);
    expect(other.events).toMatchObject([
      { action: 'access.denied', outcome: 'denied', xray_id: id, details: { attempted: 'xray.preview' } },
    ]);

    const nobody = await asked('nobody; ');
    expect(nobody.status).toBe(403);
    expect(nobody.events).toMatchObject([{ action: 'access.denied', outcome: 'denied', xray_id: id }]);

    const gif = await preview(id, '', { Accept: 'image/gif', 'X-Request-Id': 'rendering-406' });
    expect(gif.status).toBe(406);
    expect(await eventsOf(server.pool, 'rendering-406')).toMatchObject([
      { action: 'xray.preview', outcome: 'failed', xray_id: id, details: { error: 'not_acceptable' } },
    ]);
  });
});

describe('DICOMweb rendered and thumbnail', () => {
  let server: TestServer;
  let orthanc: Orthanc;
  let dir: string;
  const uploaded: { name: string; file: string; id: string; study: string; series: string; sop: string }[] = [];

  const get = (p: string, headers: Record<string, string> = {}, actor = DOCTOR) =>
    fetch(`${server.url}/dicom-web${p}`, { headers: { 'X-Test-Actor': actor, ...headers } });
  const instancePath = (u: (typeof uploaded)[number]) => `/studies/${u.study}/series/${u.series}/instances/${u.sop}`;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'xray-dicomweb-rendered-'));
    [server, orthanc] = await Promise.all([startTestServer('s3', {}, { authenticate: headerActor }), startOrthanc()]);
    for (const f of await Promise.all([
      variant(dir, 'monochrome1-window', 21, [MONO1, ...WINDOW]),
      variant(dir, 'jpeg-ls', 22, [], ['dcmcjpls']),
      variant(dir, 'jpeg-lossless-mono1', 23, [MONO1], ['dcmcjpeg']),
    ])) {
      const res = await postXray(server.url, validMetadata(), blobOf(await readFile(f.file)), {
        'X-Test-Actor': PARAMEDIC,
      });
      expect(res.status, await res.clone().text()).toBe(201);
      const x = (await res.json()) as {
        id: string;
        dicom: { studyInstanceUid: string; seriesInstanceUid: string; sopInstanceUid: string };
      };
      uploaded.push({
        ...f,
        id: x.id,
        study: x.dicom.studyInstanceUid,
        series: x.dicom.seriesInstanceUid,
        sop: x.dicom.sopInstanceUid,
      });
    }
  }, 180_000);

  afterAll(async () => {
    await Promise.all([server?.close(), orthanc?.stop()]);
    await rm(dir, { recursive: true, force: true });
  });

  it('an instance rendered at its own size matches Orthanc’s rendering (mean gray within 2 levels)', async () => {
    for (const u of uploaded) {
      const stored = await orthanc.upload(await readFile(u.file));
      const theirs = await orthanc.request('GET', `/instances/${stored.ID}/rendered`, undefined, {
        Accept: 'image/png',
      });
      const ours = await get(`${instancePath(u)}/rendered`, { Accept: 'image/png' });
      expect(ours.status, `${u.name}: ${await ours.clone().text()}`).toBe(200);
      expect(ours.headers.get('content-type')).toBe('image/png');
      const a = await grayOf(new Uint8Array(await ours.arrayBuffer()));
      const b = await grayOf(new Uint8Array(await theirs.arrayBuffer()));
      expect([a.width, a.height], u.name).toEqual([COLUMNS, ROWS]);
      expect([b.width, b.height], u.name).toEqual([COLUMNS, ROWS]);
      expect(Math.abs(a.mean - b.mean), `${u.name}: ours ${a.mean} orthanc ${b.mean}`).toBeLessThanOrEqual(2);
    }
  }, 120_000);

  it('window, viewport and quality as PS3.18 defines them', async () => {
    const u = uploaded[0]!;
    await orthanc.upload(await readFile(u.file));
    // Orthanc's DICOMweb plugin takes the same parameter. Not compared for linear-exact: the plugin
    // leaves out the + 0.5 of PS3.3 C.11.2.1.3.2 (voi-lut.test.ts checks ours against the formula).
    for (const window of ['1000,500,linear', '2500,3000,linear', '1500,600,sigmoid']) {
      const theirs = await orthanc.request('GET', `/dicom-web${instancePath(u)}/rendered?window=${window}`, undefined, {
        Accept: 'image/png',
      });
      expect(theirs.status, orthanc.tail()).toBe(200);
      const ours = await get(`${instancePath(u)}/rendered?window=${window}`, { Accept: 'image/png' });
      expect(ours.status).toBe(200);
      const a = await grayOf(new Uint8Array(await ours.arrayBuffer()));
      const b = await grayOf(new Uint8Array(await theirs.arrayBuffer()));
      expect(Math.abs(a.mean - b.mean), `window ${window}: ours ${a.mean} orthanc ${b.mean}`).toBeLessThanOrEqual(2);
    }
    // A sigmoid is smoother than a linear window of the same center and width: not the same image.
    const linear = await grayOf(
      new Uint8Array(await (await get(`${instancePath(u)}/rendered?window=1500,400,linear`)).arrayBuffer()),
    );
    const sigmoid = await grayOf(
      new Uint8Array(await (await get(`${instancePath(u)}/rendered?window=1500,400,sigmoid`)).arrayBuffer()),
    );
    expect(Math.abs(linear.mean - sigmoid.mean)).toBeGreaterThan(0.5);

    // Scaled to fit the viewport, aspect ratio kept; a source region is cut first (and flipped when negative).
    const fit = await grayOf(
      new Uint8Array(await (await get(`${instancePath(u)}/rendered?viewport=100,100`)).arrayBuffer()),
    );
    expect([fit.width, fit.height]).toEqual([67, 100]);
    const region = await get(`${instancePath(u)}/rendered?viewport=50,50,10,20,-100,100`, { Accept: 'image/png' });
    expect(region.status).toBe(200);
    const r = await grayOf(new Uint8Array(await region.arrayBuffer()));
    expect([r.width, r.height]).toEqual([50, 50]);

    const small = await get(`${instancePath(u)}/rendered?quality=5`);
    const large = await get(`${instancePath(u)}/rendered?quality=100`);
    expect((await small.arrayBuffer()).byteLength).toBeLessThan((await large.arrayBuffer()).byteLength);
  }, 60_000);

  it('thumbnails of an instance, a series and a study (its first instance): small, JPEG by default, cached', async () => {
    const u = uploaded[1]!;
    const before = (await server.store.list(rendersPrefixOf(u.id))).length;
    for (const p of [
      `${instancePath(u)}/thumbnail`,
      `/studies/${u.study}/series/${u.series}/thumbnail`,
      `/studies/${u.study}/thumbnail`,
    ]) {
      const res = await get(p);
      expect(res.status, p).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/jpeg');
      const img = await grayOf(new Uint8Array(await res.arrayBuffer()));
      expect(Math.max(img.width, img.height), p).toBe(128);
    }
    // One decode for the three: the same X-ray at the same size is one cache entry (the REST preview's too).
    expect(await server.store.list(rendersPrefixOf(u.id))).toHaveLength(before + 1);
    const preview = await fetch(`${server.url}/xrays/${u.id}/preview?size=128`, {
      headers: { 'X-Test-Actor': DOCTOR },
    });
    expect(preview.status).toBe(200);
    expect(await server.store.list(rendersPrefixOf(u.id))).toHaveLength(before + 1);
  });

  it('unknown UIDs are 404, an unacceptable Accept 406, bad parameters 400; someone else’s instance is hidden and audited', async () => {
    const u = uploaded[2]!;
    const code = async (res: Response) => ((await res.json()) as { code: string }).code;
    const unknown = await get(`/studies/1.2.3/series/4.5.6/instances/7.8.9/rendered`);
    expect([unknown.status, await code(unknown)]).toEqual([404, 'not_found']);
    const gif = await get(`${instancePath(u)}/rendered`, { Accept: 'image/gif' });
    expect([gif.status, await code(gif)]).toEqual([406, 'not_acceptable']);
    for (const q of ['window=1,0,linear', 'viewport=0,10', 'quality=101', 'window=a,b']) {
      const bad = await get(`${instancePath(u)}/rendered?${q}`);
      expect([bad.status, await code(bad)], q).toEqual([400, 'validation_failed']);
    }
    const requestId = randomUUID();
    const hidden = await get(`${instancePath(u)}/thumbnail`, { 'X-Request-Id': requestId }, OTHER_PARAMEDIC);
    expect(hidden.status).toBe(404);
    expect(await eventsOf(server.pool, requestId)).toMatchObject([{ action: 'access.denied', outcome: 'denied' }]);
    const ownId = randomUUID();
    const own = await get(`${instancePath(u)}/thumbnail`, { 'X-Request-Id': ownId }, PARAMEDIC);
    expect(own.status).toBe(200);
    expect(await eventsOf(server.pool, ownId)).toMatchObject([
      {
        action: 'xray.preview',
        outcome: 'success',
        xray_id: u.id,
        details: { dicomweb: 'thumbnail', interface: 'dicomweb' },
      },
    ]);
  });
});

describe('render slots', () => {
  let server: TestServer;
  afterAll(() => server?.close());

  // While `held` is set, reads of X-ray objects wait for it: the render in the slot holds it until
  // the others have been answered, however fast or slow this machine decodes.
  let held: Promise<void> | undefined;
  const holdingReads = (store: ObjectStore): ObjectStore =>
    new Proxy(store, {
      get(target, p) {
        if (p === 'get')
          return async (...args: Parameters<ObjectStore['get']>) => {
            if (held && args[0].startsWith('xrays/')) await held;
            return target.get(...args);
          };
        const v: unknown = Reflect.get(target, p, target);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });

  it('past RENDER_CONCURRENCY and RENDER_QUEUE_LIMIT a render is refused with 503 render_busy and Retry-After', async () => {
    server = await startTestServer(
      'fs',
      { RENDER_CONCURRENCY: '1', RENDER_QUEUE_LIMIT: '0' },
      { authenticate: headerActor, decorateStore: holdingReads },
    );
    const res = await postXray(
      server.url,
      validMetadata(),
      blobOf(makeDicom({ rows: 2500, columns: 2500, patientId: 'P-1001' })),
      { 'X-Test-Actor': PARAMEDIC },
    );
    const { id } = (await res.json()) as { id: string };
    // Four different sizes at once: one decodes, the rest find no slot and no queue place. The one
    // in the slot reads the X-ray only once three have been answered (or after 30 s: a server that
    // let them all in has them all waiting here, and they all come back 200).
    let release!: () => void;
    held = new Promise<void>((r) => (release = r));
    const releasing = setTimeout(() => release(), 30_000);
    let answered = 0;
    const answers = await Promise.all(
      [64, 96, 128, 160].map((size) =>
        fetch(`${server.url}/xrays/${id}/preview?size=${size}`, { headers: { 'X-Test-Actor': DOCTOR } }).then((a) => {
          if (++answered === 3) release();
          return a;
        }),
      ),
    ).finally(() => {
      clearTimeout(releasing);
      held = undefined;
    });
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses[0]).toBe(200);
    expect(statuses).toContain(503);
    const busy = answers.find((a) => a.status === 503)!;
    expect(busy.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await busy.json()) as { code: string }).code).toBe('render_busy');
    expect(await rendersCount(server, 'busy')).toBeGreaterThan(0);
  }, 60_000);
});
