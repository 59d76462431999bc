import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { decode } from 'jpeg-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc32, dcmtk, makeJpeg, makePng, PNG_SIGNATURE, sha256Hex } from '../src/index.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xray-testkit-img-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface PngChunk {
  type: string;
  data: Buffer;
}

/** Splits a PNG into chunks, checking every CRC. */
function pngChunks(png: Buffer): PngChunk[] {
  expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
  const chunks: PngChunk[] = [];
  let offset = 8;
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const typeAndData = png.subarray(offset + 4, offset + 8 + length);
    expect(png.readUInt32BE(offset + 8 + length)).toBe(crc32(typeAndData));
    chunks.push({ type: typeAndData.toString('latin1', 0, 4), data: typeAndData.subarray(4) });
    offset += 12 + length;
  }
  expect(offset).toBe(png.length);
  return chunks;
}

describe('makePng', () => {
  it('makes a valid 8-bit grayscale PNG of the asked size', () => {
    const png = makePng({ width: 300, height: 200, seed: 5 });
    const chunks = pngChunks(png);
    expect(chunks.map((chunk) => chunk.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
    const ihdr = chunks[0]?.data ?? Buffer.alloc(0);
    expect(ihdr.readUInt32BE(0)).toBe(300);
    expect(ihdr.readUInt32BE(4)).toBe(200);
    expect([...ihdr.subarray(8)]).toEqual([8, 0, 0, 0, 0]);
    const raw = inflateSync(chunks[1]?.data ?? Buffer.alloc(0));
    expect(raw.length).toBe(200 * 301);
    for (let y = 0; y < 200; y++) expect(raw[y * 301]).toBe(0);
  });

  it('defaults to 256×256 and gives different bytes for different seeds', () => {
    const ihdr = pngChunks(makePng())[0]?.data ?? Buffer.alloc(0);
    expect([ihdr.readUInt32BE(0), ihdr.readUInt32BE(4)]).toEqual([256, 256]);
    expect(sha256Hex(makePng({ seed: 1 }))).toBe(sha256Hex(makePng({ seed: 1 })));
    expect(sha256Hex(makePng({ seed: 1 }))).not.toBe(sha256Hex(makePng({ seed: 2 })));
  });

  it('computes the standard CRC-32', () => {
    expect(crc32(Buffer.from('123456789', 'latin1'))).toBe(0xcbf43926);
  });
});

describe('makeJpeg', () => {
  it('makes a baseline JPEG that decodes to the asked size', () => {
    const jpeg = makeJpeg({ width: 320, height: 240, seed: 9 });
    expect([...jpeg.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    expect([...jpeg.subarray(-2)]).toEqual([0xff, 0xd9]);
    expect(jpeg.includes(Buffer.from([0xff, 0xc0]))).toBe(true); // SOF0: baseline
    const image = decode(jpeg, { useTArray: true });
    expect([image.width, image.height]).toEqual([320, 240]);
  });

  it('is accepted by dcmtk img2dcm, which reads baseline JPEG', async () => {
    const jpegPath = join(dir, 'xray.jpg');
    const dicomPath = join(dir, 'xray-from-jpeg.dcm');
    await writeFile(jpegPath, makeJpeg({ seed: 4 }));
    await dcmtk('img2dcm', [jpegPath, dicomPath]);
    expect((await dcmtk('dcmftest', [dicomPath])).stdout).toMatch(/^yes:/u);
  });

  it('gives different bytes for different seeds', () => {
    expect(sha256Hex(makeJpeg({ seed: 1 }))).toBe(sha256Hex(makeJpeg({ seed: 1 })));
    expect(sha256Hex(makeJpeg({ seed: 1 }))).not.toBe(sha256Hex(makeJpeg({ seed: 2 })));
  });
});
