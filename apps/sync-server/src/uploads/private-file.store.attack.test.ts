// Attack on the tus disk store's background flushes (b27e38a, 437e828): a flush that fails (the
// file gone, the disk failing) lets no rejection escape, leaks no descriptor and does not stop
// later flushes; a stuck flush holds no answer and no other upload; the bytes are the bytes.
import { createHash } from 'node:crypto';
import { mkdtemp, open, readdir, readFile, rm } from 'node:fs/promises';
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

async function fileHandlePrototype(dir: string) {
  const fh = await open(path.join(dir, '.probe'), 'w');
  await fh.close();
  return Object.getPrototypeOf(fh) as { datasync: () => Promise<void> };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until = async (check: () => boolean) => {
  for (let i = 0; i < 400 && !check(); i++) await sleep(5);
};
/** This process's open descriptors (Linux). */
const openFds = async () => (await readdir('/proc/self/fd')).length;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('PrivateFileStore background flushes under attack', () => {
  it('a flush whose disk fails (EIO) escapes nothing, closes its descriptor, and the next write flushes again', async () => {
    const { store, dir } = await storeIn();
    const proto = await fileHandlePrototype(dir);
    const fdsBefore = await openFds();
    const synced = vi.spyOn(proto, 'datasync').mockImplementationOnce(async () => {
      throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    });
    await store.create(new Upload({ id: 'e1', size: 6, offset: 0 }));
    expect(await store.write(Readable.from([Buffer.from('abc')]), 'e1', 0)).toBe(3);
    await until(() => synced.mock.calls.length >= 1);
    await sleep(20);
    // The handle the failed flush opened is closed.
    expect(await openFds()).toBeLessThanOrEqual(fdsBefore);
    expect(await store.write(Readable.from([Buffer.from('def')]), 'e1', 3)).toBe(6);
    await until(() => synced.mock.calls.length >= 2);
    expect(synced).toHaveBeenCalledTimes(2);
    await sleep(20);
    expect(escaped).not.toHaveBeenCalled();
    expect(await readFile(path.join(dir, 'e1'), 'utf8')).toBe('abcdef');
  });

  it('an upload removed before its flush opens it: nothing escapes and later uploads still flush', async () => {
    const { store, dir } = await storeIn();
    const proto = await fileHandlePrototype(dir);
    const synced = vi.spyOn(proto, 'datasync');
    for (let i = 0; i < 20; i++) {
      const id = `gone-${i}`;
      await store.create(new Upload({ id, size: 3, offset: 0 }));
      // Removed in the same tick the write answers: the flush finds no file (ENOENT) or an unlinked one.
      await store.write(Readable.from([Buffer.from('abc')]), id, 0);
      await store.remove(id);
    }
    await sleep(50);
    const before = synced.mock.calls.length;
    await store.create(new Upload({ id: 'after', size: 3, offset: 0 }));
    await store.write(Readable.from([Buffer.from('xyz')]), 'after', 0);
    await until(() => synced.mock.calls.length > before);
    expect(synced.mock.calls.length).toBeGreaterThan(before);
    expect(escaped).not.toHaveBeenCalled();
    expect((await readdir(dir)).filter((n) => n.startsWith('gone-'))).toEqual([]);
  });

  it('a stuck flush holds no answer: other uploads write, finish and are removed meanwhile; no descriptor is left', async () => {
    const { store, dir } = await storeIn();
    const proto = await fileHandlePrototype(dir);
    const fdsBefore = await openFds();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let concurrent = 0;
    let most = 0;
    const real = proto.datasync;
    const synced = vi.spyOn(proto, 'datasync').mockImplementation(async function (this: unknown) {
      concurrent++;
      most = Math.max(most, concurrent);
      try {
        if (synced.mock.calls.length === 1) await held;
        await real.call(this);
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
    await until(() => concurrent === 0);
    await sleep(30);
    // Never more than one flush at a time, whatever the number of uploads.
    expect(most).toBe(1);
    await Promise.all(ids.map((id) => store.remove(id)));
    await sleep(30);
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
    const proto = await fileHandlePrototype(dir);
    const synced = vi.spyOn(proto, 'datasync');
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
