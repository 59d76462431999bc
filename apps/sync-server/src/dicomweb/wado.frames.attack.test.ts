import { Readable } from 'node:stream';
import type { DicomHeader } from '@xray/shared';
import { describe, expect, it } from 'vitest';
import type { ByteRange } from '../storage/index.ts';
import { FragmentError, fragmentValues, locateFrames, parseFrameList } from './wado.frames.ts';

/**
 * Attack on the frame locator with stored bytes no door would take (the door's walker refuses
 * them, but a file stored before a check, restored, or read from a damaged object gets here):
 * every answer is a clear refusal or a cut, never bytes outside the range asked, never a hang.
 */

const item = (value: Buffer, tag = 0xe000, length = value.length) => {
  const head = Buffer.alloc(8);
  head.writeUInt16LE(0xfffe, 0);
  head.writeUInt16LE(tag, 2);
  head.writeUInt32LE(length >>> 0, 4);
  return Buffer.concat([head, value]);
};
const DELIMITER = item(Buffer.alloc(0), 0xe0dd);
const table = (offsets: number[]) => {
  const b = Buffer.alloc(offsets.length * 4);
  offsets.forEach((o, i) => b.writeUInt32LE(o >>> 0, i * 4));
  return b;
};
const chunked = (bytes: Buffer, size: number) =>
  Readable.from(
    Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size)),
  );
async function drain(stream: Readable): Promise<{ bytes: Buffer; error: unknown }> {
  const out: Buffer[] = [];
  try {
    for await (const c of stream) out.push(c as Buffer);
    return { bytes: Buffer.concat(out), error: undefined };
  } catch (error) {
    return { bytes: Buffer.concat(out), error };
  }
}

const header = (attrs: Record<string, unknown>, pixelData: DicomHeader['pixelData']): DicomHeader => ({
  meta: {},
  dataset: Object.fromEntries(Object.entries(attrs).map(([tag, v]) => [tag, { vr: 'IS', Value: [v] }])),
  pixelData,
  complete: true,
});
const encapsulated = (frames: unknown) =>
  header({ '00280008': frames }, { start: 0, valueOffset: 0, length: undefined, encapsulated: true, vr: 'OB' });

/** A file that is only pixel data items; opens record every range asked and check it lies inside. */
function fileOf(bytes: Buffer) {
  const asked: ByteRange[] = [];
  const open = (r: ByteRange) => {
    asked.push(r);
    if (r.start < 0 || r.end >= bytes.length || r.end < r.start - 1)
      throw new Error(`range ${r.start}-${r.end} outside`);
    return Promise.resolve(chunked(bytes.subarray(r.start, r.end + 1), 5));
  };
  return { bytes, asked, open };
}

async function serve(h: DicomHeader, bytes: Buffer, wanted: number[]) {
  const f = fileOf(bytes);
  const { parts } = await locateFrames(h, bytes.length, wanted, f.open);
  return Promise.all(parts.map(async (p) => drain(fragmentValues(await f.open(p.range)))));
}

const frames3 = [Buffer.from('AAAAAAAA'), Buffer.from('BBBBBBBBBBBB'), Buffer.from('CCCC')];
const items3 = frames3.map((b) => item(b));
const starts3 = [0, items3[0]!.length, items3[0]!.length + items3[1]!.length];

describe('locateFrames against damaged encapsulated pixel data', () => {
  it('offset tables that are not usable (past the end, not from 0, unsorted, equal) fall back to one fragment per frame', async () => {
    for (const offsets of [
      [0, 16, 0xfffffff0],
      [8, 16, 24],
      [0, starts3[2]!, starts3[1]!],
      [0, starts3[1]!, starts3[1]!],
    ]) {
      const bytes = Buffer.concat([item(table(offsets)), ...items3, DELIMITER]);
      const got = await serve(encapsulated(3), bytes, [3, 1, 2]);
      expect(
        got.map((g) => g.bytes.toString()),
        String(offsets),
      ).toEqual(['CCCC', 'AAAAAAAA', 'BBBBBBBBBBBB']);
      expect(got.every((g) => g.error === undefined)).toBe(true);
    }
  });

  it('a damaged first item or offset table is 406, not a crash', async () => {
    const cases: Buffer[] = [
      // Not an item where the offset table should be.
      Buffer.concat([item(Buffer.alloc(0), 0xe00d), ...items3, DELIMITER]),
      // A table length that is not whole offsets.
      Buffer.concat([item(Buffer.alloc(6)), ...items3, DELIMITER]),
      // A table that runs past the end of the file.
      Buffer.concat([item(Buffer.alloc(0), 0xe000, 0x7ffffff0), ...items3, DELIMITER]),
      // The file ends inside the table's item header.
      Buffer.from([0xfe, 0xff, 0x00, 0xe0]),
    ];
    for (const bytes of cases) {
      const f = fileOf(bytes);
      await expect(locateFrames(encapsulated(3), bytes.length, [1], f.open)).rejects.toMatchObject({
        code: 'not_acceptable',
      });
    }
  });

  it('no table: a nested delimiter, an undefined-length item or a fragment longer than the file is refused or cut, never a hang', async () => {
    const empty = item(Buffer.alloc(0));
    const cases: Buffer[] = [
      Buffer.concat([empty, items3[0]!, item(Buffer.alloc(0), 0xe00d), items3[1]!, items3[2]!, DELIMITER]),
      Buffer.concat([empty, items3[0]!, item(Buffer.alloc(0), 0xe000, 0xffffffff), items3[2]!, DELIMITER]),
      Buffer.concat([empty, items3[0]!, items3[1]!, item(Buffer.from('CC'), 0xe000, 1000)]),
      Buffer.concat([empty, items3[0]!, items3[1]!, items3[2]!.subarray(0, 5)]),
    ];
    for (const bytes of cases) {
      const f = fileOf(bytes);
      const err = await locateFrames(encapsulated(3), bytes.length, [1], f.open).then(
        () => undefined,
        (e: unknown) => e,
      );
      // The counting walk stops at the damage: a FragmentError before anything is answered.
      expect(err).toBeInstanceOf(Error);
      expect(err instanceof FragmentError || (err as { code?: string }).code === 'not_acceptable').toBe(true);
    }
  });

  it('NumberOfFrames 0, negative or absurd: 406 or 404, no allocation by it', async () => {
    const bytes = Buffer.concat([item(Buffer.alloc(0)), ...items3, DELIMITER]);
    const f = fileOf(bytes);
    await expect(locateFrames(encapsulated(0), bytes.length, [1], f.open)).rejects.toMatchObject({
      code: 'not_acceptable',
    });
    await expect(locateFrames(encapsulated(-3), bytes.length, [1], f.open)).rejects.toMatchObject({
      code: 'not_acceptable',
    });
    const t0 = Date.now();
    await expect(locateFrames(encapsulated(999_999_999), bytes.length, [2], f.open)).rejects.toMatchObject({
      code: 'not_acceptable',
    });
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('native: undefined length, pixel data shorter than its frames, bits not byte-aligned across frames are 406; frames never reach past the pixel data', async () => {
    const native = (attrs: Record<string, unknown>, length: number | undefined) =>
      header(
        { '00280010': 3, '00280011': 3, '00280002': 1, '00280100': 8, ...attrs },
        { start: 100, valueOffset: 112, length, encapsulated: false, vr: 'OB' },
      );
    const none = () => Promise.reject(new Error('nothing is read for native frames'));
    await expect(locateFrames(native({ '00280008': 2 }, undefined), 1000, [1], none)).rejects.toMatchObject({
      code: 'not_acceptable',
    });
    await expect(locateFrames(native({ '00280008': 2 }, 17), 1000, [2], none)).rejects.toMatchObject({
      code: 'not_acceptable',
    });
    await expect(locateFrames(native({ '00280008': 3, '00280100': 1 }, 4), 1000, [2], none)).rejects.toMatchObject({
      code: 'not_acceptable',
    });
    // 9 bytes a frame and a padding byte: frame 2 ends at the 18th byte, not the pad.
    const { parts } = await locateFrames(native({ '00280008': 2 }, 18), 1000, [2], none);
    expect(parts[0]?.range).toEqual({ start: 112 + 9, end: 112 + 17 });
    // NumberOfFrames that is not a number: one frame.
    await expect(locateFrames(native({ '00280008': 'abc' }, 10), 1000, [2], none)).rejects.toMatchObject({
      code: 'not_found',
    });
  });
});

describe('fragmentValues', () => {
  it('a stream that is destroyed by its reader releases the stored read at once', async () => {
    const content = chunked(Buffer.concat([item(Buffer.alloc(4096, 1)), DELIMITER]), 64);
    const values = fragmentValues(content);
    for await (const _ of values) break;
    await new Promise((r) => setImmediate(r));
    expect(content.destroyed).toBe(true);
  });
});

describe('parseFrameList', () => {
  it('a frame named twice is refused (PS3.18: non duplicate frame numbers), so one request sends each frame at most once', () => {
    for (const list of ['1,1', '3,2,3', Array(1000).fill('1').join(',')])
      expect(() => parseFrameList(list), list.slice(0, 10)).toThrow(
        expect.objectContaining({ code: 'bad_request' }) as unknown as Error,
      );
    expect(parseFrameList('3,1,2')).toEqual([3, 1, 2]);
  });
});
