import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, createWriteStream, openSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Podman, the image and nginx for container.int.test.ts: the sync server's image built from this
 * checkout (scripts/container/image.sh) and run the way deploy/compose.yaml runs it, on the host
 * network, against the test's PostgreSQL, Swift s3api and RabbitMQ.
 */

export const repoRoot = path.resolve(import.meta.dirname, '../../..');
const imageScript = path.join(repoRoot, 'scripts/container/image.sh');
/** The project's podman settings (runc, cgroupfs, no default ulimits); the machine's stay untouched. */
const podmanEnv = { ...process.env, CONTAINERS_CONF: path.join(repoRoot, 'scripts/container/containers.conf') };

export type Engine = { ok: true } | { ok: false; reason: string };

/**
 * Whether containers can run here: scripts/container/image.sh installs podman, runc, debootstrap,
 * nginx and docker-compose where it may (root, apt-get) and says why not otherwise (exit 3).
 * XRAY_CONTAINERS=off says no without asking.
 */
export function containerEngine(): Engine {
  if (process.env.XRAY_CONTAINERS === 'off') return { ok: false, reason: 'XRAY_CONTAINERS=off' };
  const r = spawnSync('bash', [imageScript, 'engine'], { encoding: 'utf8', timeout: 15 * 60_000 });
  if (r.status === 0) return { ok: true };
  // Exit 3 is the script's "cannot run here"; anything else is a failure of its own, not a reason to skip.
  if (r.status !== 3)
    throw new Error(`scripts/container/image.sh engine failed (${r.status ?? r.signal}):\n${r.stderr}`);
  const said = (r.stderr ?? '').trim().split('\n').filter(Boolean);
  const reason = said.findLast((l) => l.includes('cannot run here')) ?? said.at(-1) ?? 'exit 3';
  return { ok: false, reason: reason.replace(/^image\.sh: containers cannot run here: /, '') };
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; never throws on a non-zero exit (callers assert on `code`). */
export function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 256 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

export const podman = (args: string[], timeoutMs = 120_000, env: Record<string, string> = {}): Promise<Run> =>
  run('podman', args, { env: { ...podmanEnv, ...env }, timeoutMs });

/** podman, failing with its own words when it fails. */
export async function podmanOk(args: string[], timeoutMs = 120_000, env: Record<string, string> = {}): Promise<string> {
  const r = await podman(args, timeoutMs, env);
  if (r.code !== 0) throw new Error(`podman ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
  return r.stdout.trim();
}

/**
 * A run's names carry the test process's pid (`xray-ct-<pid>-…`, `test-<pid>-…`): what a killed run
 * left behind (containers, the image tag) is removed by the next run, and a live run's is kept.
 */
export const runIdFor = (pid: number, random: string): string => `${pid}-${random}`;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the containers and image tags of earlier runs whose test process is gone. */
export async function sweepAbandonedRuns(): Promise<string[]> {
  const abandoned = (name: string, re: RegExp): boolean => {
    const pid = Number(re.exec(name)?.[1]);
    return Number.isInteger(pid) && pid > 0 && !pidAlive(pid);
  };
  const removed: string[] = [];
  const names = (await podmanOk(['ps', '--all', '--format', '{{.Names}}'])).split('\n').filter(Boolean);
  for (const name of names.filter((n) => abandoned(n, /^xray-ct-(\d+)-/))) {
    await podman(['rm', '--force', '--time', '0', name]);
    removed.push(name);
  }
  const images = (await podmanOk(['images', '--format', '{{.Repository}}:{{.Tag}}'])).split('\n').filter(Boolean);
  for (const image of images.filter((i) => abandoned(i, /^localhost\/xray-sync-server:test-(\d+)-/))) {
    await podman(['rmi', '--force', image]);
    removed.push(image);
  }
  return removed;
}

export interface BuiltImage {
  image: string;
  id: string;
  sizeBytes: number;
  seconds: number;
  nodeImage: string;
}

/** scripts/container/image.sh build TAG: the base (cached) and the image; the build's log goes to `logFile`. */
export async function buildImage(tag: string, logFile: string): Promise<BuiltImage> {
  const child = spawn('bash', [imageScript, 'build', tag], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(logFile);
  child.stderr.pipe(log);
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  await finished(log); // the pipe ended it with the child's stderr
  if (code !== 0) {
    const tail = (await readFile(logFile, 'utf8')).split('\n').slice(-40).join('\n');
    throw new Error(`image build failed (exit ${code}); the last lines of ${logFile}:\n${tail}`);
  }
  const vars = Object.fromEntries(
    stdout
      .split('\n')
      .map((l) => /^([A-Z_]+)=(.*)$/.exec(l.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1] ?? '', m[2] ?? '']),
  );
  return {
    image: vars.IMAGE ?? tag,
    id: vars.IMAGE_ID ?? '',
    sizeBytes: Number(vars.IMAGE_SIZE),
    seconds: Number(vars.BUILD_SECONDS),
    nodeImage: vars.NODE_IMAGE ?? '',
  };
}

export interface ComposeService {
  environment: Record<string, string>;
  readOnly: boolean;
  stopGraceSeconds: number;
  volumes: string[];
  /** The command compose runs instead of the image's CMD, if any. */
  command: string[];
  /** The service's healthcheck `test` (`CMD` form) without its `CMD`, if it declares one. */
  healthcheck: string[];
  /** Its restart policy (`no` when unset). */
  restart: string;
}

/**
 * deploy/compose.yaml's services as Compose renders them (Debian's docker-compose `config`, with
 * the secrets of `envFile`): for each, its environment, read_only, stop_grace_period, volumes,
 * command and health check.
 */
export async function composeServices(envFile: string): Promise<Record<string, ComposeService>> {
  const rendered = await run('docker-compose', [
    '--project-directory',
    path.join(repoRoot, 'deploy'),
    '-f',
    path.join(repoRoot, 'deploy/compose.yaml'),
    '--env-file',
    envFile,
    'config',
  ]);
  if (rendered.code !== 0) throw new Error(`docker-compose config failed:\n${rendered.stderr}`);
  // docker-compose's own interpreter has PyYAML.
  const json = spawnSync(
    'python3',
    ['-c', 'import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin)["services"], sys.stdout)'],
    { input: rendered.stdout, encoding: 'utf8' },
  );
  if (json.status !== 0) throw new Error(`reading the rendered compose file failed:\n${json.stderr}`);
  const services: unknown = JSON.parse(json.stdout);
  if (typeof services !== 'object' || services === null) throw new Error('no services in deploy/compose.yaml');
  const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
  const out: Record<string, ComposeService> = {};
  for (const [name, s] of Object.entries(services)) {
    const field = (k: string): unknown => (typeof s === 'object' && s !== null ? Reflect.get(s, k) : undefined);
    const env = field('environment');
    const environment: Record<string, string> = {};
    if (typeof env === 'object' && env !== null)
      for (const [k, v] of Object.entries(env)) environment[k] = v === null || v === undefined ? '' : String(v);
    const grace = /^(\d+)s$/.exec(String(field('stop_grace_period') ?? '10s'));
    const health = field('healthcheck');
    const test = strings(typeof health === 'object' && health !== null ? Reflect.get(health, 'test') : undefined);
    out[name] = {
      environment,
      readOnly: field('read_only') === true,
      stopGraceSeconds: Number(grace?.[1] ?? 10),
      volumes: strings(field('volumes')),
      command: strings(field('command')),
      healthcheck: test[0] === 'CMD' ? test.slice(1) : [],
      restart: String(field('restart') ?? 'no'),
    };
  }
  return out;
}

/** One container of the image, run the way compose runs a replica (on the host network here). */
export class Container {
  private constructor(readonly name: string) {}

  static async run(opts: {
    name: string;
    image: string;
    envFile?: string;
    env?: Record<string, string>;
    volumes?: string[];
    stopGraceSeconds?: number;
    /** Default host; `none`: a network namespace of its own with only its loopback. */
    network?: 'host' | 'none';
    command?: string[];
    /** compose's `restart` (podman restarts the container itself, as Docker would). */
    restart?: string;
  }): Promise<Container> {
    await podmanOk(
      [
        'run',
        '--detach',
        '--name',
        opts.name,
        '--network',
        opts.network ?? 'host',
        // read_only: true; /tmp (tus part buffers) is a tmpfs, as compose's volume is writable.
        '--read-only',
        '--read-only-tmpfs=true',
        ...(opts.restart ? ['--restart', opts.restart] : []),
        ...(opts.envFile ? ['--env-file', opts.envFile] : []),
        // Values from this process's environment: secrets stay off podman's command line.
        ...Object.keys(opts.env ?? {}).flatMap((k) => ['--env', k]),
        ...(opts.volumes ?? []).flatMap((v) => ['--volume', v]),
        // stop_grace_period: SIGTERM (the image's STOPSIGNAL), then SIGKILL after this long.
        '--stop-timeout',
        String(opts.stopGraceSeconds ?? 10),
        // The image's HEALTHCHECK is run by `podman healthcheck run` (no systemd here to time it).
        '--health-interval',
        'disable',
        opts.image,
        ...(opts.command ?? []),
      ],
      120_000,
      opts.env,
    );
    return new Container(opts.name);
  }

  async inspect(format: string): Promise<string> {
    return podmanOk(['inspect', '--format', format, this.name]);
  }

  /** The image's own HEALTHCHECK, run once: exit 0 is healthy. */
  async healthcheck(): Promise<Run> {
    return podman(['healthcheck', 'run', this.name], 30_000);
  }

  /**
   * Runs the image's HEALTHCHECK (or `check`, a command run in the container) until it passes (the
   * image's start period is 60 s); the seconds it took.
   */
  async healthy(timeoutMs = 60_000, check?: string[]): Promise<number> {
    const started = Date.now();
    for (;;) {
      const r = check ? await this.exec(check, 30_000) : await this.healthcheck();
      if (r.code === 0) return (Date.now() - started) / 1000;
      // Without a restart policy an exited container stays down: no use waiting (inspect's answer
      // is trimmed: "exited" when the policy is empty).
      const state = await this.inspect('{{.State.Status}} {{.HostConfig.RestartPolicy.Name}}');
      if (/^(exited|stopped)( no)?$/.test(state))
        throw new Error(`${this.name} exited before it was healthy:\n${await this.logs()}`);
      if (Date.now() - started > timeoutMs)
        throw new Error(
          `${this.name} not healthy after ${timeoutMs} ms (${r.stdout}${r.stderr}):\n${await this.logs()}`,
        );
      await sleep(500);
    }
  }

  exec(args: string[], timeoutMs = 120_000): Promise<Run> {
    return podman(['exec', this.name, ...args], timeoutMs);
  }

  async logs(): Promise<string> {
    const r = await podman(['logs', this.name]);
    return r.stdout + r.stderr;
  }

  /** How often its restart policy restarted it, and the error each earlier run died of. */
  async restarts(): Promise<{ count: number; errors: string[] }> {
    const count = Number(await this.inspect('{{.RestartCount}}'));
    const errors = (await this.logs()).split('\n').filter((l) => /^\w*Error: /.test(l));
    return { count, errors: [...new Set(errors)] };
  }

  /** The server's JSON log lines. */
  async logEntries(): Promise<Record<string, unknown>[]> {
    const entries: Record<string, unknown>[] = [];
    for (const line of (await this.logs()).split('\n')) {
      try {
        const parsed: unknown = JSON.parse(line);
        if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
          entries.push(Object.fromEntries(Object.entries(parsed)));
      } catch {
        // not a log line
      }
    }
    return entries;
  }

  /** `podman stop`: SIGTERM, then SIGKILL after the stop timeout; the exit code and the seconds it took. */
  async stop(): Promise<{ exitCode: number; seconds: number }> {
    const started = Date.now();
    await podmanOk(['stop', this.name], 120_000);
    const seconds = (Date.now() - started) / 1000;
    return { exitCode: Number(await this.inspect('{{.State.ExitCode}}')), seconds };
  }

  async remove(): Promise<void> {
    await podman(['rm', '--force', '--time', '0', this.name]);
  }
}

/** Which URL paths a container's server logged (one request-log line per request). */
export function requestsIn(entries: Record<string, unknown>[], method: string, url: string): number {
  return entries.filter((e) => {
    const req = e.req;
    return (
      typeof req === 'object' &&
      req !== null &&
      Reflect.get(req, 'method') === method &&
      Reflect.get(req, 'url') === url &&
      e.msg === 'request completed'
    );
  }).length;
}

export interface Nginx {
  url: string;
  config: string;
  log(): Promise<string>;
  stop(): Promise<void>;
}

async function nginxVersion(): Promise<[number, number, number]> {
  const r = await run('nginx', ['-v']);
  const m = /nginx\/(\d+)\.(\d+)\.(\d+)/.exec(r.stderr + r.stdout);
  if (!m) throw new Error(`nginx -v said: ${r.stderr}${r.stdout}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/**
 * deploy/nginx/nginx.conf with only what differs between compose's network and this host put in
 * place: the replicas', Keycloak's and the listeners' addresses, the pid file and the certificate
 * paths. Each replacement must match exactly where the file has it, so a changed config fails here
 * instead of being rehearsed half. Debian 12's nginx (1.22) predates `http2 on;` (1.25.1): there
 * the same switch is the listen parameter.
 */
export async function nginxConfigForHost(opts: {
  dir: string;
  certDir: string;
  replicas: [number, number];
  keycloakPort: number;
  healthPort: number;
  tlsPort: number;
}): Promise<string> {
  let conf = await readFile(path.join(repoRoot, 'deploy/nginx/nginx.conf'), 'utf8');
  const [major, minor, patch] = await nginxVersion();
  const http2Directive = major > 1 || minor > 25 || (minor === 25 && patch >= 1);
  const replacements: [RegExp, string, number][] = [
    [/^pid \/tmp\/nginx\.pid;$/m, `pid ${opts.dir}/nginx.pid;`, 1],
    [/server sync-server-1:8080 /g, `server 127.0.0.1:${opts.replicas[0]} `, 2],
    [/server sync-server-2:8080 /g, `server 127.0.0.1:${opts.replicas[1]} `, 2],
    [/server keycloak:8080;/g, `server 127.0.0.1:${opts.keycloakPort};`, 1],
    [/listen 8080;/g, `listen 127.0.0.1:${opts.healthPort};`, 1],
    [/listen 8443 ssl;/g, `listen 127.0.0.1:${opts.tlsPort} ssl${http2Directive ? '' : ' http2'};`, 1],
    [/\/etc\/nginx\/certs\/server\.(crt|key);/g, `${opts.certDir}/server.$1;`, 2],
    [/^\s*http2 on;\n/m, http2Directive ? '$&' : '', 1],
  ];
  for (const [pattern, replacement, count] of replacements) {
    const found = conf.match(
      new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`),
    );
    if ((found?.length ?? 0) !== count)
      throw new Error(
        `deploy/nginx/nginx.conf: expected ${count}× ${pattern}, found ${found?.length ?? 0}; update the rehearsal's address mapping (test/container.support.ts)`,
      );
    conf = conf.replace(pattern, replacement);
  }
  return conf;
}

/** Debian's nginx on the host with the repository's configuration (nginxConfigForHost). */
export async function startNginx(opts: Parameters<typeof nginxConfigForHost>[0]): Promise<Nginx> {
  const config = await nginxConfigForHost(opts);
  const file = path.join(opts.dir, 'nginx.conf');
  await writeFile(file, config);
  // nginx logs to /dev/stderr and /dev/stdout (the config's, as in its container): those must be
  // files here, since Node's pipes are sockets, which cannot be opened by path.
  const logFile = path.join(opts.dir, 'nginx.log');
  const logFd = openSync(logFile, 'a');
  try {
    const test = spawnSync('nginx', ['-t', '-q', '-e', 'stderr', '-c', file], { stdio: ['ignore', logFd, logFd] });
    if (test.status !== 0) throw new Error(`nginx -t refused the configuration:\n${await readFile(logFile, 'utf8')}`);
  } catch (err) {
    closeSync(logFd);
    throw err;
  }
  const child: ChildProcess = spawn('nginx', ['-e', 'stderr', '-c', file, '-g', 'daemon off;'], {
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  const health = `http://127.0.0.1:${opts.healthPort}/nginx-health`;
  for (let i = 0; ; i++) {
    const ok = await fetch(health).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (child.exitCode !== null || i > 100)
      throw new Error(`nginx did not start:\n${await readFile(logFile, 'utf8').catch(() => '')}`);
    await sleep(100);
  }
  return {
    url: `https://127.0.0.1:${opts.tlsPort}`,
    config,
    log: () => readFile(logFile, 'utf8'),
    async stop() {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGQUIT'); // graceful shutdown
      await exited;
    },
  };
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * One HTTP(S) request with node:http(s), so the proxy's TLS is checked against the development CA
 * (`ca`); the body may be a stream (a tus PATCH still being sent). `target` sends this request
 * target exactly (a URL would normalise dot segments, percent-encoding and more).
 */
export function request(
  url: string,
  opts: {
    method?: string;
    headers?: Record<string, string>;
    body?: Buffer | Readable;
    ca?: Buffer;
    target?: string;
  } = {},
): Promise<Answer> {
  const u = new URL(url);
  const lib = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(
      u,
      {
        method: opts.method ?? 'GET',
        headers: opts.headers,
        ...(opts.ca ? { ca: opts.ca } : {}),
        ...(opts.target !== undefined ? { path: opts.target } : {}),
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    const body = opts.body;
    if (body instanceof Readable) body.pipe(req);
    else req.end(body);
  });
}

export const header = (a: Answer, name: string): string => {
  const v = a.headers[name.toLowerCase()];
  return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
};

/** A request body sent in two parts: the first at once, the rest when `release` is called. */
export function heldBody(bytes: Buffer, firstPart: number): { body: Readable; release: () => void } {
  const body = new Readable({ read() {} });
  body.push(bytes.subarray(0, firstPart));
  return {
    body,
    release() {
      body.push(bytes.subarray(firstPart));
      body.push(null);
    },
  };
}
