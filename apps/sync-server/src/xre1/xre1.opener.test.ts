import { drainStream } from '@xray/testkit';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { encryptBytes, generateDek, parseHeader, segmentCipherOffset, TAG_LENGTH, Xre1Error } from '@xray/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsObjectStore } from '../storage/fs.store.ts';
import type { ByteRange, GetOptions, ObjectStore } from '../storage/index.ts';
import { openStoredXre1, StoredObjectMismatchError } from './xre1.opener.ts';

const MiB = 1024 * 1024;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * The real disk store, metered (every ranged read it serves), optionally re-cutting what it
 * reads into small uneven chunks as S3 delivers them, or stopping a read short.
 */
function metered(store: ObjectStore, opts: { chunk?: number; cutAt?: number } = {}) {
  const reads: ByteRange[] = [];
  /** Per read: asked as client-paced (GetOptions.clientPaced)? */
  const clientPaced: boolean[] = [];
  const wrapped: ObjectStore = Object.assign(Object.create(store) as ObjectStore, {
    async get(key: string, range?: ByteRange, getOpts?: GetOptions): Promise<Readable> {
      if (range) reads.push(range);
      clientPaced.push(getOpts?.clientPaced === true);
      const end = opts.cutAt !== undefined && range && range.start > 0 ? { ...range, end: opts.cutAt } : range;
      const body = await store.get(key, end, getOpts);
      if (!opts.chunk) return body;
      const size = opts.chunk;
      return Readable.from(
        (async function* () {
          let n = 0;
          for await (const c of body) {
            const b = c as Buffer;
            for (let at = 0; at < b.length;) {
              const step = 1 + ((n++ * 7919) % size); // uneven, reproducible
              yield Buffer.from(b.subarray(at, at + step));
              at += step;
            }
          }
        })(),
      );
    },
  });
  return { store: wrapped, reads, clientPaced };
}

describe('openStoredXre1 (downloads: whole objects and Ranges, on node:crypto)', () => {
  let dir: string;
  let disk: FsObjectStore;
  let dek: CryptoKey;
  const plaintext = randomBytes(3.5 * MiB); // segments 0..2 full, 3 is half
  const exactPlain = plaintext.subarray(0, MiB); // one full segment, flagged last
  let object: Buffer;
  let h: number;
  const at = (i: number) => segmentCipherOffset(i, h, MiB);

  async function put(key: string, bytes: Uint8Array): Promise<void> {
    await disk.put(key, Readable.from([Buffer.from(bytes)]));
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'xre1-opener-'));
    disk = new FsObjectStore(dir);
    await disk.init();
    dek = await generateDek();
    object = Buffer.from(await encryptBytes(dek, plaintext));
    h = parseHeader(object).headerTotalLength;
    await put('object', object);
    await put('exact', await encryptBytes(dek, exactPlain));
    await put('small-segments', await encryptBytes(dek, plaintext.subarray(0, 5000), { segmentSize: 64 }));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const last = plaintext.length - 1;
  const cases: [string, string, Buffer, number, number][] = [
    ['the first byte', 'object', plaintext, 0, 0],
    ['the last byte', 'object', plaintext, last, last],
    ['a range spanning segments 1 and 2', 'object', plaintext, 2 * MiB - 100, 2 * MiB + 99],
    ['the last byte of one segment to the first of the next', 'object', plaintext, MiB - 1, MiB],
    ['exactly segment 2', 'object', plaintext, 2 * MiB, 3 * MiB - 1],
    ['a range ending in the short last segment', 'object', plaintext, 3 * MiB - 10, last],
    ['the whole file', 'object', plaintext, 0, last],
    ['1 MiB file: first byte', 'exact', exactPlain, 0, 0],
    ['1 MiB file: last byte', 'exact', exactPlain, MiB - 1, MiB - 1],
    ['1 MiB file: a middle range', 'exact', exactPlain, 1000, 500_000],
    ['1 MiB file: whole file', 'exact', exactPlain, 0, MiB - 1],
  ];

  it.each(cases)(
    'returns exactly %s and reads only the header and the touched segments',
    async (_, key, plain, start, end) => {
      const size = (await disk.stat(key))!.size;
      for (const chunk of [undefined, 100_000, 4099]) {
        const { store, reads } = metered(disk, chunk ? { chunk } : {});
        const stream = await openStoredXre1(store, key, dek, size, { start, end }, { checkStoredLength: true });
        const { emitted, error } = await drainStream(stream);
        expect(error).toBeUndefined();
        expect(emitted.equals(plain.subarray(start, end + 1)), `${key} ${start}-${end}, chunk ${chunk}`).toBe(true);
        const first = Math.floor(start / MiB);
        const after = Math.floor(end / MiB) + 1;
        expect(reads.filter((r) => r.start > 0)).toEqual([{ start: at(first), end: Math.min(at(after), size) - 1 }]);
      }
    },
  );

  it('reads a whole object with another segment size byte-exact, in any chunking', async () => {
    const size = (await disk.stat('small-segments'))!.size;
    for (const chunk of [undefined, 1, 70, 200]) {
      const { store } = metered(disk, chunk ? { chunk } : {});
      const whole = await drainStream(await openStoredXre1(store, 'small-segments', dek, size, undefined));
      expect(whole.emitted.equals(plaintext.subarray(0, 5000))).toBe(true);
      const part = await drainStream(
        await openStoredXre1(store, 'small-segments', dek, size, { start: 63, end: 4001 }),
      );
      expect(part.emitted.equals(plaintext.subarray(63, 4002))).toBe(true);
    }
  });

  it('does not notice tampering in segments it does not read, and fails on those it does, before their bytes', async () => {
    const tampered = Buffer.from(object);
    tampered[at(2) + 10]! ^= 0x01;
    await put('tampered', tampered);
    const untouched = await drainStream(
      await openStoredXre1(disk, 'tampered', dek, tampered.length, { start: 0, end: MiB - 1 }),
    );
    expect(untouched.emitted.equals(plaintext.subarray(0, MiB))).toBe(true);
    const whole = await drainStream(await openStoredXre1(disk, 'tampered', dek, tampered.length, undefined));
    expect(whole.error).toMatchObject({ code: 'auth_failed' });
    expect(whole.emitted.equals(plaintext.subarray(0, 2 * MiB))).toBe(true);
  });

  it('checks the last flag against the recorded length, and names the failure like the shared decryptor', async () => {
    // The row says the object ends after segment 2: segment 2 does not open as the last one.
    const shortened = await drainStream(
      await openStoredXre1(disk, 'object', dek, at(3), { start: 2 * MiB, end: 2 * MiB + 5 }),
    );
    expect(shortened.error).toMatchObject({ code: 'truncated' });
    expect(shortened.emitted.length).toBe(0);
    // The row says one more segment than the object has: segment 0 opens only as the last.
    const exact = Buffer.from(await encryptBytes(dek, exactPlain));
    await put('extended', Buffer.concat([exact, exact.subarray(h)]));
    const extended = await drainStream(
      await openStoredXre1(disk, 'extended', dek, exact.length + exact.length - h, { start: 0, end: 5 }),
    );
    expect(extended.error).toMatchObject({ code: 'trailing_data' });
  });

  it('rejects before streaming: a bad header, a length no XRE1 object has, a missing object, a stored length unlike the row', async () => {
    const flipped = Buffer.from(object);
    flipped[0]! ^= 0x01;
    await put('bad-magic', flipped);
    await expect(openStoredXre1(disk, 'bad-magic', dek, flipped.length, undefined)).rejects.toMatchObject({
      code: 'bad_magic',
    });
    await expect(openStoredXre1(disk, 'object', dek, at(1) + 5, undefined)).rejects.toMatchObject({
      code: 'bad_length',
    });
    await expect(openStoredXre1(disk, 'absent', dek, object.length, undefined)).rejects.toThrow(/No object/);
    await put('appended', Buffer.concat([object, Buffer.from([0])]));
    const appended = openStoredXre1(disk, 'appended', dek, object.length, undefined, { checkStoredLength: true });
    await expect(appended).rejects.toBeInstanceOf(StoredObjectMismatchError);
    await expect(appended).rejects.toMatchObject({ check: 'stored_length' });
  });

  it('reads the segments sent to a client as client-paced (on S3 their own pool), the header at the server’s pace', async () => {
    const download = metered(disk);
    const sent = await drainStream(
      await openStoredXre1(download.store, 'object', dek, object.length, undefined, { clientPaced: true }),
    );
    expect(sent.emitted.equals(plaintext)).toBe(true);
    expect(download.reads[0]).toMatchObject({ start: 0 }); // the header first, then the segments
    expect(download.clientPaced).toEqual([false, true]);
    const render = metered(disk);
    await drainStream(await openStoredXre1(render.store, 'object', dek, object.length, undefined));
    expect(render.clientPaced).toEqual([false, false]);
  });

  it('fails a read the store cuts short as truncated, and one that returns more than asked as bad_length', async () => {
    const { store } = metered(disk, { cutAt: at(1) + 100 });
    const cut = await drainStream(
      await openStoredXre1(store, 'object', dek, object.length, { start: 0, end: 2 * MiB }),
    );
    expect(cut.error).toBeInstanceOf(Xre1Error);
    expect(cut.error).toMatchObject({ code: 'truncated' });
    expect(cut.emitted.equals(plaintext.subarray(0, MiB))).toBe(true);
    const more = metered(disk, { cutAt: at(3) - 1 }); // asks for segment 0 only, gets 0..2
    const long = await drainStream(
      await openStoredXre1(more.store, 'object', dek, object.length, { start: 0, end: 10 }),
    );
    expect(long.error).toMatchObject({ code: 'bad_length' });
  });

  it('hashes a whole read and withholds its last segment unless it is the recorded sha256', async () => {
    const right = await drainStream(
      await openStoredXre1(disk, 'object', dek, object.length, undefined, { sha256: sha(plaintext) }),
    );
    expect(right.error).toBeUndefined();
    expect(sha(right.emitted)).toBe(sha(plaintext));
    const wrong = await drainStream(
      await openStoredXre1(disk, 'object', dek, object.length, undefined, { sha256: sha(exactPlain) }),
    );
    expect(wrong.error).toBeInstanceOf(StoredObjectMismatchError);
    expect(wrong.error).toMatchObject({ check: 'sha256' });
    expect(wrong.emitted.equals(plaintext.subarray(0, 3 * MiB))).toBe(true);
    // A Range cannot be checked against the whole hash: it is served, segment by segment authenticated.
    const range = await drainStream(
      await openStoredXre1(disk, 'object', dek, object.length, { start: 5, end: 9 }, { sha256: sha(exactPlain) }),
    );
    expect(range.emitted.equals(plaintext.subarray(5, 10))).toBe(true);
  });

  it('opens an empty object (one empty last segment)', async () => {
    const empty = await encryptBytes(dek, new Uint8Array(0));
    await put('empty', empty);
    expect(empty.length).toBe(h + TAG_LENGTH);
    const out = await drainStream(
      await openStoredXre1(disk, 'empty', dek, empty.length, undefined, { sha256: sha(new Uint8Array(0)) }),
    );
    expect(out.error).toBeUndefined();
    expect(out.emitted.length).toBe(0);
  });
});
