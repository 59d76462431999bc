// What FsObjectStore syncs before put and copy resolve: the file, and the directories that hold
// its new name (a rename, or a directory made for it, is on disk only once its parent is synced).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FsObjectStore } from './fs.store.ts';
import { ObjectNotFoundError } from './object-store.ts';

const synced = vi.hoisted(() => ({ paths: [] as string[] }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const open: typeof real.open = async (...args) => {
    const fh = await real.open(...args);
    const sync = fh.sync.bind(fh);
    fh.sync = async () => {
      await sync();
      synced.paths.push(String(args[0]));
    };
    return fh;
  };
  return { ...real, open, default: { ...real, open } };
});

describe('FsObjectStore durability', () => {
  let dir: string;
  let store: FsObjectStore;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fs-store-sync-'));
    store = new FsObjectStore(dir);
    await store.init();
    synced.paths = [];
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('put syncs the file, its directory, and every directory it had to make, up to one that existed', async () => {
    await store.put('xrays/a1/object', Readable.from([Buffer.from('bytes')]));
    const dirs = synced.paths.filter((p) => !p.includes(`${path.sep}.tmp${path.sep}`));
    expect(dirs).toEqual([path.join(dir, 'xrays', 'a1'), path.join(dir, 'xrays'), dir]);
    expect(synced.paths).toHaveLength(4); // the temp file first

    synced.paths = [];
    await store.put('xrays/a1/second', Readable.from([Buffer.from('more')]));
    // Its directory existed: that one only.
    expect(synced.paths.slice(1)).toEqual([path.join(dir, 'xrays', 'a1')]);
  });

  it('copy syncs the directory of the new name, and any it made', async () => {
    await store.put('xrays/a1/object', Readable.from([Buffer.from('bytes')]));
    synced.paths = [];
    await store.copy('xrays/a1/object', 'records/r1/object');
    expect(synced.paths).toEqual([path.join(dir, 'records', 'r1'), path.join(dir, 'records'), dir]);
  });

  it('sync (a file tus wrote, linked to its X-ray key) syncs the file and the directories naming it below the root', async () => {
    await store.put('uploads/u1', Readable.from([Buffer.from('tus bytes')]));
    await store.copy('uploads/u1', 'xrays/x1/tus-u1');
    synced.paths = [];
    await store.sync('xrays/x1/tus-u1');
    expect(synced.paths).toEqual([
      path.join(dir, 'xrays', 'x1', 'tus-u1'),
      path.join(dir, 'xrays', 'x1'),
      path.join(dir, 'xrays'),
    ]);
    // A key at the top: the root holds its name.
    await store.put('top', Readable.from([Buffer.from('t')]));
    synced.paths = [];
    await store.sync('top');
    expect(synced.paths).toEqual([path.join(dir, 'top'), dir]);
    // Nothing there: said so, nothing synced.
    synced.paths = [];
    await expect(store.sync('xrays/x1/missing')).rejects.toBeInstanceOf(ObjectNotFoundError);
    expect(synced.paths).toEqual([]);
    // Not a key of the store.
    await expect(store.sync('../outside')).rejects.toThrow(/Unsafe object key/);
  });
});
