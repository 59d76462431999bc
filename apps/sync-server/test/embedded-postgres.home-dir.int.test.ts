import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, openAsBlob, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort, writeDicom } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signInAsDemoUser } from '../src/dev/dev-login.client.ts';
import { SYSTEM_DIR } from '../src/db/embedded-postgres.placement.ts';
import { postXray, validMetadata } from './harness.ts';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const asRoot = process.getuid?.() === 0;

/**
 * A first `npm start` from a fresh checkout in a home directory (mode 0700), as root in a VM or
 * container often is: PostgreSQL runs as the `postgres` user, which may not enter that directory.
 * As any other user the same start must simply work, with the database in DATA_DIR.
 */
describe('npm start from a checkout in a home directory (mode 0700)', () => {
  let home: string;
  let checkout: string;
  const started: Started[] = [];
  const systemDirs: string[] = [];

  beforeAll(async () => {
    home = await mkdtemp(path.join(tmpdir(), 'xray-home-'));
    await chmod(home, 0o700);
    checkout = await checkoutIn(home);
  }, 120_000);
  afterAll(async () => {
    for (const s of started) await s.stop();
    await rm(home, { recursive: true, force: true });
    for (const dir of systemDirs) await rm(dir, { recursive: true, force: true });
  });

  it('starts with the default DATA_DIR, is ready, and returns a stored X-ray unchanged, also after a restart', async () => {
    const dev = await startDev(checkout, {});
    started.push(dev);
    const dataDir = path.join(checkout, '.data');
    const moved = dev.entries.find((e) => typeof e.databaseDir === 'string' && e.dataDir === dataDir);
    const databaseDir = asRoot ? String(moved?.databaseDir) : path.join(dataDir, 'postgres');
    if (asRoot) {
      systemDirs.push(databaseDir);
      // Logged where the database went, and why.
      expect(moved?.msg, dev.output()).toContain(`the postgres user cannot reach DATA_DIR (${home} is mode 0700)`);
      expect(path.dirname(databaseDir)).toBe(path.join(SYSTEM_DIR, 'postgres'));
      expect((await stat(databaseDir)).uid).toBe(Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })));
      // The binaries it runs are a copy the postgres user can reach, not the checkout's.
      const pid = readFileSync(path.join(databaseDir, 'postmaster.pid'), 'utf8').split('\n')[0];
      const binary = execFileSync('readlink', [`/proc/${pid}/exe`], { encoding: 'utf8' }).trim();
      expect(binary.startsWith(path.join(SYSTEM_DIR, 'embedded-postgres') + path.sep), binary).toBe(true);
    } else {
      expect(moved, 'no database moved out of DATA_DIR when not root').toBeUndefined();
    }
    expect(existsSync(path.join(databaseDir, 'PG_VERSION'))).toBe(true);
    // Nothing was opened up to get there.
    expect((await stat(home)).mode & 0o777).toBe(0o700);
    expect((await stat(dataDir)).mode & 0o777).toBe(0o700);

    const ready = await fetch(`${dev.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { checks: object }).checks).toMatchObject({ database: 'ok' });

    const auth = { Authorization: `Bearer ${await signInAsDemoUser({ issuer: dev.issuer, user: 'admin' })}` };
    const dicom = await writeDicom(path.join(home, 'chest.dcm'), {
      rows: 512,
      columns: 512,
      patientId: 'P-1001',
      seed: 25,
    });
    const posted = await postXray(dev.url, validMetadata(), await openAsBlob(dicom.path), auth);
    expect(posted.status, await posted.clone().text()).toBe(201);
    const { id } = (await posted.json()) as { id: string };
    const original = createHash('sha256').update(readFileSync(dicom.path)).digest('hex');
    expect(await downloadSha256(dev.url, id, auth)).toBe(original);
    expect(await dev.stop(), dev.output()).toBe(0);
    expect(existsSync(path.join(databaseDir, 'postmaster.pid'))).toBe(false);

    // The next start finds the same database (and, as root, the copied binaries) again.
    const again = await startDev(checkout, {});
    started.push(again);
    if (asRoot) expect(again.entries.some((e) => e.databaseDir === databaseDir)).toBe(true);
    const admin = { Authorization: `Bearer ${await signInAsDemoUser({ issuer: again.issuer, user: 'admin' })}` };
    expect(await downloadSha256(again.url, id, admin)).toBe(original);
    expect(await again.stop(), again.output()).toBe(0);
  }, 240_000);

  it.runIf(asRoot)(
    'as a regular user (`nobody`, started as root), from a checkout in its own home directory (mode 0700), PostgreSQL runs as that user with the database in DATA_DIR',
    async () => {
      // `nobody` stands for the user: the same start, with PostgreSQL run as the user itself.
      const [uid, gid] = ['-u', '-g'].map((flag) => Number(execFileSync('id', [flag, 'nobody'], { encoding: 'utf8' })));
      const userHome = await mkdtemp(path.join(tmpdir(), 'xray-user-home-'));
      systemDirs.push(userHome);
      await chown(userHome, uid!, gid!);
      await chmod(userHome, 0o700);
      const userCheckout = await checkoutIn(userHome);
      await chown(userCheckout, uid!, gid!); // DATA_DIR (.data) is made in it

      const dev = await startDev(userCheckout, {}, { uid: uid!, gid: gid! });
      started.push(dev);
      const databaseDir = path.join(userCheckout, '.data', 'postgres');
      expect(
        dev.entries.find((e) => String(e.msg).startsWith('embedded PostgreSQL started'))?.databaseDir,
        dev.output(),
      ).toBe(databaseDir);
      expect((await stat(databaseDir)).uid).toBe(uid);
      const pid = readFileSync(path.join(databaseDir, 'postmaster.pid'), 'utf8').split('\n')[0];
      expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(new RegExp(`^Uid:\\s+${uid}\\s`, 'm'));
      expect((await fetch(`${dev.url}/readyz`)).status).toBe(200);
      expect(await dev.stop(), dev.output()).toBe(0);
    },
    120_000,
  );

  it.runIf(asRoot)(
    'as root, a database PostgreSQL can no longer reach stops the start with one line saying what to do',
    async () => {
      // A DATA_DIR whose database was made while the postgres user could still pass its parent.
      const dataDir = path.join(home, 'old-data');
      await mkdir(path.join(dataDir, 'postgres'), { recursive: true, mode: 0o700 });
      await writeFile(path.join(dataDir, 'postgres', 'PG_VERSION'), '18\n');
      const dev = await startDev(checkout, { DATA_DIR: dataDir }).catch((err: Error) => err);
      expect(dev).toBeInstanceOf(Error);
      const { code, stderr } = (dev as StartFailure).failure;
      expect(code).toBe(1);
      // (oidc-provider's own start-up warnings aside: the development issuer starts first.)
      const ours = stderr.split('\n').filter((l) => l && !l.startsWith('oidc-provider WARNING'));
      expect(ours).toEqual([
        `sync server did not start: The embedded database in ${path.join(dataDir, 'postgres')} was made when the ` +
          `"postgres" user could reach it; now ${home} is mode 0700, and PostgreSQL (run as that user under root) ` +
          `cannot. Give that directory back its search permission (chmod o+x ${home}), or move DATA_DIR. ` +
          'Run `npm start` as a regular user, or keep the checkout and DATA_DIR where other users may pass ' +
          '(e.g. /srv or /opt), or set DATABASE_URL to a PostgreSQL of your own.',
      ]);
    },
    120_000,
  );
});

async function downloadSha256(url: string, id: string, headers: Record<string, string>): Promise<string> {
  const res = await fetch(`${url}/xrays/${id}/download`, { headers });
  expect(res.status).toBe(200);
  return createHash('sha256')
    .update(Buffer.from(await res.arrayBuffer()))
    .digest('hex');
}

interface Started {
  url: string;
  issuer: string;
  /** The JSON log lines so far. */
  entries: Record<string, unknown>[];
  output(): string;
  /** Ctrl-C: SIGINT to the launcher's process group; resolves with its exit code. */
  stop(): Promise<number | null>;
}

interface StartFailure extends Error {
  failure: { code: number | null; stderr: string };
}

/**
 * A checkout in `home` as `npm start` has it after its install (the pnpm layout, PostgreSQL's
 * binaries inside node_modules, under the home directory): hard links where the file system allows.
 */
async function checkoutIn(home: string): Promise<string> {
  const checkout = path.join(home, 'xray-service');
  await mkdir(path.join(checkout, 'apps'), { recursive: true });
  for (const part of ['package.json', 'pnpm-workspace.yaml', 'node_modules', 'packages', 'scripts', 'apps/sync-server'])
    copyTree(path.join(repo, part), path.join(checkout, part));
  return checkout;
}

/** Hard links (fast, same file system) or else a copy, of a file or a whole tree. */
function copyTree(from: string, to: string): void {
  try {
    execFileSync('cp', ['-al', from, to], { stdio: 'pipe' });
  } catch {
    execFileSync('rm', ['-rf', to]);
    execFileSync('cp', ['-a', from, to], { stdio: 'pipe' });
  }
}

/**
 * The last step of `npm start` (scripts/dev-server.mjs) in the checkout, with nothing of this
 * test's environment but PATH: no DATABASE_URL, no S3 (embedded PostgreSQL, disk storage under the
 * default DATA_DIR, the checkout's .data), the development issuer.
 */
async function startDev(
  checkout: string,
  env: Record<string, string>,
  /** Another user to start it as (the test runs as root). */
  as: { uid?: number; gid?: number } = {},
): Promise<Started> {
  // From a shell with umask 077, as on hardened images: nothing may depend on files being readable by others.
  const launcher = [process.execPath, path.join(checkout, 'scripts', 'dev-server.mjs')];
  const child: ChildProcess = spawn('sh', ['-c', 'umask 077 && exec "$@"', 'sh', ...launcher], {
    cwd: checkout,
    ...as,
    // Its own process group, standing for the terminal's foreground group.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      HOME: path.dirname(checkout),
      NODE_ENV: 'development',
      LOG_LEVEL: 'info',
      PORT: '0',
      METRICS_PORT: '0',
      DEV_OIDC_PORT: String(await freePort()),
      DEV_PATIENT_PORT: '0',
      DEV_DOCTOR_PORT: '0',
      EMBEDDED_PG_PORT: String(await freePort()),
      ...env,
    },
  });
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const entries: Record<string, unknown>[] = [];
  let issuer = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the dev server did not start:\n${stdout}${stderr}`)), 120_000);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`the dev server exited with ${code}:\n${stderr}`), { failure: { code, stderr } }));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      stdout += `${line}\n`;
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as Record<string, unknown>;
      entries.push(entry);
      if (String(entry.msg).startsWith('development OIDC issuer running')) issuer = String(entry.issuer);
      if (entry.msg === 'sync server listening') {
        clearTimeout(timer);
        resolve(String(entry.url));
      }
    });
  });
  return {
    url,
    issuer,
    entries,
    output: () => `${stdout}${stderr}`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGINT');
      return exited;
    },
  };
}
