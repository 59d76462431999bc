// What FsObjectStore syncs before put and copy resolve: the file, and the directories that hold
// its new name (a rename, or a directory made for it, is on disk only once its parent is synced).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FsObjectStore } from './fs.store.ts';

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
});
