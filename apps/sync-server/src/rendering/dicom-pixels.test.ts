import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import dcmjsCodecs from 'dcmjs-codecs';
import { dcmtk, makeDicom } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError } from '../errors.ts';
import { renderDicomFrame } from './dicom-pixels.ts';

/**
 * Every transfer syntax dcmtk writes (and JPEG 2000, which it does not: made by dcmjs-codecs'
 * encoder) decodes to the same display pixels as the uncompressed file; the lossy ones to nearly.
 */

const LIMITS = { maxPixels: 10_000_000 };
let dir: string;
let plain: Uint8Array;

async function converted(name: string, tool: string, ...args: string[]): Promise<Uint8Array> {
  const out = path.join(dir, `${name}.dcm`);
  await dcmtk(tool, [...args, path.join(dir, 'plain.dcm'), out]);
  return new Uint8Array(await readFile(out));
}

/** The file transcoded by dcmjs-codecs (dcmtk has no JPEG 2000 encoder). */
async function transcoded(syntax: string, parameters?: Record<string, unknown>): Promise<Uint8Array> {
  await dcmjsCodecs.NativeCodecs.initializeAsync();
  const t = new dcmjsCodecs.Transcoder(
    plain.buffer.slice(plain.byteOffset, plain.byteOffset + plain.byteLength) as ArrayBuffer,
  );
  t.transcode(syntax, parameters);
  return new Uint8Array(t.getDicomPart10());
}

const meanAbsDiff = (a: Uint8Array, b: Uint8Array) => {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs((a[i] ?? 0) - (b[i] ?? 0));
  return sum / a.length;
};

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'xray-dicom-pixels-'));
  await writeFile(path.join(dir, 'plain.dcm'), makeDicom({ rows: 48, columns: 64 }));
  // A window, so every grey level of the display is used.
  await dcmtk('dcmodify', ['-nb', '-i', '(0028,1050)=1500', '-i', '(0028,1051)=1000', path.join(dir, 'plain.dcm')]);
  plain = new Uint8Array(await readFile(path.join(dir, 'plain.dcm')));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('decoding', () => {
  it('lossless syntaxes give exactly the uncompressed pixels', async () => {
    const reference = await renderDicomFrame(plain, LIMITS);
    expect([reference.width, reference.height, reference.channels]).toEqual([64, 48, 1]);
    const files: Record<string, Uint8Array> = {
      'implicit VR': await converted('implicit', 'dcmconv', '+ti'),
      'big endian': await converted('big', 'dcmconv', '+tb'),
      'JPEG lossless SV1 (dcmcjpeg default)': await converted('jpeg-sv1', 'dcmcjpeg'),
      'JPEG lossless process 14 (+el)': await converted('jpeg-p14', 'dcmcjpeg', '+el'),
      'JPEG-LS lossless': await converted('jls', 'dcmcjpls'),
      RLE: await converted('rle', 'dcmcrle'),
      'JPEG 2000 lossless': await transcoded(dcmjsCodecs.constants.TransferSyntax.Jpeg2000Lossless),
      'HT JPEG 2000 lossless': await transcoded(dcmjsCodecs.constants.TransferSyntax.HtJpeg2000Lossless),
    };
    for (const [name, bytes] of Object.entries(files)) {
      const img = await renderDicomFrame(bytes, LIMITS);
      expect(Buffer.from(img.pixels).equals(Buffer.from(reference.pixels)), name).toBe(true);
    }
  });

  it('lossy syntaxes give nearly the uncompressed pixels', async () => {
    const reference = await renderDicomFrame(plain, LIMITS);
    const files: Record<string, Uint8Array> = {
      'JPEG extended 12-bit (+ee)': await converted('jpeg-ee', 'dcmcjpeg', '+ee'),
      'JPEG-LS near-lossless': await converted('jls-near', 'dcmcjpls', '+en'),
      'JPEG 2000': await transcoded(dcmjsCodecs.constants.TransferSyntax.Jpeg2000Lossy, { rate: 2 }),
    };
    for (const [name, bytes] of Object.entries(files)) {
      const img = await renderDicomFrame(bytes, LIMITS);
      expect(meanAbsDiff(img.pixels, reference.pixels), name).toBeLessThan(3);
    }
    // Baseline JPEG is 8-bit: dcmtk rescales the 12-bit values into it, so only its size is the same.
    const baseline = await renderDicomFrame(await converted('jpeg-eb', 'dcmcjpeg', '+eb'), LIMITS);
    expect([baseline.width, baseline.height]).toEqual([64, 48]);
  });
});

describe('refusals', () => {
  const codeOf = (p: Promise<unknown>) =>
    p.then(
      () => 'none',
      (err: unknown) => (err instanceof DomainError ? err.code : String(err)),
    );

  it('not DICOM, no pixels, too many pixels: not_renderable', async () => {
    expect(await codeOf(renderDicomFrame(new Uint8Array(300), LIMITS))).toBe('not_renderable');
    expect(await codeOf(renderDicomFrame(plain.subarray(0, 400), LIMITS))).toBe('not_renderable');
    expect(await codeOf(renderDicomFrame(plain, { maxPixels: 1000 }))).toBe('not_renderable');
  });

  it('a compressed frame that does not decode: not_renderable', async () => {
    const jls = Buffer.from(await converted('jls-broken', 'dcmcjpls'));
    // Damage the middle of the JPEG-LS stream.
    jls.fill(0xff, jls.length - 600, jls.length - 300);
    expect(await codeOf(renderDicomFrame(jls, LIMITS))).toBe('not_renderable');
  });
});

describe('frame headers', () => {
  it('reads the size JPEG, JPEG-LS and JPEG 2000 streams declare, and refuses one that disagrees with Rows × Columns', async () => {
    const { declaredFrameSize } = await import('./dicom-pixels.ts');
    const encapsulated = async (bytes: Uint8Array) => {
      const t = new dcmjsCodecs.Transcoder(
        bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
      );
      const frames = t.getElements().PixelData as ArrayBuffer[];
      return new Uint8Array(frames[0]!);
    };
    const jpeg = await encapsulated(await converted('hdr-jpeg', 'dcmcjpeg'));
    const jls = await encapsulated(await converted('hdr-jls', 'dcmcjpls'));
    const j2k = await encapsulated(await transcoded(dcmjsCodecs.constants.TransferSyntax.Jpeg2000Lossless));
    expect(declaredFrameSize('jpeg', jpeg)).toEqual({ width: 64, height: 48 });
    expect(declaredFrameSize('jpegLs', jls)).toEqual({ width: 64, height: 48 });
    expect(declaredFrameSize('jpeg2000', j2k)).toEqual({ width: 64, height: 48 });
    expect(declaredFrameSize('jpeg', new Uint8Array([0xff, 0xd8, 0xff, 0xda, 0, 2]))).toBeUndefined();

    // The same JPEG-LS stream, its SOF55 saying 40000 × 40000: refused before the decoder sees it.
    const file = Buffer.from(await converted('hdr-bomb', 'dcmcjpls'));
    const sof = file.indexOf(Buffer.from([0xff, 0xf7]));
    file.writeUInt16BE(40_000, sof + 5);
    file.writeUInt16BE(40_000, sof + 7);
    const err = await renderDicomFrame(file, LIMITS).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'not_renderable' });
    expect((err as Error).message).toMatch(/40000 × 40000/);
  });
});

describe('colour', () => {
  it('RGB and YBR_FULL_422 (JPEG baseline from img2dcm, decompressed, RLE) come out as the same RGB', async () => {
    const sharp = (await import('sharp')).default;
    const [w, h] = [64, 48];
    const rgb = Buffer.alloc(w * h * 3);
    for (let i = 0; i < w * h; i++) rgb[i * 3 + (i % w < w / 2 ? 0 : 2)] = 220; // red | blue
    await writeFile(
      path.join(dir, 'colour.jpg'),
      await sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
        .jpeg({ quality: 95 })
        .toBuffer(),
    );
    const at = (name: string) => path.join(dir, name);
    await dcmtk('img2dcm', [at('colour.jpg'), at('colour-ybr.dcm')]);
    await dcmtk('dcmdjpeg', [at('colour-ybr.dcm'), at('colour-rgb.dcm')]);
    await dcmtk('dcmcrle', [at('colour-rgb.dcm'), at('colour-rle.dcm')]);
    for (const name of ['colour-ybr.dcm', 'colour-rgb.dcm', 'colour-rle.dcm']) {
      const img = await renderDicomFrame(new Uint8Array(await readFile(at(name))), LIMITS);
      expect([img.width, img.height, img.channels], name).toEqual([w, h, 3]);
      const px = (x: number, y: number) => [...img.pixels.subarray((y * w + x) * 3, (y * w + x) * 3 + 3)];
      const near = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - (b[i] ?? 0)) <= 4);
      expect(near(px(5, 20), [220, 0, 0]), `${name} left ${px(5, 20).join(',')}`).toBe(true);
      expect(near(px(58, 20), [0, 0, 220]), `${name} right ${px(58, 20).join(',')}`).toBe(true);
    }
  });
});
