import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from './harness.ts';

const launcher = fileURLToPath(new URL('../../../scripts/dev-server.mjs', import.meta.url));

/**
 * The last step of `npm start` (scripts/dev-server.mjs), read by a person at a terminal: text log
 * lines, and Ctrl-C (SIGINT to the whole foreground process group) ends in a clean shutdown with
 * exit code 0. No terminal here, so LOG_FORMAT=pretty stands in for one.
 */
describe('npm start at a terminal', () => {
  let dataDir: string;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'xray-dev-server-'));
  });
  afterAll(async () => {
    // A test that failed before its Ctrl-C leaves its launcher running: stop it (and its server) here.
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(-child.pid!, 'SIGINT');
        await once(child, 'exit');
      }
    await rm(dataDir, { recursive: true, force: true });
  });

  /** The launcher run by `command`, in a process group of its own, up to its server's URL. */
  async function startAtTerminal(command: string, args: string[], cwd?: string, env: NodeJS.ProcessEnv = {}) {
    const child = spawn(command, args, {
      cwd,
      // Its own process group, standing for the terminal's foreground group.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NODE_ENV: 'development',
        LOG_FORMAT: 'pretty',
        DATABASE_URL: await createTestDatabase(),
        DATA_DIR: dataDir,
        PORT: '0',
        METRICS_PORT: '0',
        DEV_OIDC_PORT: String(await freePort()),
        DEV_PATIENT_PORT: '0',
        DEV_DOCTOR_PORT: '0',
        ...env,
      },
    });
    children.push(child);
    const lines: string[] = [];
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.once('exit', (code, signal) => resolve([code, signal])),
    );
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "sync server listening":\n${lines.join('\n')}`)), 90_000);
      void exited.then(([code]) => reject(new Error(`exited with ${code}:\n${lines.join('\n')}\n${stderr}`)));
      let listening = false;
      createInterface({ input: child.stdout }).on('line', (line) => {
        lines.push(line);
        if (/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: sync server listening$/.test(line)) listening = true;
        // pino-pretty puts the fields on the lines after the message.
        const field = /^\s+url: "(http:\/\/[^"]+)"$/.exec(line);
        if (listening && field?.[1]) {
          clearTimeout(timer);
          resolve(field[1]);
        }
      });
    });
    return { child, url, lines, exited, output: () => `${lines.join('\n')}\n${stderr}` };
  }

  it('logs text lines, and Ctrl-C stops the server cleanly with exit code 0', async () => {
    const { child, url, lines, exited, output: outputOf } = await startAtTerminal(process.execPath, [launcher]);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);

    process.kill(-child.pid!, 'SIGINT');
    const [code, signal] = await exited;
    const output = outputOf();
    expect([code, signal], output).toEqual([0, null]);
    // Text for a person: no JSON line, each entry a time, a level and a message.
    expect(lines.filter((l) => l.startsWith('{'))).toEqual([]);
    expect(lines).toContain('    signal: "SIGINT"');
    expect(
      lines.some((l) => /^\[[\d:.]+\] INFO: sync server stopped$/.test(l)),
      output,
    ).toBe(true);
    expect(
      lines.some((l) => /^\[[\d:.]+\] INFO: .*GET \/readyz 200 \(\d+ ms\)$/.test(l)),
      output,
    ).toBe(true);
    expect(output).not.toMatch(/Command failed|ELIFECYCLE|ERROR/);
  }, 120_000);

  it("through npm, as `npm start` runs it: a relative DATA_DIR is the caller's, and Ctrl-C still ends with exit code 0", async () => {
    // npm start's last step, in a package of its own (the earlier steps install and build).
    const rootPackage = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      scripts: { start: string };
    };
    const lastStep = rootPackage.scripts.start.split('&&').at(-1)!.trim();
    expect(lastStep).toContain('scripts/dev-server.mjs');
    const pkg = await mkdtemp(path.join(tmpdir(), 'xray-npm-start-'));
    try {
      await writeFile(
        path.join(pkg, 'package.json'),
        JSON.stringify({
          name: 'npm-start',
          private: true,
          scripts: { start: lastStep.replace('scripts/dev-server.mjs', launcher) },
        }),
      );
      // A relative DATA_DIR is where npm was run, not the server's working directory.
      const { child, url, exited, output } = await startAtTerminal('npm', ['start'], pkg, { DATA_DIR: 'data' });
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      expect(existsSync(path.join(pkg, 'data', 'objects')), output()).toBe(true);
      // npm forwards the signal to the shell it runs the script in; a shell left waiting would end
      // by it after the launcher's clean exit, and npm would report 130.
      process.kill(-child.pid!, 'SIGINT');
      expect(await exited, output()).toEqual([0, null]);
    } finally {
      await rm(pkg, { recursive: true, force: true });
    }
  }, 120_000);
});
