import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { startChild, type Child } from '../lib/child.ts';
import { basicAuth, request, waitFor } from '../lib/http.ts';
import { freePort } from '@xray/testkit';

export interface Orthanc {
  url: string;
  version: string;
  /** Orthanc checks HTTP basic auth on every request, as the sync server checks its JWT. */
  authorization: string;
  child: Child;
  stop(): Promise<void>;
}

export type OrthancAvailability =
  | {
      available: true;
      binary: string;
      /** libOrthancDicomWeb.so, when orthanc-dicomweb is installed. */ dicomweb?: string;
    }
  | { available: false; reason: string };

const run = promisify(execFile);

function findBinary(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/bin'])) {
    const p = path.join(dir, 'Orthanc');
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

/** The DICOMweb plugin as Debian's `orthanc-dicomweb` installs it. */
function findDicomwebPlugin(): string | undefined {
  for (const p of ['/usr/share/orthanc/plugins/libOrthancDicomWeb.so', '/usr/lib/orthanc/libOrthancDicomWeb.so'])
    if (existsSync(p)) return p;
  return undefined;
}

/**
 * Orthanc from Debian's `orthanc` package with its DICOMweb plugin (`orthanc-dicomweb`, for the
 * DICOMweb figure): installed here when missing and we are root (the benchmark's own install
 * step), otherwise the reason it is not there.
 */
export async function ensureOrthanc(log: (msg: string) => void): Promise<OrthancAvailability> {
  const found = findBinary();
  const plugin = findDicomwebPlugin();
  if (found && plugin) return { available: true, binary: found, dicomweb: plugin };
  if (found && process.getuid?.() !== 0) return { available: true, binary: found };
  if (process.getuid?.() !== 0)
    return {
      available: false,
      reason:
        'Orthanc is not installed and this is not root: `apt-get install -y --no-install-recommends orthanc orthanc-dicomweb`',
    };
  const install = () =>
    run('apt-get', ['install', '-y', '--no-install-recommends', 'orthanc', 'orthanc-dicomweb'], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeout: 600_000,
    });
  log('installing Debian packages orthanc, orthanc-dicomweb (apt-get install -y --no-install-recommends)');
  try {
    await install().catch(async () => {
      await run('apt-get', ['update'], { timeout: 600_000 });
      return install();
    });
  } catch (err) {
    return {
      available: false,
      reason: `apt-get install orthanc failed: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
  // The package enables a system-wide Orthanc (port 8042): not what is measured; keep it off.
  await run('bash', ['-c', 'update-rc.d orthanc disable; systemctl disable --now orthanc.service'], {
    timeout: 60_000,
  }).catch(() => undefined);
  const binary = findBinary();
  const dicomweb = findDicomwebPlugin();
  return binary
    ? { available: true, binary, ...(dicomweb ? { dicomweb } : {}) }
    : { available: false, reason: 'orthanc installed but no Orthanc binary found' };
}

/**
 * Orthanc with its own temporary configuration: default SQLite index and disk storage in `dir`,
 * no DICOM listener, HTTP on a free loopback port with basic auth; the DICOMweb plugin its only
 * plugin when given (`/dicom-web`, for the DICOMweb figure).
 */
export async function startOrthanc(
  binary: string,
  dir: string,
  logFile: string,
  dicomwebPlugin?: string,
): Promise<Orthanc> {
  const port = await freePort();
  const storage = path.join(dir, 'storage');
  await mkdir(storage, { recursive: true });
  const user = 'bench';
  const password = 'bench-password';
  const config = {
    Name: 'xray-bench',
    StorageDirectory: storage,
    IndexDirectory: storage,
    HttpPort: port,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: true,
    RegisteredUsers: { [user]: password },
    DicomServerEnabled: false,
    Plugins: dicomwebPlugin ? [dicomwebPlugin] : [],
    ...(dicomwebPlugin ? { DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: false } } : {}),
    // Orthanc 1.10 defaults otherwise (SQLite index, uncompressed storage, synced writes).
  };
  const configFile = path.join(dir, 'orthanc.json');
  await writeFile(configFile, JSON.stringify(config, null, 2));
  const child = startChild('orthanc', binary, [configFile], { env: process.env, logFile });
  const url = `http://127.0.0.1:${port}`;
  const authorization = basicAuth(user, password);
  try {
    await waitFor('Orthanc to answer /system', async () => {
      if (child.process.exitCode !== null) throw new Error(`Orthanc exited:\n${child.tail()}`);
      return (await request(`${url}/system`, { headers: { authorization } })).status === 200;
    });
  } catch (err) {
    await child.stop('SIGKILL');
    throw new Error(`Orthanc did not start: ${err instanceof Error ? err.message : String(err)}\n${child.tail()}`);
  }
  const system = JSON.parse((await request(`${url}/system`, { headers: { authorization } })).body.toString()) as {
    Version?: string;
  };
  return { url, version: system.Version ?? 'unknown', authorization, child, stop: () => child.stop() };
}
