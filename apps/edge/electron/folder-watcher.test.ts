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
    // Stable for 1.5 s, parts 150 ms apart for longer than that: a pause between parts on a busy
    // machine (a late timer) stays far below it, and the file must count as growing all along. No
    // fsync between parts: a stat sees the size at once, while an fsync on a busy disk can take
    // longer than the stable time.
    const watcher = watchFolder({ dir, onFile: (f) => seen.push(f), stableMs: 1_500, pollMs: 50 });
    await watcher.ready;
    const parts = ['DICM-part-1 ', ...Array.from({ length: 11 }, (_, i) => `part-${i + 2} `)];
    try {
      // A detector writing a file in twelve parts, 150 ms apart.
      const handle = await open(path.join(dir, 'IMG0001'), 'w');
      for (const part of parts) {
        await handle.write(part);
        await sleep(150);
        expect(seen).toEqual([]);
      }
      await handle.close();
      await until(() => seen.length > 0, 30_000);
      await sleep(400);
      expect(seen.map((f) => [f.name, f.size])).toEqual([['IMG0001', parts.join('').length]]);
      expect((await readWatchedFile(dir, 'IMG0001')).toString()).toBe(parts.join(''));
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
