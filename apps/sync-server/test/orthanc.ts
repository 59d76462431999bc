import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, parseEnvLines } from '@xray/testkit';

/**
 * A private Orthanc (Debian's `orthanc` with `orthanc-dicomweb`) for the DICOMweb tests: the
 * reference PACS that queries, retrieves from and stores to the sync server, and whose
 * `/instances/{id}/rendered` the rendering is compared with. Each call starts its own process
 * with its own temporary directory (SQLite index and storage), a free loopback port and no
 * DICOM listener; `stop()` ends it and removes the directory.
 *
 *   const orthanc = await startOrthanc({ servers: { xray: { url: `${server.url}/dicom-web`, token } } });
 *   await orthanc.json('POST', '/dicom-web/servers/xray/stow', { Resources: [id] });
 */

export interface OrthancInstallation {
  binary: string;
  /** libOrthancDicomWeb.so as Debian installs it. */
  plugin: string;
}

/** A DICOMweb server Orthanc can talk to (`DicomWeb.Servers`). */
export interface DicomWebPeer {
  /** Its DICOMweb root, e.g. `${server.url}/dicom-web`. */
  url: string;
  /** Sent as `Authorization: Bearer <token>` on every request Orthanc makes to it. */
  token?: string;
  /** More headers for every request (HttpHeaders). */
  headers?: Record<string, string>;
}

export interface OrthancOptions {
  /** DICOMweb servers by name: `/dicom-web/servers/<name>/{qido,get,retrieve,stow}`. */
  servers?: Record<string, DicomWebPeer>;
  /** More configuration, merged over the defaults (top level). */
  config?: Record<string, unknown>;
}

export interface Orthanc {
  /** http://127.0.0.1:<port> (no authentication: loopback only). */
  url: string;
  version: string;
  dir: string;
  logFile: string;
  /** A request to Orthanc's REST API (path from its root). */
  request(
    method: string,
    apiPath: string,
    body?: BodyInit | object,
    headers?: Record<string, string>,
  ): Promise<Response>;
  /** The same, expecting 2xx; the JSON answer (a non-2xx throws with Orthanc's answer and log). */
  json<T = unknown>(method: string, apiPath: string, body?: BodyInit | object): Promise<T>;
  /** Stores DICOM bytes in Orthanc (POST /instances): its ids for the instance and parents. */
  upload(bytes: Uint8Array): Promise<OrthancStored>;
  /** The instance file as Orthanc stores it (GET /instances/{id}/file). */
  file(instanceId: string): Promise<Uint8Array>;
  /** Adds or replaces a DICOMweb server at run time (PUT /dicom-web/servers/<name>). */
  addServer(name: string, peer: DicomWebPeer): Promise<void>;
  /** The last lines of its log (for failure messages). */
  tail(chars?: number): string;
  stop(): Promise<void>;
}

export interface OrthancStored {
  ID: string;
  ParentPatient: string;
  ParentStudy: string;
  ParentSeries: string;
  Status: string;
}

const repoRoot = path.resolve(import.meta.dirname, '../../..');
const run = promisify(execFile);

let installation: Promise<OrthancInstallation> | undefined;

/**
 * Where Orthanc and the plugin are: ORTHANC_BINARY / ORTHANC_DICOMWEB_PLUGIN (set by the test
 * command from scripts/services/orthanc.sh), else that script (which installs them as root, and
 * otherwise fails with the apt-get line): never a skip.
 */
export function orthancInstallation(): Promise<OrthancInstallation> {
  installation ??= (async () => {
    const { ORTHANC_BINARY: binary, ORTHANC_DICOMWEB_PLUGIN: plugin } = process.env;
    if (binary && plugin && existsSync(binary) && existsSync(plugin)) return { binary, plugin };
    const script = path.join(repoRoot, 'scripts/services/orthanc.sh');
    let stdout: string;
    try {
      ({ stdout } = await run('bash', [script, 'start'], { timeout: 900_000 }));
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(
        `The DICOMweb tests need Orthanc with its DICOMweb plugin and it could not be provided.\n` +
          `Run: bash scripts/services/orthanc.sh start\n${e.stderr ?? ''}${e.stdout ?? ''}${e.message}`,
      );
    }
    const vars = parseEnvLines(stdout);
    if (!vars.ORTHANC_BINARY || !vars.ORTHANC_DICOMWEB_PLUGIN)
      throw new Error(`orthanc.sh printed no ORTHANC_BINARY/ORTHANC_DICOMWEB_PLUGIN:\n${stdout}`);
    return { binary: vars.ORTHANC_BINARY, plugin: vars.ORTHANC_DICOMWEB_PLUGIN };
  })();
  return installation;
}

/** The `DicomWeb.Servers` entry for a peer (the plugin's object form). */
function serverEntry(peer: DicomWebPeer): Record<string, unknown> {
  return {
    Url: peer.url.endsWith('/') ? peer.url : `${peer.url}/`,
    HttpHeaders: { ...(peer.token ? { Authorization: `Bearer ${peer.token}` } : {}), ...peer.headers },
  };
}

/** Orthancs still running when the test process exits are killed with it (no strays on a crash). */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function startOrthanc(opts: OrthancOptions = {}): Promise<Orthanc> {
  const { binary, plugin } = await orthancInstallation();
  const dir = await mkdtemp(path.join(tmpdir(), 'xray-orthanc-'));
  const port = await freePort();
  const config = {
    Name: 'xray-test-orthanc',
    StorageDirectory: path.join(dir, 'db'),
    IndexDirectory: path.join(dir, 'db'),
    HttpPort: port,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    DicomServerEnabled: false,
    // Two cores shared by the whole suite.
    ConcurrentJobs: 1,
    HttpThreadsCount: 8,
    HttpTimeout: 60,
    Plugins: [plugin],
    DicomWeb: {
      Enable: true,
      Root: '/dicom-web/',
      EnableWado: false,
      Servers: Object.fromEntries(Object.entries(opts.servers ?? {}).map(([name, peer]) => [name, serverEntry(peer)])),
    },
    ...opts.config,
  };
  const configFile = path.join(dir, 'orthanc.json');
  await writeFile(configFile, JSON.stringify(config, null, 2));
  const logFile = path.join(dir, 'orthanc.log');
  const fd = openSync(logFile, 'w');
  const child = spawn(binary, [configFile], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  running.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const tail = (chars = 4000) => {
    try {
      return readFileSync(logFile, 'utf8').slice(-chars);
    } catch {
      return '';
    }
  };
  const url = `http://127.0.0.1:${port}`;

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    running.delete(child);
    await rm(dir, { recursive: true, force: true });
  };

  const request = (method: string, apiPath: string, body?: BodyInit | object, headers: Record<string, string> = {}) => {
    const isJson = body !== undefined && !(body instanceof Uint8Array) && typeof body === 'object' && !isBodyInit(body);
    return fetch(`${url}${apiPath}`, {
      method,
      headers: { ...(isJson ? { 'content-type': 'application/json' } : {}), ...headers },
      body: isJson ? JSON.stringify(body) : (body as BodyInit | undefined),
    });
  };
  const json = async <T>(method: string, apiPath: string, body?: BodyInit | object): Promise<T> => {
    const res = await request(method, apiPath, body);
    const text = await res.text();
    if (!res.ok) throw new Error(`Orthanc ${method} ${apiPath}: ${res.status} ${text}\n${tail(2000)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };

  // Ready when the REST API and the plugin both answer.
  const deadline = Date.now() + 60_000;
  let version = 'unknown';
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = tail();
      await stop();
      throw new Error(`Orthanc exited before it was ready:\n${log}`);
    }
    try {
      const system = await fetch(`${url}/system`);
      const plugins = system.ok ? await fetch(`${url}/plugins`) : undefined;
      if (system.ok && plugins?.ok && ((await plugins.json()) as string[]).includes('dicom-web')) {
        version = ((await system.json()) as { Version?: string }).Version ?? version;
        break;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      const log = tail();
      await stop();
      throw new Error(`Orthanc with the DICOMweb plugin did not answer within 60 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    url,
    version,
    dir,
    logFile,
    request,
    json,
    tail,
    stop,
    upload: (bytes) =>
      json<OrthancStored>('POST', '/instances', new Blob([new Uint8Array(bytes)], { type: 'application/dicom' })),
    async file(instanceId) {
      const res = await request('GET', `/instances/${instanceId}/file`);
      if (!res.ok) throw new Error(`Orthanc GET /instances/${instanceId}/file: ${res.status} ${await res.text()}`);
      return new Uint8Array(await res.arrayBuffer());
    },
    async addServer(name, peer) {
      await json('PUT', `/dicom-web/servers/${encodeURIComponent(name)}`, serverEntry(peer));
    },
  };
}

function isBodyInit(body: object): boolean {
  return (
    body instanceof Blob ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    body instanceof FormData ||
    body instanceof URLSearchParams ||
    body instanceof ReadableStream
  );
}
