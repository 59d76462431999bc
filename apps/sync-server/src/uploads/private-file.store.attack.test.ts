// Attack on the tus disk store's background flushes (b27e38a, 437e828): a flush that fails (the
// file gone, the disk failing) lets no rejection escape, leaks no descriptor and does not stop
// later flushes; a stuck flush holds no answer and no other upload; the bytes are the bytes.
import { createHash } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { mkdtemp, open, readdir, readFile, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Upload } from '@tus/utils';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PrivateFileStore } from './private-file.store.ts';

const dirs: string[] = [];
const escaped = vi.fn();
afterEach(async () => {
  vi.restoreAllMocks();
  process.off('unhandledRejection', escaped);
  escaped.mockReset();
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function storeIn(): Promise<{ store: PrivateFileStore; dir: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tus-attack-'));
  dirs.push(dir);
  process.on('unhandledRejection', escaped);
  return { store: new PrivateFileStore({ directory: dir }), dir };
}

/**
 * Watches the store's background flushes through the FileHandle class (the store opens its own
 * handles): `synced` sees each flush start (its datasync), `files` the file each one flushed;
 * `ended()` counts those whose handle has been closed, after which the store is free to start the
 * next one (a macrotask later at most). `close` is a field of each handle, not of the class, so it
 * is wrapped on the handle being flushed. `behave(call, real)` decides what each datasync does
 * (by default the real one).
 */
async function watchFlushes(
  dir: string,
  behave: (call: number, real: () => Promise<void>) => Promise<void> = (_call, real) => real(),
) {
  const fh = await open(path.join(dir, '.probe'), 'w');
  await fh.close();
  const proto = Object.getPrototypeOf(fh) as { datasync: () => Promise<void> };
  const realSync = proto.datasync;
  let ended = 0;
  const files: string[] = [];
  const synced = vi.spyOn(proto, 'datasync').mockImplementation(async function (this: {
    fd: number;
    close: () => Promise<void>;
  }) {
    files.push(readlinkSync(`/proc/self/fd/${this.fd}`));
    const realClose = this.close;
    this.close = () => realClose().finally(() => ended++);
    return behave(synced.mock.calls.length, () => realSync.call(this));
  });
  return { synced, files, ended: () => ended };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Polls for up to 10 s (a flush on a busy disk may take a while); the assertion after it decides. */
const until = async (check: () => boolean | Promise<boolean>) => {
  for (let i = 0; i < 2000 && !(await check()); i++) await sleep(5);
};
/** This process's open descriptors (Linux). */
const openFds = async () => (await readdir('/proc/self/fd')).length;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('PrivateFileStore background flushes under attack', () => {
  it('a flush whose disk fails (EIO) escapes nothing, closes its descriptor, and the next write flushes again', async () => {
    const { store, dir } = await storeIn();
    const fdsBefore = await openFds();
    const { synced, ended } = await watchFlushes(dir, async (call, real) => {
      if (call === 1) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
      return real();
    });
    await store.create(new Upload({ id: 'e1', size: 6, offset: 0 }));
    expect(await store.write(Readable.from([Buffer.from('abc')]), 'e1', 0)).toBe(3);
    // The failed flush has ended (its handle closed), so the next write may start its own.
    await until(() => ended() >= 1);
    await sleep(0);
    expect(synced).toHaveBeenCalledTimes(1);
    // The handle the failed flush opened is closed.
    expect(await openFds()).toBeLessThanOrEqual(fdsBefore);
    expect(await store.write(Readable.from([Buffer.from('def')]), 'e1', 3)).toBe(6);
    await until(() => ended() >= 2);
    expect(synced).toHaveBeenCalledTimes(2);
    await sleep(20);
    expect(escaped).not.toHaveBeenCalled();
    expect(await readFile(path.join(dir, 'e1'), 'utf8')).toBe('abcdef');
  });

  it('an upload removed before its flush opens it: nothing escapes and later uploads still flush', async () => {
    const { store, dir } = await storeIn();
    const { files } = await watchFlushes(dir);
    for (let i = 0; i < 20; i++) {
      const id = `gone-${i}`;
      await store.create(new Upload({ id, size: 3, offset: 0 }));
      // Removed in the same tick the write answers: the flush finds no file (ENOENT) or an unlinked one.
      await store.write(Readable.from([Buffer.from('abc')]), id, 0);
      await store.remove(id);
    }
    // A flush of one of them may still be under way (on a busy disk, for as long as it likes): a write
    // meanwhile rightly starts none. So the later upload writes a byte at a time until one of its
    // writes starts a flush of its own; a flush that never ends, or a store that stopped flushing,
    // fails here.
    const after = path.join(await realpath(dir), 'after');
    const SIZE = 200;
    await store.create(new Upload({ id: 'after', size: SIZE, offset: 0 }));
    for (let offset = 0; offset < SIZE && !files.includes(after);) {
      offset = await store.write(Readable.from([Buffer.from('x')]), 'after', offset);
      for (let i = 0; i < 10 && !files.includes(after); i++) await sleep(5);
    }
    await until(() => files.includes(after));
    expect(files).toContain(after);
    expect(escaped).not.toHaveBeenCalled();
    expect((await readdir(dir)).filter((n) => n.startsWith('gone-'))).toEqual([]);
  });

  it('a stuck flush holds no answer: other uploads write, finish and are removed meanwhile; no descriptor is left', async () => {
    const { store, dir } = await storeIn();
    const fdsBefore = await openFds();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let concurrent = 0;
    let most = 0;
    const { synced, ended } = await watchFlushes(dir, async (call, real) => {
      concurrent++;
      most = Math.max(most, concurrent);
      try {
        if (call === 1) await held;
        await real();
      } finally {
        concurrent--;
      }
    });
    await store.create(new Upload({ id: 'stuck', size: 4, offset: 0 }));
    await store.write(Readable.from([Buffer.from('st')]), 'stuck', 0);
    await until(() => synced.mock.calls.length >= 1);

    // 30 uploads of 3 chunks each, concurrently, while the first flush hangs.
    const chunks = (i: number) => [0, 1, 2].map((k) => Buffer.alloc(4096 + k, `${i}-${k}`));
    const ids = Array.from({ length: 30 }, (_, i) => `u${i}`);
    await Promise.all(
      ids.map(async (id, i) => {
        const parts = chunks(i);
        const size = parts.reduce((n, p) => n + p.length, 0);
        await store.create(new Upload({ id, size, offset: 0 }));
        let offset = 0;
        for (const p of parts) offset = await store.write(Readable.from([p]), id, offset);
        expect(offset).toBe(size);
        expect(sha(await readFile(path.join(dir, id)))).toBe(sha(Buffer.concat(parts)));
      }),
    );
    // The stuck upload is ended meanwhile (terminated), then its flush comes back.
    await store.remove('stuck');
    release();
    // The stuck flush has ended (its handle closed): the store is free to flush again.
    await until(() => ended() >= 1);
    await sleep(0);
    // Never more than one flush at a time, whatever the number of uploads.
    expect(most).toBe(1);
    expect(synced).toHaveBeenCalledTimes(1);
    await Promise.all(ids.map((id) => store.remove(id)));
    await until(async () => (await openFds()) <= fdsBefore);
    expect(await openFds()).toBeLessThanOrEqual(fdsBefore);
    expect(escaped).not.toHaveBeenCalled();
    // And the pool of one is free again: the next write flushes.
    const count = synced.mock.calls.length;
    await store.create(new Upload({ id: 'last', size: 1, offset: 0 }));
    await store.write(Readable.from([Buffer.from('z')]), 'last', 0);
    await until(() => synced.mock.calls.length > count);
    expect(synced.mock.calls.length).toBeGreaterThan(count);
  });

  it('a write the client breaks off mid-chunk starts no flush of its own and leaves the store usable', async () => {
    const { store, dir } = await storeIn();
    const { synced } = await watchFlushes(dir);
    await store.create(new Upload({ id: 'cut', size: 10, offset: 0 }));
    const broken = new Readable({
      read() {
        this.push(Buffer.from('abc'));
        this.destroy(new Error('client went away'));
      },
    });
    await store.write(broken, 'cut', 0).catch(() => undefined);
    await sleep(30);
    const flushesAfterCut = synced.mock.calls.length;
    const { size } = await import('node:fs/promises').then((fs) => fs.stat(path.join(dir, 'cut')));
    // The resume continues at what is on disk, and that one flushes.
    expect(await store.write(Readable.from([Buffer.from('0123456789'.slice(size))]), 'cut', size)).toBe(10);
    await until(() => synced.mock.calls.length > flushesAfterCut);
    expect(synced.mock.calls.length).toBeGreaterThan(flushesAfterCut);
    expect(await readFile(path.join(dir, 'cut'), 'utf8')).toBe(`${'abc'.slice(0, size)}${'0123456789'.slice(size)}`);
    expect(escaped).not.toHaveBeenCalled();
  });
});
