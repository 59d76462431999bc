import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acceptExportName, readWatchedFile, watchFolder, type NewFile } from './folder-watcher.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(20);
  }
}

describe('detector folder watcher', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'xray-watch-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reports a new file once, only after it stopped growing; files there before are not reported', async () => {
    await writeFile(path.join(dir, 'old.dcm'), 'from yesterday');
    const seen: NewFile[] = [];
    const watcher = watchFolder({ dir, onFile: (f) => seen.push(f), stableMs: 300, pollMs: 50 });
    await watcher.ready;
    try {
      // A detector writing a file in three parts, 150 ms apart.
      const handle = await open(path.join(dir, 'IMG0001'), 'w');
      for (const part of ['DICM-part-1 ', 'part-2 ', 'part-3']) {
        await handle.write(part);
        await handle.sync();
        await sleep(150);
        expect(seen).toEqual([]);
      }
      await handle.close();
      await until(() => seen.length > 0);
      await sleep(400);
      expect(seen.map((f) => [f.name, f.size])).toEqual([['IMG0001', 'DICM-part-1 part-2 part-3'.length]]);
      expect((await readWatchedFile(dir, 'IMG0001')).toString()).toBe('DICM-part-1 part-2 part-3');
    } finally {
      watcher.close();
    }
  });

  it('skips hidden and partial files', async () => {
    const seen: string[] = [];
    const watcher = watchFolder({ dir, onFile: (f) => seen.push(f.name), stableMs: 100, pollMs: 30 });
    await watcher.ready;
    try {
      await writeFile(path.join(dir, '.hidden'), 'x');
      await writeFile(path.join(dir, 'chest.dcm.part'), 'x');
      await writeFile(path.join(dir, 'knee.png'), 'png bytes');
      await until(() => seen.includes('knee.png'));
      await sleep(250);
      expect(seen).toEqual(['knee.png']);
    } finally {
      watcher.close();
    }
    expect(acceptExportName('IMG0002')).toBe(true);
    expect(acceptExportName('x.crdownload')).toBe(false);
  });

  it('refuses to read a name that leaves the folder', async () => {
    await expect(readWatchedFile(dir, '../etc/passwd')).rejects.toThrow('not a file of the watched folder');
    await expect(readWatchedFile(dir, path.join('sub', 'x'))).rejects.toThrow('not a file of the watched folder');
  });
});
