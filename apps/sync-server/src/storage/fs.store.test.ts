import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FsObjectStore } from './fs.store.ts';

describe('FsObjectStore.put', () => {
  let dir: string;
  let store: FsObjectStore;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fs-store-'));
    store = new FsObjectStore(dir);
    await store.init();
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  // A refused upload aborts its body at once (the content check fails on the first bytes). The temp
  // file must not appear after put has given up, as it did when the file was still being opened
  // while put removed it.
  it('a body that fails before the temp file is open leaves no temp file behind', async () => {
    // Many at once, so the thread pool's order of open and unlink varies as it does under load.
    const puts = Array.from({ length: 300 }, (_, i) => {
      const body = new Readable({ read() {} });
      const put = store.put(`xrays/x/${i}`, body);
      body.destroy(new Error('refused'));
      return put;
    });
    const settled = await Promise.allSettled(puts);
    expect(settled.every((s) => s.status === 'rejected' && (s.reason as Error).message === 'refused')).toBe(true);
    const aborted = new AbortController();
    const put = store.put('xrays/y/1', new Readable({ read() {} }), aborted.signal);
    aborted.abort();
    await expect(put).rejects.toThrow();
    await sleep(100);
    expect(await readdir(path.join(dir, '.tmp'))).toEqual([]);
    expect(await store.list('')).toEqual([]);
  });
});
