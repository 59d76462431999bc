import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStructureError, formatWalkerFor, sniffContentType, type ContentType } from '@xray/shared';
import { dcmtk, dicomChunks, makeDicom, makeJpeg, makePng } from '../src/index.ts';
import { Xoshiro128 } from '../src/prng.ts';

// The shared format walkers against real files: this kit's (as every test uses them), and those
// dcmtk writes (another implementation's idea of DICOM, PNG and JPEG, as a device would send).

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xray-testkit-walk-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Feeds the chunks re-cut at random sizes (1 byte to 2 MiB) and returns the refusal, or null. */
function walkChunks(contentType: ContentType, chunks: Iterable<Uint8Array>, seed = 1): FileStructureError | null {
  const random = new Xoshiro128(`walk ${seed}`);
  const walker = formatWalkerFor(contentType);
  try {
    for (const chunk of chunks) {
      for (let at = 0; at < chunk.length;) {
        const size = 1 + (random.next() % (random.next() % 2 ? 64 : 2 * 1024 * 1024));
        walker.update(chunk.subarray(at, at + size));
        at += size;
      }
    }
    walker.end();
    return null;
  } catch (err) {
    if (err instanceof FileStructureError) return err;
    throw err;
  }
}

const typeOf = (bytes: Uint8Array): ContentType => {
  const type = sniffContentType(bytes);
  if (!type) throw new Error('not DICOM, PNG or JPEG');
  return type;
};
const walkFile = (bytes: Uint8Array, seed = 1) => walkChunks(typeOf(bytes), [bytes], seed);
const concat = (...parts: Uint8Array[]) => Buffer.concat(parts);

describe("the kit's files are what they say", () => {
  it('an 18 MB DICOM, streamed in random pieces', () => {
    for (const seed of [1, 2, 3]) expect(walkChunks('application/dicom', dicomChunks({ seed }), seed)).toBeNull();
  });

  it('small DICOM, PNG and JPEG of many sizes', () => {
    for (const [rows, columns] of [
      [1, 1],
      [3, 5],
      [64, 64],
      [511, 7],
    ] as const) {
      expect(walkFile(makeDicom({ rows, columns }))).toBeNull();
      expect(walkFile(makePng({ width: columns, height: rows }))).toBeNull();
      expect(walkFile(makeJpeg({ width: columns, height: rows }))).toBeNull();
    }
  });
});

describe('files dcmtk writes pass', () => {
  let source: string;
  const out = (name: string) => join(dir, name);
  beforeAll(async () => {
    source = out('source.dcm');
    await writeFile(source, makeDicom({ rows: 300, columns: 200, seed: 5 }));
    // A data set with nested sequences for the encodings below to rewrite.
    await dcmtk('dcmodify', [
      '-nb',
      '-i',
      '(0008,1111)[0].(0008,1150)=1.2.840.10008.3.1.2.3.3',
      '-i',
      '(0008,1111)[0].(0008,1155)=1.2.3.4',
      '-i',
      '(0008,1111)[1].(0008,1150)=1.2.840.10008.3.1.2.3.3',
      '-i',
      '(0008,1115)[0].(0008,114A)[0].(0008,1150)=1.2.3',
      source,
    ]);
  });

  const conversions: [string, string, (input: string, output: string) => string[]][] = [
    ['implicit VR little endian', 'dcmconv', (i, o) => ['+ti', i, o]],
    ['explicit VR big endian', 'dcmconv', (i, o) => ['+tb', i, o]],
    ['undefined-length sequences and items', 'dcmconv', (i, o) => ['-e', i, o]],
    ['implicit VR with undefined lengths', 'dcmconv', (i, o) => ['+ti', '-e', i, o]],
    ['group lengths and padding', 'dcmconv', (i, o) => ['+g', '+p', '512', '32', i, o]],
    ['JPEG lossless (dcmcjpeg default)', 'dcmcjpeg', (i, o) => [i, o]],
    ['JPEG extended 12-bit', 'dcmcjpeg', (i, o) => ['+ee', i, o]],
    ['JPEG progressive', 'dcmcjpeg', (i, o) => ['+ep', i, o]],
    ['JPEG in 1 KiB fragments', 'dcmcjpeg', (i, o) => ['+fs', '1', i, o]],
    ['RLE', 'dcmcrle', (i, o) => [i, o]],
    ['JPEG-LS', 'dcmcjpls', (i, o) => [i, o]],
  ];
  it.each(conversions)('%s', async (name, tool, args) => {
    const file = out(`${name.replaceAll(/\W+/g, '-')}.dcm`);
    await dcmtk(tool, args(source, file));
    expect(walkFile(await readFile(file))).toBeNull();
  });

  it('img2dcm from a JPEG (encapsulated baseline), and the PNG and JPEG dcmtk renders', async () => {
    const jpeg = out('photo.jpg');
    await writeFile(jpeg, makeJpeg({ width: 320, height: 240, seed: 6 }));
    await dcmtk('img2dcm', [jpeg, out('from-jpeg.dcm')]);
    expect(walkFile(await readFile(out('from-jpeg.dcm')))).toBeNull();

    await dcmtk('dcm2pnm', ['+on', source, out('render.png')]);
    await dcmtk('dcm2pnm', ['+on2', source, out('render16.png')]);
    await dcmtk('dcmj2pnm', ['+oj', source, out('render.jpg')]);
    for (const name of ['render.png', 'render16.png', 'render.jpg']) {
      expect(walkFile(await readFile(out(name)))).toBeNull();
    }
  });

  it('but not a deflated data set: refused as an encoding the service does not take', async () => {
    await dcmtk('dcmconv', ['+td', source, out('deflated.dcm')]);
    expect(walkFile(await readFile(out('deflated.dcm')))).toMatchObject({
      kind: 'unsupported',
      technical: 'transfer syntax 1.2.840.10008.1.2.1.99',
    });
  });
});

describe('polyglots and broken copies of real files are refused', () => {
  const html = Buffer.from('<!DOCTYPE html><html><script>fetch("/xrays")</script></html>');
  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');

  it('PNG + HTML, JPEG + SVG', () => {
    expect(walkFile(concat(makePng(), html))?.problem).toMatch(/other data hidden after the end/);
    expect(walkFile(concat(makeJpeg(), svg))?.problem).toMatch(/other data hidden after the end/);
  });

  it('a DICOM with an HTML preamble', () => {
    const dicom = makeDicom({ rows: 64, columns: 64 });
    html.copy(dicom, 0);
    expect(walkFile(dicom)?.technical).toBe('markup in the 128-byte preamble');
  });

  it('an 18 MB DICOM cut inside its pixel data', () => {
    const chunks = [...dicomChunks({ seed: 4 })];
    const last = chunks.length - 1;
    chunks[last] = chunks[last]!.subarray(0, 1000);
    expect(walkChunks('application/dicom', chunks)?.technical).toMatch(
      /^pixel data \(7FE0,0010\) has \d+ of its 18000000 bytes at the end of the file$/,
    );
  });

  it('a PNG with one bit flipped', () => {
    const png = makePng({ seed: 9 });
    png[png.length - 40] = (png[png.length - 40] ?? 0) ^ 0x10;
    expect(walkFile(png)?.message).toBe('The PNG file is damaged: one of its checksums does not match.');
  });

  it('a JPEG without its EOI', () => {
    const jpeg = makeJpeg({ seed: 10 });
    expect(walkFile(jpeg.subarray(0, jpeg.length - 2))?.technical).toBe(
      'the file ends without an EOI marker (image 1)',
    );
  });
});
