import { watch, type FSWatcher } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';

/** A file the detector finished writing into the watched folder. */
export interface NewFile {
  name: string;
  path: string;
  size: number;
  mtimeMs: number;
}

export interface FolderWatcherOptions {
  dir: string;
  onFile(file: NewFile): void;
  onError?(err: unknown): void;
  /** A file counts as finished when its size and time have not changed for this long. */
  stableMs?: number;
  /** How often the folder is looked at (fs.watch also triggers a look at once). */
  pollMs?: number;
  /** Which names to consider (default: not hidden, not a temporary/partial download). */
  accept?(name: string): boolean;
}

const PARTIAL = /\.(tmp|temp|part|partial|crdownload|download|lock)$/i;

/** Detector exports often have no extension (DICOM): the app checks the content, not the name. */
export const acceptExportName = (name: string): boolean =>
  !name.startsWith('.') && !name.startsWith('~') && !name.endsWith('~') && !PARTIAL.test(name);

/**
 * Watches the detector's export folder for new files and reports each once it has stopped
 * growing (detectors write large files over seconds). Files already there at start are not
 * reported: they were handled before, or belong to someone else. fs.watch speeds things up;
 * the poll makes it work where fs.watch does not (network shares, some USB file systems).
 */
export function watchFolder(opts: FolderWatcherOptions): { ready: Promise<void>; close(): void } {
  const stableMs = opts.stableMs ?? 1_000;
  const pollMs = opts.pollMs ?? 500;
  const accept = opts.accept ?? acceptExportName;
  /** name → what it looked like last time, and since when. */
  const candidates = new Map<string, { size: number; mtimeMs: number; since: number }>();
  /** name → size:mtime reported (a file rewritten later is reported again). */
  const reported = new Map<string, string>();
  let closed = false;
  let scanning: Promise<void> | undefined;
  let again = false;

  const scan = async (): Promise<void> => {
    const names = await readdir(opts.dir);
    const now = Date.now();
    for (const name of names) {
      if (closed) return;
      if (!accept(name)) continue;
      const full = path.join(opts.dir, name);
      const s = await stat(full).catch(() => undefined);
      if (!s?.isFile() || s.size === 0) continue;
      const key = `${s.size}:${s.mtimeMs}`;
      if (reported.get(name) === key) continue;
      const seen = candidates.get(name);
      if (!seen || seen.size !== s.size || seen.mtimeMs !== s.mtimeMs) {
        candidates.set(name, { size: s.size, mtimeMs: s.mtimeMs, since: now });
        continue;
      }
      if (now - seen.since < stableMs) continue;
      candidates.delete(name);
      reported.set(name, key);
      opts.onFile({ name, path: full, size: s.size, mtimeMs: s.mtimeMs });
    }
  };
  const look = (): void => {
    if (closed) return;
    if (scanning) {
      again = true;
      return;
    }
    scanning = scan()
      .catch((err: unknown) => opts.onError?.(err))
      .finally(() => {
        scanning = undefined;
        if (again) {
          again = false;
          look();
        }
      });
  };

  let watcher: FSWatcher | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  const ready = (async () => {
    // What is there now is the baseline.
    for (const name of await readdir(opts.dir)) {
      const s = await stat(path.join(opts.dir, name)).catch(() => undefined);
      if (s?.isFile()) reported.set(name, `${s.size}:${s.mtimeMs}`);
    }
    if (closed) return;
    try {
      watcher = watch(opts.dir, () => look());
      watcher.on('error', (err) => opts.onError?.(err));
    } catch (err) {
      opts.onError?.(err);
    }
    timer = setInterval(look, pollMs);
  })();
  return {
    ready,
    close() {
      closed = true;
      watcher?.close();
      if (timer) clearInterval(timer);
    },
  };
}

/** Reads a file of the watched folder by name; a name that leaves the folder is refused. */
export async function readWatchedFile(dir: string, name: string): Promise<Buffer> {
  const root = path.resolve(dir);
  const full = path.resolve(root, name);
  if (path.dirname(full) !== root || path.basename(full) !== name)
    throw new Error(`"${name}" is not a file of the watched folder`);
  return readFile(full);
}
