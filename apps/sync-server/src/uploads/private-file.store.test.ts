import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { ERRORS, Upload } from '@tus/utils';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PrivateFileStore } from './private-file.store.ts';

const dirs: string[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function storeIn(): Promise<{ store: PrivateFileStore; dir: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tus-private-'));
  dirs.push(dir);
  return { store: new PrivateFileStore({ directory: dir }), dir };
}

/**
 * Watches the store's background flushes through the FileHandle class (the store opens its own
 * handles): `synced` sees each flush start; `ended()` counts those whose handle has been closed,
 * after which the store is free to start the next one (a macrotask later at most). `close` is a
 * field of each handle, not of the class, so it is wrapped on the handle being flushed. The first
 * flush may be held until `holdFirst` settles.
 */
async function watchFlushes(dir: string, holdFirst?: Promise<void>) {
  const fh = await open(path.join(dir, '.probe'), 'w');
  await fh.close();
  const proto = Object.getPrototypeOf(fh) as { datasync: () => Promise<void> };
  const realSync = proto.datasync;
  let ended = 0;
  const synced = vi.spyOn(proto, 'datasync').mockImplementation(async function (this: { close: () => Promise<void> }) {
    const realClose = this.close;
    this.close = () => realClose().finally(() => ended++);
    if (synced.mock.calls.length === 1) await holdFirst;
    return realSync.call(this);
  });
  return { synced, ended: () => ended };
}

/** Polls for up to 10 s (a flush on a busy disk may take a while); the assertion after it decides. */
const until = async (check: () => boolean) => {
  for (let i = 0; i < 2000 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
};

describe('PrivateFileStore', () => {
  it('starts flushing each write to disk in the background, without holding the answer', async () => {
    const { store, dir } = await storeIn();
    const { synced, ended } = await watchFlushes(dir);
    await store.create(new Upload({ id: 'u1', size: 6, offset: 0 }));
    expect(await store.write(Readable.from([Buffer.from('abc')]), 'u1', 0)).toBe(3);
    // The first flush has ended (not merely started), so the next write starts its own.
    await until(() => ended() >= 1);
    await new Promise((r) => setTimeout(r, 0));
    expect(synced).toHaveBeenCalledTimes(1);
    expect(await store.write(Readable.from([Buffer.from('def')]), 'u1', 3)).toBe(6);
    await until(() => synced.mock.calls.length >= 2);
    expect(synced).toHaveBeenCalledTimes(2);
    expect(await readFile(path.join(dir, 'u1'), 'utf8')).toBe('abcdef');
    expect((await stat(path.join(dir, 'u1'))).mode & 0o777).toBe(0o600);
  });

  it('holds at most one flush at a time (a thread of the pool each): a write meanwhile starts none', async () => {
    const { store, dir } = await storeIn();
    let release!: () => void;
    const { synced, ended } = await watchFlushes(dir, new Promise<void>((r) => (release = r)));
    await store.create(new Upload({ id: 'a', size: 6, offset: 0 }));
    await store.create(new Upload({ id: 'b', size: 6, offset: 0 }));
    await store.write(Readable.from([Buffer.from('abc')]), 'a', 0);
    await until(() => synced.mock.calls.length >= 1);
    // The first flush is still under way: these writes answer at once and start no other.
    expect(await store.write(Readable.from([Buffer.from('abc')]), 'b', 0)).toBe(3);
    expect(await store.write(Readable.from([Buffer.from('def')]), 'a', 3)).toBe(6);
    await new Promise((r) => setTimeout(r, 20));
    expect(synced).toHaveBeenCalledTimes(1);
    release();
    await until(() => ended() >= 1);
    await new Promise((r) => setTimeout(r, 0));
    expect(await store.write(Readable.from([Buffer.from('def')]), 'b', 3)).toBe(6);
    await until(() => synced.mock.calls.length >= 2);
    expect(synced).toHaveBeenCalledTimes(2);
  });

  it('lets an upload removed while its flush waits go quietly (no rejection escapes)', async () => {
    const { store } = await storeIn();
    const escaped = vi.fn();
    process.on('unhandledRejection', escaped);
    try {
      await store.create(new Upload({ id: 'u2', size: 3, offset: 0 }));
      await store.write(Readable.from([Buffer.from('abc')]), 'u2', 0);
      await store.remove('u2');
      await new Promise((r) => setTimeout(r, 50));
      expect(escaped).not.toHaveBeenCalled();
      await expect(store.getUpload('u2')).rejects.toBeDefined();
    } finally {
      process.off('unhandledRejection', escaped);
    }
  });

  describe('writes a PATCH body in batches', () => {
    /** The FileHandle class's writev, watched (the store opens its own handles). */
    async function watchWritev(dir: string) {
      const fh = await open(path.join(dir, '.probe'), 'w');
      await fh.close();
      const proto = Object.getPrototypeOf(fh) as { writev: (b: Buffer[], p: number) => Promise<unknown> };
      const original = proto.writev;
      return { original, writev: vi.spyOn(proto, 'writev') };
    }
    const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
    /** Chunks as a socket gives them: 64 KiB at most, some shorter. */
    const chunksOf = (bytes: Buffer) => {
      const out: Buffer[] = [];
      for (let at = 0, i = 0; at < bytes.length; i++) {
        const n = i % 7 === 3 ? 1_000 + i : 64 * 1024;
        out.push(bytes.subarray(at, at + n));
        at += n;
      }
      return out;
    };

    it('writes every byte where it belongs, in writes of about 1 MiB instead of one per chunk', async () => {
      const { store, dir } = await storeIn();
      const { writev } = await watchWritev(dir);
      const bytes = randomBytes(5 * 1024 * 1024 + 12_345);
      await store.create(new Upload({ id: 'big', size: bytes.length + 10, offset: 0 }));
      expect(await store.write(Readable.from([Buffer.from('0123456789')]), 'big', 0)).toBe(10);
      const chunks = chunksOf(bytes);
      expect(await store.write(Readable.from(chunks), 'big', 10)).toBe(10 + bytes.length);
      expect(sha256(await readFile(path.join(dir, 'big')))).toBe(
        sha256(Buffer.concat([Buffer.from('0123456789'), bytes])),
      );
      // Six writes of 1 MiB or more (the last the rest), not one per chunk (over 90).
      expect(chunks.length).toBeGreaterThan(90);
      const sizes = writev.mock.calls.map(([buffers]) => Buffer.concat(buffers).length);
      expect(sizes.slice(1, -1).every((n) => n >= 1024 * 1024)).toBe(true);
      expect(sizes.length).toBeGreaterThanOrEqual(5);
      expect(sizes.length).toBeLessThanOrEqual(7);
    });

    it('a body that fails still has what it brought written, then answers FILE_WRITE_ERROR', async () => {
      const { store, dir } = await storeIn();
      const bytes = randomBytes(300_000);
      await store.create(new Upload({ id: 'cut', size: 1_000_000, offset: 0 }));
      const body = new Readable({ read() {} });
      body.push(bytes.subarray(0, 100_000));
      body.push(bytes.subarray(100_000));
      setTimeout(() => body.destroy(new Error('connection reset')), 10);
      await expect(store.write(body, 'cut', 0)).rejects.toBe(ERRORS.FILE_WRITE_ERROR);
      // What arrived is in the file: the upload's offset (its size) says where the client goes on.
      expect(sha256(await readFile(path.join(dir, 'cut')))).toBe(sha256(bytes));
    });

    it('goes on after a short write, and a failed write is FILE_WRITE_ERROR', async () => {
      const { store, dir } = await storeIn();
      const { original, writev } = await watchWritev(dir);
      const bytes = randomBytes(200_000);
      await store.create(new Upload({ id: 'short', size: bytes.length, offset: 0 }));
      // The first writev takes only 1,000 bytes of what it is given.
      writev.mockImplementationOnce(function (this: unknown, buffers: Buffer[], position: number) {
        return original.call(this, [Buffer.concat(buffers).subarray(0, 1_000)], position);
      });
      expect(await store.write(Readable.from(chunksOf(bytes)), 'short', 0)).toBe(bytes.length);
      expect(sha256(await readFile(path.join(dir, 'short')))).toBe(sha256(bytes));

      await store.create(new Upload({ id: 'eio', size: 10, offset: 0 }));
      writev.mockRejectedValueOnce(Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }));
      await expect(store.write(Readable.from([Buffer.from('abc')]), 'eio', 0)).rejects.toBe(ERRORS.FILE_WRITE_ERROR);
    });
  });
});
