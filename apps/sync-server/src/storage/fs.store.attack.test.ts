// Attack on 5217308 (ObjectStore.sync, which replaced the tus adapter's own fsync): odd keys, a
// missing object, an fsync that fails on the file or on a directory, and that a finished tus
// upload (linked to its X-ray key) is synced as the old adapter synced it.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FsObjectStore } from './fs.store.ts';
import { ObjectNotFoundError } from './object-store.ts';

const disk = vi.hoisted(() => ({
  synced: [] as string[],
  open: 0,
  closed: 0,
  /** fsync of a path matching this fails with EIO. */
  failing: undefined as RegExp | undefined,
}));

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const open: typeof real.open = async (...args) => {
    const fh = await real.open(...args);
    disk.open++;
    const at = String(args[0]);
    const sync = fh.sync.bind(fh);
    const close = fh.close.bind(fh);
    fh.sync = async () => {
      if (disk.failing?.test(at))
        throw Object.assign(new Error(`EIO: i/o error, fsync '${at}'`), { code: 'EIO', errno: -5, syscall: 'fsync' });
      await sync();
      disk.synced.push(at);
    };
    fh.close = async () => {
      disk.closed++;
      await close();
    };
    return fh;
  };
  return { ...real, open, default: { ...real, open } };
});

describe('FsObjectStore.sync attack', () => {
  let dir: string;
  let store: FsObjectStore;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fs-store-sync-attack-'));
    store = new FsObjectStore(dir);
    await store.init();
    disk.synced = [];
    disk.failing = undefined;
    disk.open = 0;
    disk.closed = 0;
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('keys that are not store keys are refused before anything is opened', async () => {
    for (const key of [
      '',
      '/etc/passwd',
      dir,
      '../outside-sync-attack',
      'xrays/../../outside-sync-attack',
      'xrays/./a',
      './a',
      'a//b',
      'a/',
      '/a',
      'a\\..\\..\\b',
      'a\0b',
      '..',
      '.',
    ]) {
      await expect(store.sync(key), JSON.stringify(key)).rejects.toThrow(/Unsafe object key/);
    }
    expect(disk.open).toBe(0);
    expect(disk.synced).toEqual([]);
  });

  it('a missing object, in a directory that exists or not: ObjectNotFoundError, nothing synced', async () => {
    await store.put('xrays/x1/object', Readable.from([Buffer.from('b')]));
    disk.synced = [];
    for (const key of ['xrays/x1/missing', 'xrays/nope/missing', 'nope', 'renders/a/b/c']) {
      await expect(store.sync(key), key).rejects.toBeInstanceOf(ObjectNotFoundError);
    }
    expect(disk.synced).toEqual([]);
  });

  it('an object below a file (ENOTDIR) is refused, not taken as synced', async () => {
    await store.put('xrays/x1/object', Readable.from([Buffer.from('b')]));
    await expect(store.sync('xrays/x1/object/below')).rejects.toThrow();
  });

  it('EIO on the file: rejected, no directory synced, every handle closed', async () => {
    await store.put('uploads/u1', Readable.from([Buffer.from('tus bytes')]));
    await store.copy('uploads/u1', 'xrays/x1/tus-u1');
    disk.synced = [];
    disk.open = disk.closed = 0;
    disk.failing = /tus-u1$/;
    await expect(store.sync('xrays/x1/tus-u1')).rejects.toMatchObject({ code: 'EIO' });
    expect(disk.synced).toEqual([]);
    expect(disk.closed).toBe(disk.open);
  });

  it('EIO on a directory (the X-ray’s, or xrays/): rejected with the error, every handle closed', async () => {
    await store.put('uploads/u1', Readable.from([Buffer.from('tus bytes')]));
    await store.copy('uploads/u1', 'xrays/x1/tus-u1');
    for (const failing of [/[/\\]x1$/, /[/\\]xrays$/]) {
      disk.synced = [];
      disk.open = disk.closed = 0;
      disk.failing = failing;
      await expect(store.sync('xrays/x1/tus-u1'), String(failing)).rejects.toMatchObject({ code: 'EIO' });
      expect(disk.closed, String(failing)).toBe(disk.open);
      expect(disk.synced[0]).toBe(path.join(dir, 'xrays', 'x1', 'tus-u1'));
    }
    disk.failing = undefined;
    await store.sync('xrays/x1/tus-u1');
  });

  it('a finished tus upload linked at its X-ray key: the file and each directory below the root, as the old adapter synced', async () => {
    await store.put('uploads/u1', Readable.from([Buffer.from('tus bytes')]));
    await store.copy('uploads/u1', 'xrays/x1/tus-u1');
    disk.synced = [];
    await store.sync('xrays/x1/tus-u1');
    // The old tus persist: fsync(file), then every directory from its own while it is below the root.
    const old: string[] = [path.join(dir, 'xrays', 'x1', 'tus-u1')];
    for (let d = path.join(dir, 'xrays', 'x1'); d.startsWith(dir + path.sep); d = path.dirname(d)) old.push(d);
    expect(disk.synced).toEqual(old);
    // Deeper keys too: every directory up to the top one, none above the root.
    await mkdir(path.join(dir, 'a', 'b', 'c'), { recursive: true });
    await writeFile(path.join(dir, 'a', 'b', 'c', 'd'), 'x');
    disk.synced = [];
    await store.sync('a/b/c/d');
    expect(disk.synced).toEqual([
      path.join(dir, 'a', 'b', 'c', 'd'),
      path.join(dir, 'a', 'b', 'c'),
      path.join(dir, 'a', 'b'),
      path.join(dir, 'a'),
    ]);
    expect(disk.synced.every((p) => p.startsWith(dir + path.sep))).toBe(true);
  });
});
