import { randomUUID } from 'node:crypto';
import { close, createReadStream, createWriteStream, open as openFd } from 'node:fs';
import { chmod, link, mkdir, open, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { ReadAheadStream } from './fs.read-ahead.ts';
import {
  assertSafeKey,
  ObjectNotFoundError,
  type ByteRange,
  type GetOptions,
  type ObjectStore,
} from './object-store.ts';
import { ensurePrivateDir, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from './private-files.ts';

const openForReading = promisify(openFd);
/** Chunked reads (downloads) keep this many reads in flight. */
const READ_AHEAD = 2;

/** fsync of one file or directory. */
async function fsync(p: string): Promise<void> {
  const fh = await open(p, 'r');
  await fh.sync().finally(() => fh.close());
}

/**
 * fsync of `dir`, and of each parent up to `last` (inclusive): a rename or a new directory is on
 * disk only once its parent is synced.
 */
async function syncDirectories(dir: string, last: string): Promise<void> {
  for (let d = dir; ; d = path.dirname(d)) {
    await fsync(d);
    if (d === last || d === path.dirname(d)) return;
  }
}

/**
 * Renames a synced temp file to `target` and syncs the directories that now name it (its own, and
 * up to the parent of the first one mkdir made for it). Should they not sync, the new name is
 * removed again: a put or copy that fails leaves nothing at its key (a failed final PATCH would
 * otherwise leave an object that no row or upload points at).
 */
async function placeAt(tmp: string, target: string): Promise<void> {
  const dir = path.dirname(target);
  const created = await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  await rename(tmp, target);
  try {
    await syncDirectories(dir, created ? path.dirname(created) : dir);
  } catch (err) {
    await rm(target, { force: true });
    throw err;
  }
}

/**
 * Objects as files under one directory; writes go to a temp file and are renamed into place.
 * Files are 0600 and directories 0700: the server's user alone reads them.
 */
export class FsObjectStore implements ObjectStore {
  readonly kind = 'fs' as const;
  private readonly tmpDir: string;

  constructor(private readonly dir: string) {
    this.tmpDir = path.join(dir, '.tmp');
  }

  async init(): Promise<void> {
    // The root too when it exists from before: nothing below it is reachable by anyone else then.
    await ensurePrivateDir(this.dir);
    await ensurePrivateDir(this.tmpDir);
  }

  private file(key: string): string {
    assertSafeKey(key);
    return path.join(this.dir, key);
  }

  async put(key: string, body: Readable, signal?: AbortSignal): Promise<{ size: number }> {
    const target = this.file(key);
    const tmp = path.join(this.tmpDir, randomUUID());
    const out = createWriteStream(tmp, { flags: 'wx', mode: PRIVATE_FILE_MODE });
    try {
      await pipeline(body, out, signal ? { signal } : {});
      // fsync before rename: once put resolves, the X-ray survives a power cut.
      await fsync(tmp);
      await placeAt(tmp, target);
      return { size: out.bytesWritten };
    } catch (err) {
      // A stream destroyed while its file is still being opened creates the file after all, then
      // closes it: removing it before 'close' could leave a temp file for good.
      if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async get(key: string, range?: ByteRange, opts: GetOptions = {}): Promise<Readable> {
    const file = this.file(key);
    // A plain fd rather than a FileHandle: the stream then reads through the callback fs API,
    // which costs less per chunk than fs/promises. Opened here so a missing object throws now.
    const fd = await openForReading(file, 'r').catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? new ObjectNotFoundError(key) : err;
    });
    try {
      if (opts.chunkSize && range && range.start <= range.end)
        return new ReadAheadStream(fd, range, opts.chunkSize, READ_AHEAD, opts.buffers);
      return createReadStream('', { fd, ...(range ? { start: range.start, end: range.end } : {}) });
    } catch (err) {
      close(fd);
      throw err;
    }
  }

  /** A second name for the same file (no bytes copied), put in place atomically. */
  async copy(from: string, to: string): Promise<void> {
    const source = this.file(from);
    const target = this.file(to);
    const tmp = path.join(this.tmpDir, randomUUID());
    await link(source, tmp).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? new ObjectNotFoundError(from) : err;
    });
    try {
      // A link shares the file's mode: tightened here in case the source was written before modes were set.
      await chmod(tmp, PRIVATE_FILE_MODE);
      await placeAt(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async stat(key: string): Promise<{ size: number } | null> {
    try {
      return { size: (await stat(this.file(key))).size };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async sync(key: string): Promise<void> {
    const file = this.file(key);
    await fsync(file).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? new ObjectNotFoundError(key) : err;
    });
    // Its name, and the directories above it up to the store's own (any of them may be new).
    const top = key.includes('/') ? this.file(key.slice(0, key.indexOf('/'))) : this.dir;
    await syncDirectories(path.dirname(file), top);
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
    // Only the directory the prefix names is walked (an X-ray's renders: not the whole store).
    const base = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    const root = base && !base.split('/').includes('..') ? path.join(this.dir, base) : this.dir;
    const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
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
