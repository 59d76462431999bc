import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { DicomHeader } from '@xray/shared';
import { DomainError } from '../errors.ts';
import type { ByteRange } from '../storage/index.ts';
import { fragmentValues, framesAnswerFor, locateFrames, parseFrameList } from './wado.frames.ts';

const item = (value: Buffer) => {
  const head = Buffer.alloc(8);
  head.writeUInt16LE(0xfffe, 0);
  head.writeUInt16LE(0xe000, 2);
  head.writeUInt32LE(value.length, 4);
  return Buffer.concat([head, value]);
};
const DELIMITER = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);

/** A stream of `bytes` in chunks of `size` (item headers split across chunks). */
const chunked = (bytes: Buffer, size: number) =>
  Readable.from(
    Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size)),
  );

async function drain(stream: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of stream) out.push(c as Buffer);
  return Buffer.concat(out);
}

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof DomainError ? `${err.code} ${err.fields?.[0]?.field ?? ''}`.trim() : String(err);
  }
  return 'none';
};

describe('parseFrameList', () => {
  it('takes 1-based frame numbers in the order asked', () => {
    expect(parseFrameList('1')).toEqual([1]);
    expect(parseFrameList('3,1,2')).toEqual([3, 1, 2]);
  });
  it('refuses anything else as 400 naming frames', () => {
    for (const bad of [undefined, '', '0', '-1', '1,', ',1', '1,,2', 'x', '1.0', ' 1', '1e3', '1234567890'])
      expect(
        codeOf(() => parseFrameList(bad)),
        String(bad),
      ).toBe('bad_request frames');
    expect(codeOf(() => parseFrameList(Array(1001).fill('1').join(',')))).toBe('bad_request frames');
    expect(parseFrameList(Array.from({ length: 1000 }, (_, i) => String(1000 - i)).join(','))).toHaveLength(1000);
  });
});

describe('framesAnswerFor', () => {
  const EXPLICIT = '1.2.840.10008.1.2.1';
  const IMPLICIT = '1.2.840.10008.1.2';
  const JPEG = '1.2.840.10008.1.2.4.50';
  it('answers octet-stream in the stored syntax by default, *, or the syntax named', () => {
    for (const accept of [undefined, '', '*/*', 'multipart/related; type="application/octet-stream"'])
      expect(framesAnswerFor(accept, JPEG)).toEqual({ partType: 'application/octet-stream', transferSyntax: JPEG });
    expect(framesAnswerFor('multipart/related; type=application/octet-stream; transfer-syntax=*', IMPLICIT)).toEqual({
      partType: 'application/octet-stream',
      transferSyntax: IMPLICIT,
    });
    expect(
      framesAnswerFor(`multipart/related; type="application/octet-stream"; transfer-syntax=${EXPLICIT}`, IMPLICIT),
    ).toEqual({ partType: 'application/octet-stream', transferSyntax: EXPLICIT });
    expect(framesAnswerFor('multipart/related; type="image/jpeg"', JPEG)).toEqual({
      partType: 'image/jpeg',
      transferSyntax: JPEG,
    });
    // The first acceptable range wins, by q.
    expect(
      framesAnswerFor(`multipart/related; type="image/jls"; q=0.9, multipart/related; type="image/jpeg"; q=0.5`, JPEG),
    ).toEqual({ partType: 'image/jpeg', transferSyntax: JPEG });
  });
  it('refuses a transcoding, another type, big endian and video (406)', () => {
    for (const [accept, stored] of [
      [`multipart/related; type="application/octet-stream"; transfer-syntax=${EXPLICIT}`, JPEG],
      ['multipart/related; type="image/jpeg"', EXPLICIT],
      ['multipart/related; type="application/dicom"', EXPLICIT],
      ['application/octet-stream', EXPLICIT],
      ['image/jpeg', JPEG],
      [undefined, '1.2.840.10008.1.2.2'],
      [undefined, '1.2.840.10008.1.2.4.102'],
      [undefined, '1.2.840.10008.1.2.1.99'],
    ] as const)
      expect(
        codeOf(() => framesAnswerFor(accept, stored)),
        `${accept} ${stored}`,
      ).toBe('not_acceptable');
  });
});

describe('fragmentValues', () => {
  it('gives the fragments’ values, concatenated, wherever the chunks split the item headers; stops at the delimiter', async () => {
    const a = Buffer.from('first fragment');
    const b = Buffer.from('second, longer fragment!');
    const bytes = Buffer.concat([item(a), item(b), DELIMITER, Buffer.from('trailing bytes never read')]);
    for (const size of [1, 3, 7, 8, 9, 64])
      expect((await drain(fragmentValues(chunked(bytes, size)))).toString(), String(size)).toBe(`${a}${b}`);
  });
  it('fails on something that is not an item, or a stream ending inside one', async () => {
    const bad = Buffer.concat([item(Buffer.from('ok')), Buffer.from([0x10, 0x00, 0x10, 0x00, 2, 0, 0, 0, 1, 2])]);
    await expect(drain(fragmentValues(chunked(bad, 5)))).rejects.toThrow(/no fragment item/);
    const short = item(Buffer.from('cut here')).subarray(0, 12);
    await expect(drain(fragmentValues(chunked(short, 5)))).rejects.toThrow(/ends inside a fragment/);
  });
});

describe('locateFrames', () => {
  const header = (attrs: Record<string, number>, pixelData: DicomHeader['pixelData']): DicomHeader => ({
    meta: {},
    dataset: Object.fromEntries(Object.entries(attrs).map(([tag, v]) => [tag, { vr: 'US', Value: [v] }])),
    pixelData,
    complete: true,
  });
  const none = () => Promise.reject(new Error('nothing to read'));

  it('native: frame k at (k-1) × Rows × Columns × SamplesPerPixel × BitsAllocated/8 into the pixel data', async () => {
    const h = header(
      { '00280008': 3, '00280010': 4, '00280011': 5, '00280002': 1, '00280100': 16 },
      { start: 100, valueOffset: 112, length: 120, encapsulated: false, vr: 'OW' },
    );
    const { parts } = await locateFrames(h, 232, [3, 1], none);
    expect(parts.map((p) => p.range)).toEqual([
      { start: 112 + 80, end: 112 + 119 },
      { start: 112, end: 112 + 39 },
    ]);
    await expect(locateFrames(h, 232, [4], none)).rejects.toMatchObject({ code: 'not_found' });
    await expect(locateFrames({ ...h, pixelData: undefined }, 232, [1], none)).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  it('encapsulated: frames by the Basic Offset Table, else one fragment each, else refused', async () => {
    const f = [Buffer.from('frame-one'), Buffer.from('frame-two!'), Buffer.from('f3')].map((b) =>
      b.length % 2 ? Buffer.concat([b, Buffer.from([0])]) : b,
    );
    const withTable = (offsets: number[]) => {
      const table = Buffer.alloc(offsets.length * 4);
      offsets.forEach((o, i) => table.writeUInt32LE(o, i * 4));
      return table;
    };
    const h = header({ '00280008': 3 }, { start: 0, valueOffset: 0, length: undefined, encapsulated: true, vr: 'OB' });
    const serve = async (file: Buffer, wanted: number[]) => {
      const open = (r: ByteRange) => Promise.resolve(chunked(file.subarray(r.start, r.end + 1), 3));
      const { parts } = await locateFrames(h, file.length, wanted, open);
      return Promise.all(parts.map(async (p) => (await drain(fragmentValues(await open(p.range)))).toString()));
    };
    const text = (i: number) => f[i]!.toString();
    // A table, fragments split in two.
    const halves = f.flatMap((b) => [b.subarray(0, 2), b.subarray(2)]);
    const starts = [0, 2, 4].map((i) => halves.slice(0, i).reduce((n, b) => n + 8 + b.length, 0));
    const tabled = Buffer.concat([item(withTable(starts)), ...halves.map(item), DELIMITER]);
    expect(await serve(tabled, [3, 1, 2])).toEqual([text(2), text(0), text(1)]);
    // No table, one fragment each.
    const counted = Buffer.concat([item(Buffer.alloc(0)), ...f.map(item), DELIMITER]);
    expect(await serve(counted, [2, 3])).toEqual([text(1), text(2)]);
    // No table, several fragments per frame: cannot be told apart.
    const split = Buffer.concat([item(Buffer.alloc(0)), ...halves.map(item), DELIMITER]);
    await expect(serve(split, [1])).rejects.toMatchObject({ code: 'not_acceptable' });
  });
});
