import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertSafeKey, ObjectNotFoundError, type ByteRange, type ObjectStore } from './object-store.ts';

/** Objects as files under one directory; writes go to a temp file and are renamed into place. */
export class FsObjectStore implements ObjectStore {
  readonly kind = 'fs' as const;
  private readonly tmpDir: string;

  constructor(private readonly dir: string) {
    this.tmpDir = path.join(dir, '.tmp');
  }

  async init(): Promise<void> {
    await mkdir(this.tmpDir, { recursive: true });
  }

  private file(key: string): string {
    assertSafeKey(key);
    return path.join(this.dir, key);
  }

  async put(key: string, body: Readable, signal?: AbortSignal): Promise<{ size: number }> {
    const target = this.file(key);
    const tmp = path.join(this.tmpDir, randomUUID());
    const out = createWriteStream(tmp, { flags: 'wx' });
    try {
      await pipeline(body, out, signal ? { signal } : {});
      // fsync before rename: once put resolves, the X-ray survives a power cut.
      const fh = await open(tmp, 'r');
      await fh.sync().finally(() => fh.close());
      await mkdir(path.dirname(target), { recursive: true });
      await rename(tmp, target);
      return { size: out.bytesWritten };
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const file = this.file(key);
    const fh = await open(file, 'r').catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? new ObjectNotFoundError(key) : err;
    });
    return createReadStream('', { fd: fh, ...(range ? { start: range.start, end: range.end } : {}) });
  }

  async stat(key: string): Promise<{ size: number } | null> {
    try {
      return { size: (await stat(this.file(key))).size };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    const file = this.file(key);
    await rm(file, { force: true });
    // Remove now-empty parent directories up to the root, so deleted X-rays leave nothing behind.
    let dir = path.dirname(file);
    while (dir.startsWith(this.dir + path.sep)) {
      try {
        await rmdir(dir);
      } catch {
        break;
      }
      dir = path.dirname(dir);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const entries = await readdir(this.dir, { recursive: true, withFileTypes: true }).catch(() => []);
    return entries
      .filter((e) => e.isFile())
      .map((e) => path.relative(this.dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
      .filter((k) => !k.startsWith('.tmp/') && k.startsWith(prefix))
      .sort();
  }

  async check(): Promise<void> {
    await stat(this.tmpDir);
  }
}
