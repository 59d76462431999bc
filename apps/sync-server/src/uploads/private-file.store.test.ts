import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Upload } from '@tus/utils';
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
});
