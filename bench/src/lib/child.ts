import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/**
 * A server under test as its own OS process. Its output goes straight to a log file (not
 * through this process, which is busy being the client) and is read back only to find out
 * where it listens and to show what went wrong.
 */
export interface Child {
  name: string;
  pid: number;
  process: ChildProcess;
  logFile: string;
  /** Resolves with the first log line matching `pattern`; rejects if the process exits first. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Current and peak resident memory from /proc/<pid>/status, in bytes. */
  memory(): Promise<{ rss: number; hwm: number }>;
  tail(chars?: number): string;
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<void>;
}

export function startChild(
  name: string,
  command: string,
  args: string[],
  opts: { env: NodeJS.ProcessEnv; logFile: string; cwd?: string },
): Child {
  const fd = openSync(opts.logFile, 'w');
  const child = spawn(command, args, { env: opts.env, cwd: opts.cwd, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve();
    }),
  );
  const tail = (chars = 4000): string => {
    try {
      return readFileSync(opts.logFile, 'utf8').slice(-chars);
    } catch {
      return '';
    }
  };
  if (child.pid === undefined) throw new Error(`${name} did not start (${command})`);
  return {
    name,
    pid: child.pid,
    process: child,
    logFile: opts.logFile,
    tail,
    async waitForLine(pattern, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const text = await readFile(opts.logFile, 'utf8').catch(() => '');
        for (const line of text.split('\n')) {
          const m = pattern.exec(line);
          if (m) return m;
        }
        if (exit) throw new Error(`${name} exited (${exit.code ?? exit.signal}) before it was ready:\n${tail()}`);
        if (Date.now() > deadline) throw new Error(`${name} was not ready after ${timeoutMs} ms:\n${tail()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async memory() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
      return { rss: kb('VmRSS') * 1024, hwm: kb('VmHWM') * 1024 };
    },
    async stop(signal = 'SIGTERM', timeoutMs = 30_000) {
      if (exit) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
