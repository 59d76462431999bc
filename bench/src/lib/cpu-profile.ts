import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber?: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface Window {
  startUs: number;
  endUs: number;
}

const sourceMaps = new Map<string, SourceMap | undefined>();

/** The linked source map of a script (`<file>.js.map`, as build.mjs writes them beside the bundle), if any. */
function sourceMapOf(url: string): SourceMap | undefined {
  if (!url.startsWith('file://') || !url.endsWith('.js')) return undefined;
  if (!sourceMaps.has(url)) {
    let map: SourceMap | undefined;
    try {
      map = new SourceMap(JSON.parse(readFileSync(`${fileURLToPath(url)}.map`, 'utf8')));
    } catch {
      map = undefined;
    }
    sourceMaps.set(url, map);
  }
  return sourceMaps.get(url);
}

/**
 * A frame of the server's bundle as the source it was built from (through the bundle's source
 * map): the package or source folder and line, so that the summary reads as it did from tsx.
 */
function originalFrame(frame: CallFrame): CallFrame {
  const map = sourceMapOf(frame.url);
  if (!map) return frame;
  const entry = map.findEntry(frame.lineNumber, frame.columnNumber ?? 0);
  if (!('originalSource' in entry)) return frame;
  // esbuild names sources relative to the map, which sits beside the script.
  return {
    functionName: frame.functionName,
    url: new URL(entry.originalSource, frame.url).href,
    lineNumber: entry.originalLine,
  };
}

/** Where a script lives, short: a package name, a workspace path, or a node: builtin. */
function place(url: string): string {
  if (!url) return '';
  const pkg = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(url);
  if (pkg) return `${pkg[1]}/${pkg[2]}`;
  const ws = /\/(apps\/[^?]+|packages\/[^?]+|bench\/[^?]+)/.exec(url);
  if (ws?.[1]) return ws[1];
  return url.replace(/^file:\/\//, '');
}

/** A coarse bucket: a package, an app folder, node internals, GC, idle. */
function bucket(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node internals';
  const pkg = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg?.[1]) return pkg[1];
  const app = /\/(apps\/[^/]+\/src\/[^/]+|packages\/[^/]+\/src\/[^/]+)/.exec(url);
  return app?.[1] ?? place(url);
}

export interface ProfileSummary {
  totalMs: number;
  busyMs: number;
  functions: { name: string; ms: number; pct: number }[];
  buckets: { name: string; ms: number; pct: number }[];
}

/**
 * Self time per function and per bucket from a V8 .cpuprofile (node --cpu-prof), counting only
 * the samples inside `windows` when given (V8 stamps samples with CLOCK_MONOTONIC µs).
 */
export async function summarizeProfile(file: string, windows?: readonly Window[], top = 30): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const inside = (t: number) => !windows || windows.some((w) => t >= w.startUs && t <= w.endUs);
  // Each sample stands for the time until the next one (the last: the mean interval).
  const meanUs = samples.length ? (profile.endTime - profile.startTime) / samples.length : 0;
  const selfMs = new Map<number, number>();
  let t = profile.startTime;
  samples.forEach((s, i) => {
    t += deltas[i] ?? 0;
    const spanUs = deltas[i + 1] ?? meanUs;
    if (inside(t)) selfMs.set(s, (selfMs.get(s) ?? 0) + spanUs / 1000);
  });
  const byFn = new Map<string, number>();
  const byBucket = new Map<string, number>();
  let totalMs = 0;
  let idle = 0;
  for (const node of profile.nodes) {
    const ms = selfMs.get(node.id) ?? 0;
    if (!ms) continue;
    totalMs += ms;
    const f = originalFrame(node.callFrame);
    if (f.functionName === '(idle)') {
      idle += ms;
      continue;
    }
    const name = `${f.functionName || '(anonymous)'} ${place(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`.trim();
    byFn.set(name, (byFn.get(name) ?? 0) + ms);
    const b = bucket(f);
    byBucket.set(b, (byBucket.get(b) ?? 0) + ms);
  }
  const busyMs = totalMs - idle;
  const list = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, ms]) => ({ name, ms, pct: (ms / busyMs) * 100 }));
  return { totalMs, busyMs, functions: list(byFn, top), buckets: list(byBucket, 20) };
}

export function profileText(s: ProfileSummary, title: string): string {
  const fmt = (r: { name: string; ms: number; pct: number }) =>
    `${r.pct.toFixed(1).padStart(5)} %  ${r.ms.toFixed(0).padStart(7)} ms  ${r.name}`;
  return [
    `# ${title}`,
    `profiled ${(s.totalMs / 1000).toFixed(1)} s, main thread busy ${(s.busyMs / 1000).toFixed(1)} s (${((s.busyMs / s.totalMs) * 100).toFixed(0)} %)`,
    '',
    'self time by package / source folder (% of busy time):',
    ...s.buckets.map(fmt),
    '',
    'self time by function (% of busy time):',
    ...s.functions.map(fmt),
    '',
  ].join('\n');
}
