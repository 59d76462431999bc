import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Row } from '../lib/results.ts';
import { repoRoot } from '../stack/sync-server.ts';
import type { BenchContext } from './context.ts';

const e2eDir = path.join(repoRoot, 'e2e');
/** The whole stack, Chromium, the app built, two files × runs: minutes on a busy 2-core machine. */
const TIMEOUT_MS = 20 * 60_000;

/**
 * What e2e/bench/edge.bench.ts writes to EDGE_BENCH_JSON: `{ chromium, saveToQueuedMs: { "18": [ms, …],
 * "50": [ms, …] } }`, per run the tap on "Save X-ray" to "queued to send" in the app, by file size in MB.
 */
function readEdgeJson(text: string): { chromium: string | undefined; runs: [string, number[]][] } {
  const parsed: unknown = JSON.parse(text);
  const field = (o: unknown, k: string): unknown =>
    typeof o === 'object' && o !== null ? Reflect.get(o, k) : undefined;
  const chromium = field(parsed, 'chromium');
  const byFile = field(parsed, 'saveToQueuedMs');
  const runs = Object.entries(typeof byFile === 'object' && byFile !== null ? byFile : {}).flatMap(
    ([mb, v]): [string, number[]][] =>
      Array.isArray(v) && v.every((x) => typeof x === 'number') ? [[mb, v.map(Number)]] : [],
  );
  return { chromium: typeof chromium === 'string' ? chromium : undefined, runs };
}

/**
 * The Save table edge.bench.ts prints (`| DICOM 18 MB | 18.0 MB | median | min | max | …`), for
 * when it wrote no JSON: the median of its runs, with their spread in a note.
 */
function fromPrintedTable(log: string): { mb: string; median: number; min: number; max: number }[] {
  const start = log.indexOf('Save → "queued');
  if (start < 0) return [];
  const rows = [];
  for (const line of log.slice(start).split('\n').slice(1)) {
    if (line.trim() === '') break;
    const m = /^\| DICOM (\d+) MB \| [^|]+\| (\d+(?:\.\d+)?) \| (\d+(?:\.\d+)?) \| (\d+(?:\.\d+)?) \|/.exec(line);
    if (m?.[1]) rows.push({ mb: m[1], median: Number(m[2]), min: Number(m[3]), max: Number(m[4]) });
  }
  return rows;
}

/**
 * Issue 22's edge capture figure: the paramedic's flow in the edge app, Save to "queued", timed
 * by the e2e benchmark (e2e/bench/edge.bench.ts, part "save": Chromium, the app as `npm start`
 * serves it, signed in, offline), which starts the whole stack of its own. Run as a child process
 * after the other figures' servers have stopped; its output goes to `logFile`. Resolves with what
 * to say about Chromium, or why the figure is missing.
 */
export async function runEdge(ctx: BenchContext, logFile: string): Promise<string> {
  const scratch = await mkdtemp(path.join(tmpdir(), 'xray-bench-edge-'));
  const out = path.join(scratch, 'edge.json');
  try {
    ctx.log(`edge: e2e/bench/edge.bench.ts (Save to "queued", ${ctx.runs} runs per file), output in ${logFile}`);
    const code = await new Promise<number | string>((resolve) => {
      const fd = openSync(logFile, 'w');
      const child = spawn(process.execPath, ['--import', 'tsx', 'bench/edge.bench.ts'], {
        cwd: e2eDir,
        env: { ...process.env, BENCH_RUNS: String(ctx.runs), BENCH_ONLY: 'save', EDGE_BENCH_JSON: out },
        stdio: ['ignore', fd, fd],
      });
      closeSync(fd);
      const timer = setTimeout(() => child.kill('SIGTERM'), TIMEOUT_MS);
      child.once('error', (err) => resolve(err.message));
      child.once('exit', (c, signal) => {
        clearTimeout(timer);
        resolve(c ?? String(signal));
      });
    });
    const where = `see ${path.relative(repoRoot, logFile)}`;
    if (code !== 0) return `not measured: e2e/bench/edge.bench.ts exited with ${code}; ${where}`;
    const text = await readFile(out, 'utf8').catch(() => undefined);
    if (text === undefined) {
      const log = await readFile(logFile, 'utf8');
      const printed = fromPrintedTable(log);
      const chromium = /^Chromium (\S+) ·/m.exec(log)?.[1];
      for (const r of printed)
        ctx.rows.push({
          id: `edge-save-queued-${r.mb}`,
          figure: 'Edge capture',
          label: `Save to "queued" in the edge app, ${r.mb} MB DICOM (Chromium, offline)`,
          unit: 'ms',
          ours: [r.median],
          ratios: false,
          note: `Edge capture, ${r.mb} MB: the median of e2e/bench/edge.bench.ts's ${ctx.runs} runs (it printed no runs, only the median ${r.median} ms, min ${r.min}, max ${r.max})`,
        });
      return printed.length
        ? `Chromium ${chromium ?? '(version not printed)'}; the medians e2e/bench/edge.bench.ts printed (it wrote no EDGE_BENCH_JSON); ${where}`
        : `not measured: e2e/bench/edge.bench.ts printed no Save table and wrote no EDGE_BENCH_JSON; ${where}`;
    }
    const result = readEdgeJson(text);
    for (const [mb, runs] of result.runs) {
      const row: Row = {
        id: `edge-save-queued-${mb}`,
        figure: 'Edge capture',
        label: `Save to "queued" in the edge app, ${mb} MB DICOM (Chromium, offline)`,
        unit: 'ms',
        ours: runs,
        ratios: false,
      };
      ctx.rows.push(row);
    }
    return result.chromium ? `Chromium ${result.chromium}` : 'Chromium';
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
