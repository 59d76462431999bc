import { chmod, mkdir, stat } from 'node:fs/promises';

/**
 * What the server writes to disk (X-ray objects, unfinished uploads, development keys) is for the
 * server's user alone. Modes are given where each file or directory is made, rather than by a
 * process-wide umask: the umask is inherited by child processes, and the embedded PostgreSQL's
 * `initdb` (run as another user when we are root) must read a password file its library writes.
 */
export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

/** Creates `dir` (and missing parents) as 0700, and takes group and other access off one that exists. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  await tighten(dir, PRIVATE_DIR_MODE);
}

/** Takes group and other access off an existing file (one written before modes were set). */
export async function ensurePrivateFile(file: string): Promise<void> {
  await tighten(file, PRIVATE_FILE_MODE);
}

async function tighten(target: string, mode: number): Promise<void> {
  const { mode: current } = await stat(target);
  if ((current & 0o077) !== 0) await chmod(target, mode);
}
