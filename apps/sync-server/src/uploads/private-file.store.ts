import { chmodSync, mkdirSync } from 'node:fs';
import { mkdir, open, writeFile, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import path from 'node:path';
import { FileConfigstore, FileStore } from '@tus/file-store';
import { ERRORS, isPathInsideDirectory, type Upload } from '@tus/utils';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../storage/private-files.ts';

/**
 * How many bytes of a PATCH body are gathered before they go to the file in one write. The body
 * arrives in chunks of 64 KiB at most; each write handed to libuv's thread pool costs the event
 * loop ~30 µs on the project's 2-core VMs (waking a pool thread), whatever its size, and 18 MB
 * written in 64 KiB writes took twice the wall time of 1 MiB ones (bench/results/NOTES.md).
 */
const WRITE_BATCH_BYTES = 1024 * 1024;

/** tus's info files (`<id>.json`), created 0600 (the library's own are world-readable). */
class PrivateFileConfigstore extends FileConfigstore {
  override async set(key: string, value: Upload): Promise<void> {
    const file = path.resolve(this.directory, `${key}.json`);
    if (!isPathInsideDirectory(this.directory, file)) throw ERRORS.FILE_NOT_FOUND;
    await writeFile(file, JSON.stringify(value), { mode: PRIVATE_FILE_MODE });
  }
}

/**
 * @tus/file-store with the modes of the rest of the disk store: its directory 0700, each upload's
 * bytes and info 0600 from the moment they exist (the library uses the default modes, 0755/0644).
 * A finished upload's file becomes the X-ray by a hard link, so the X-ray object keeps that mode.
 */
export class PrivateFileStore extends FileStore {
  /** A background flush is under way (one at a time: see write). */
  #flushing = false;

  constructor(options: { directory: string; expirationPeriodInMilliseconds?: number }) {
    super({ ...options, configstore: new PrivateFileConfigstore(options.directory) });
    // The library makes the directory in the background; whichever runs first, it ends up 0700.
    mkdirSync(this.directory, { recursive: true, mode: PRIVATE_DIR_MODE });
    chmodSync(this.directory, PRIVATE_DIR_MODE);
  }

  override async create(file: Upload): Promise<Upload> {
    // The directory goes with the last upload in it (the disk store removes empty ones): made again here.
    await mkdir(this.directory, { recursive: true, mode: PRIVATE_DIR_MODE });
    const data = this.#fileOf(file.id);
    // Created 0600 here; the library's create then truncates it, which keeps the mode.
    await writeFile(data, '', { mode: PRIVATE_FILE_MODE, flag: 'wx' });
    return super.create(file);
  }

  /**
   * After each write, the bytes it left in the page cache start going to disk in the background
   * (fdatasync), while the client sends its next chunk: finishing the upload (ObjectStore.sync of
   * the X-ray's link to this file) then flushes only what the last write left, not the whole
   * file. The answer does not wait for it; nothing is promised durable before that final sync.
   * A flush holds one of libuv's four threads (which also run file reads and writes and WebCrypto)
   * for milliseconds: one at a time, and a write that finds one under way leaves its bytes to the
   * next flush or the final sync.
   */
  override async write(readable: Readable, id: string, offset: number): Promise<number> {
    const file = this.#fileOf(id);
    const end = await writeBatched(readable, file, offset);
    if (this.#flushing) return end;
    this.#flushing = true;
    // A file removed meanwhile (finished, terminated, expired) has nothing left to flush.
    void datasync(file)
      .catch(() => undefined)
      .finally(() => {
        this.#flushing = false;
      });
    return end;
  }

  /** An upload's file, inside the directory (the library's private `resolve`). */
  #fileOf(id: string): string {
    const file = path.join(this.directory, id);
    if (!isPathInsideDirectory(this.directory, file)) throw ERRORS.FILE_NOT_FOUND;
    return file;
  }
}

/**
 * The library's write (every byte the body brings, from `offset`; the new end; FILE_WRITE_ERROR on
 * any failure), in writes of up to WRITE_BATCH_BYTES instead of one per chunk. A client that drops
 * ends the body gracefully (@tus/server's writeToStore). A body that fails still has what it
 * brought written, as the library's stream did before the error; a failed write does not.
 */
async function writeBatched(readable: Readable, file: string, offset: number): Promise<number> {
  let handle: FileHandle | undefined;
  let position = offset;
  let batch: Buffer[] = [];
  let size = 0;
  const flush = async (fh: FileHandle) => {
    const [buffers, bytes] = [batch, size];
    batch = [];
    size = 0;
    await writeAll(fh, buffers, bytes, position);
    position += bytes;
  };
  try {
    handle = await open(file, 'r+');
    for await (const chunk of readable as AsyncIterable<Buffer>) {
      batch.push(chunk);
      size += chunk.length;
      if (size >= WRITE_BATCH_BYTES) await flush(handle);
    }
    if (size > 0) await flush(handle);
  } catch {
    // The body failed with bytes gathered (a failed write emptied the batch first).
    if (handle && size > 0) await flush(handle).catch(() => undefined);
    throw ERRORS.FILE_WRITE_ERROR;
  } finally {
    await handle?.close().catch(() => undefined);
  }
  return position;
}

/** Writes `buffers` (`size` bytes in all) at `position`, going on after a short write. */
async function writeAll(fh: FileHandle, buffers: Buffer[], size: number, position: number): Promise<void> {
  let rest = buffers;
  let at = position;
  for (let left = size; left > 0;) {
    const { bytesWritten } = await fh.writev(rest, at);
    if (bytesWritten <= 0) throw new Error(`wrote nothing at ${at}`);
    left -= bytesWritten;
    at += bytesWritten;
    if (left > 0) rest = [Buffer.concat(rest).subarray(bytesWritten)];
  }
}

async function datasync(file: string): Promise<void> {
  const fh = await open(file, 'r');
  await fh.datasync().finally(() => fh.close());
}
