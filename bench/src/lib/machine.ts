import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** What the numbers were measured on, for the results. */
export function describeMachine(dataDir: string): string {
  const cpus = os.cpus();
  const model = cpus[0]?.model.replace(/\s+/g, ' ').trim() ?? 'unknown CPU';
  const osName =
    /^PRETTY_NAME="?([^"\n]+)"?/m.exec(readFileSafe('/etc/os-release'))?.[1] ?? `${os.type()} ${os.release()}`;
  let disk = 'unknown disk';
  try {
    const line = execFileSync('df', ['-T', dataDir], { encoding: 'utf8' }).trim().split('\n')[1] ?? '';
    const [device, fsType] = line.split(/\s+/);
    disk = `${fsType} on ${device}`;
  } catch {
    // df missing: leave it unknown
  }
  const load = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  return (
    `${cpus.length} × ${model}, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, ${osName} (Linux ${os.release()}), ` +
    `Node ${process.versions.node}, temp files on ${disk}; load average at start ${load}`
  );
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
