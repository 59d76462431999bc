import { randomUUID } from 'node:crypto';
import { link, open, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { ensurePrivateDir } from '../storage/private-files.ts';
import { assertWitnessName, type AuditWitness } from './audit.witness.ts';

/** Read-only for the server's user: a slip of the hand does not overwrite a checkpoint. */
const CHECKPOINT_FILE_MODE = 0o400;

/**
 * Checkpoints as files in one directory (development, single-machine installs). Each is written
 * to a temporary file, synced, then hard-linked into place, which fails when the name exists:
 * never a replaced or half-written checkpoint. Anyone with the machine's root can still rewrite
 * them; this adapter keeps the code path the same, it is not an anchor out of an admin's reach.
 */
export class FsAuditWitness implements AuditWitness {
  constructor(private readonly dir: string) {}

  get location(): string {
    return this.dir.endsWith(path.sep) ? this.dir : `${this.dir}${path.sep}`;
  }

  async put(name: string, body: string): Promise<'written' | 'exists'> {
    assertWitnessName(name);
    await ensurePrivateDir(this.dir);
    const tmp = path.join(this.dir, `.${randomUUID()}.tmp`);
    const fh = await open(tmp, 'wx', CHECKPOINT_FILE_MODE);
    try {
      await fh.writeFile(body, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await link(tmp, path.join(this.dir, name));
      // The directory entry too: a written checkpoint survives a power cut.
      const dir = await open(this.dir, 'r');
      await dir.sync().finally(() => dir.close());
      return 'written';
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return 'exists';
      throw err;
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async get(name: string): Promise<string | null> {
    assertWitnessName(name);
    try {
      return await readFile(path.join(this.dir, name), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async list(after?: string): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return names
      .filter((n) => !n.startsWith('.') && (after === undefined || n > after))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
}
