import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { DicomHeader } from '@xray/shared';
import { describe, expect, it } from 'vitest';
import type { ByteRange } from '../storage/index.ts';
import { locateFrames } from './wado.frames.ts';

/**
 * Attack on the fragment-walk cache (`walked`, by X-ray id and sha256): a file of tiny fragments
 * (9 bytes each: an item header and one byte) costs an array entry per fragment, kept. No door
 * limits the fragment count, and MAX_UPLOAD_BYTES is 1 GiB (~119 M fragments). The cache counts
 * entries (1000), not their size: what it keeps must stay bounded whatever the files hold.
 */
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const FRAGMENTS = 1_000_000;
/** Table item (empty), FRAGMENTS items of one byte, the delimiter. */
function tinyFragments(): Buffer {
  const bytes = Buffer.alloc(8 + FRAGMENTS * 9 + 8);
  bytes.writeUInt16LE(0xfffe, 0);
  bytes.writeUInt16LE(0xe000, 2);
  for (let i = 0; i < FRAGMENTS; i++) {
    const at = 8 + i * 9;
    bytes.writeUInt16LE(0xfffe, at);
    bytes.writeUInt16LE(0xe000, at + 2);
    bytes.writeUInt32LE(1, at + 4);
  }
  const end = 8 + FRAGMENTS * 9;
  bytes.writeUInt16LE(0xfffe, end);
  bytes.writeUInt16LE(0xe0dd, end + 2);
  return bytes;
}
const header: DicomHeader = {
  meta: {},
  dataset: { '00280008': { vr: 'IS', Value: [2] } },
  pixelData: { start: 0, valueOffset: 0, length: undefined, encapsulated: true, vr: 'OB' },
  complete: true,
};

/**
 * Each walk kept is ~10 MiB (1 M starts), so the bound below (64 MiB) holds only if at most six are
 * kept: 14 walks (140 MiB if all were kept) fail it for any cache keeping seven or more, as 30 did,
 * at half the time (each walk takes most of a second).
 */
const WALKS = 14;

describe('attack: the fragment-walk cache and files of millions of tiny fragments', () => {
  it(`keeps a bounded amount whatever the files hold (${WALKS} X-rays of 1 M one-byte fragments)`, async () => {
    const bytes = tinyFragments();
    const open = (r: ByteRange) =>
      Promise.resolve(Readable.from([bytes.subarray(r.start, r.end + 1)], { objectMode: false }));
    gc();
    const before = process.memoryUsage().heapUsed;
    const t0 = Date.now();
    for (let i = 0; i < WALKS; i++) {
      // 1 M fragments for 2 frames, no offset table: 406, but the walk is done (and kept) first.
      await expect(locateFrames(header, bytes.length, [1], open, `x${i}:sha`)).rejects.toMatchObject({
        code: 'not_acceptable',
      });
    }
    const ms = Date.now() - t0;
    gc();
    const kept = process.memoryUsage().heapUsed - before;
    console.log(`${WALKS} walks of ${FRAGMENTS} fragments: ${ms} ms, ${Math.round(kept / 2 ** 20)} MiB kept after gc`);
    expect(kept).toBeLessThan(64 * 2 ** 20);
  }, 120_000);

  it('a viewer asking for six frames at once walks the pixel data once, not six times', async () => {
    // Six frames, one fragment each (no offset table), 64 KiB each.
    const frames = 6;
    const items = Array.from({ length: frames }, (_, i) => {
      const head = Buffer.alloc(8);
      head.writeUInt16LE(0xfffe, 0);
      head.writeUInt16LE(0xe000, 2);
      head.writeUInt32LE(65536, 4);
      return Buffer.concat([head, Buffer.alloc(65536, i)]);
    });
    const tableItem = Buffer.from([0xfe, 0xff, 0x00, 0xe0, 0, 0, 0, 0]);
    const delimiter = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
    const bytes = Buffer.concat([tableItem, ...items, delimiter]);
    const six: DicomHeader = { ...header, dataset: { '00280008': { vr: 'IS', Value: [frames] } } };
    let walks = 0;
    const open = async (r: ByteRange) => {
      if (r.end === bytes.length - 1) walks++;
      await new Promise((resolve) => setTimeout(resolve, 20)); // a store read's latency
      return Readable.from([bytes.subarray(r.start, r.end + 1)]);
    };
    const located = await Promise.all(
      Array.from({ length: frames }, (_, i) => locateFrames(six, bytes.length, [i + 1], open, 'viewer:sha')),
    );
    expect(located.map((l) => l.parts[0]!.range.start)).toEqual(
      Array.from({ length: frames }, (_, i) => 8 + i * (8 + 65536)),
    );
    expect(walks).toBe(1);
  });

  it('a file whose walk fails is not walked again for every request', async () => {
    // 100,000 good fragments then a bad item: the walk fails at the end, each time.
    const good = Buffer.alloc(8 + 100_000 * 9 + 8);
    good.writeUInt16LE(0xfffe, 0);
    good.writeUInt16LE(0xe000, 2);
    for (let i = 0; i < 100_000; i++) {
      good.writeUInt16LE(0xfffe, 8 + i * 9);
      good.writeUInt16LE(0xe000, 8 + i * 9 + 2);
      good.writeUInt32LE(1, 8 + i * 9 + 4);
    }
    good.writeUInt16LE(0x7777, 8 + 100_000 * 9); // not an item
    let walks = 0;
    const open = (r: ByteRange) => {
      if (r.start === 8) walks++;
      return Promise.resolve(Readable.from([good.subarray(r.start, r.end + 1)]));
    };
    for (let i = 0; i < 5; i++)
      await expect(locateFrames(header, good.length, [1], open, 'broken:sha')).rejects.toThrow(/no fragment item/);
    expect(walks).toBe(1);
  });
});
