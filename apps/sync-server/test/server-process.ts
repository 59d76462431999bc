import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** Resident memory of the server process, from /proc. */
  rssBytes(): Promise<number>;
  /** What it wrote to stderr (crashes, config errors), for assertion messages. */
  stderr(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * What runs: the TypeScript sources through tsx (as `npm start` and every other test run them), or
 * the bundle in dist/ that production runs (`node dist/main.js`, the image's command; buildBundle).
 */
export type Build = 'sources' | 'bundle';
const packageDir = new URL('..', import.meta.url).pathname;
const ENTRIES: Record<Build, { server: string[]; admin: string[] }> = {
  sources: {
    server: ['--import', 'tsx', `${packageDir}src/main.ts`],
    admin: ['--import', 'tsx', `${packageDir}src/cli/xray-admin.ts`],
  },
  bundle: { server: [`${packageDir}dist/main.js`], admin: [`${packageDir}dist/xray-admin.js`] },
};

let built: Promise<void> | undefined;
/** `npm run build` (build.mjs: esbuild) of this checkout, once per test file that asks. */
export function buildBundle(): Promise<void> {
  built ??= (async () => {
    const child = spawn(process.execPath, [`${packageDir}build.mjs`], {
      cwd: packageDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    for (const stream of [child.stdout, child.stderr]) stream.on('data', (d: Buffer) => (output += d.toString()));
    const [code] = (await once(child, 'close')) as [number | null];
    if (code !== 0) throw new Error(`the build failed (exit ${code}):\n${output}`);
  })();
  return built;
}

/** The real server as its own OS process (for memory measurements and crash tests). */
export async function spawnServer(env: NodeJS.ProcessEnv, opts: { build?: Build } = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, ENTRIES[opts.build ?? 'sources'].server, {
    // No issuer in these process tests (memory, crashes): AUTH_DISABLED unless the caller says otherwise.
    env: { ...process.env, LOG_LEVEL: 'info', PORT: '0', METRICS_PORT: '0', AUTH_DISABLED: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${stderr}`)), 60_000);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${stderr}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'sync server listening' && entry.url) {
          clearTimeout(timer);
          resolve(entry.url);
        }
      } catch {
        // not a log line
      }
    });
  });
  return {
    url,
    child,
    stderr: () => stderr,
    async rssBytes() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
      return kb * 1024;
    },
    async kill(signal = 'SIGTERM') {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill(signal);
      await exited;
    },
  };
}

export interface AdminRun {
  /** The exit code; null when a signal ended it. */
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * This process's environment under `env`. Without S3_BUCKET, the S3 tests' settings (S3_ENDPOINT
 * and the rest, which the runner's environment carries) are dropped: a command on disk storage
 * ignores them anyway, and would name them in a warning on stderr.
 */
function inheritedEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  if (env.S3_BUCKET ?? process.env.S3_BUCKET) return process.env;
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('S3_')));
}

/**
 * `xray-admin <args>` as an operator runs it: its own process, settings from the environment
 * (`env` over this process's; `onlyEnv`: `env` and PATH alone). `onLine` sees each line of stdout
 * and may kill the run there.
 */
export async function runAdmin(
  args: string[],
  env: Record<string, string>,
  onLine?: (line: string, kill: () => void) => void,
  opts: { build?: Build; onlyEnv?: boolean } = {},
): Promise<AdminRun> {
  const child = spawn(process.execPath, [...ENTRIES[opts.build ?? 'sources'].admin, ...args], {
    env: opts.onlyEnv ? { PATH: process.env.PATH ?? '', ...env } : { ...inheritedEnv(env), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  createInterface({ input: child.stdout }).on('line', (line) => {
    stdout += `${line}\n`;
    onLine?.(line, () => child.kill('SIGKILL'));
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}
