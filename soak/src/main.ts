/**
 * `npm run soak`: a fleet of simulated edge devices on bad networks against two sync servers,
 * with faults scheduled during the run; checks that nothing was lost, doubled or altered, and
 * writes soak/results/latest.md, latest.json and timeline.svg. Exit code 1 when a check fails.
 *
 *   npm run soak -- --minutes 30 --devices 40 --min-mb 2 --max-mb 50
 *
 * Settings (flags or env): --minutes / SOAK_MINUTES (default 30), --devices / SOAK_DEVICES (40),
 * --min-mb / SOAK_MIN_MB (2), --max-mb / SOAK_MAX_MB (50), --interval-s / SOAK_INTERVAL_S (mean
 * time between two captures of one device, default 900: what one shared 2-core machine drains), --urgent / SOAK_URGENT (share, 0.25),
 * --seed / SOAK_SEED, --expiry-s / SOAK_EXPIRY_S (the servers' TUS_EXPIRY_MS in s, default 180;
 * the leftovers check waits for it), --results DIR / SOAK_RESULTS (default soak/results), --no-download
 * (compare the recorded sha256 only, not the downloaded bytes), --tamper / SOAK_TAMPER=1 (after the
 * checks, put real faults into the stack and check again: they must fail; src/tamper.ts).
 * SOAK_KEEP_LOGS=1 keeps the servers' logs.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { format, resolveConfig } from 'prettier';
import { markdown, readmeBlock, timelineChart } from './report.ts';
import { runSoak } from './run.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string' },
    devices: { type: 'string' },
    'min-mb': { type: 'string' },
    'max-mb': { type: 'string' },
    'interval-s': { type: 'string' },
    urgent: { type: 'string' },
    seed: { type: 'string' },
    results: { type: 'string' },
    'expiry-s': { type: 'string' },
    'no-download': { type: 'boolean' },
    tamper: { type: 'boolean' },
  },
});
const num = (flag: string | undefined, env: string | undefined, fallback: number): number => {
  const v = Number(flag ?? env ?? fallback);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`not a positive number: ${flag ?? env}`);
  return v;
};
const e = process.env;
const minutes = num(values.minutes, e.SOAK_MINUTES, 30);
const devices = Math.round(num(values.devices, e.SOAK_DEVICES, 40));
const minBytes = num(values['min-mb'], e.SOAK_MIN_MB, 2) * 1e6;
const maxBytes = num(values['max-mb'], e.SOAK_MAX_MB, 50) * 1e6;
const resultsDir = path.resolve(values.results ?? e.SOAK_RESULTS ?? path.join(import.meta.dirname, '../results'));
const seed = Math.round(num(values.seed, e.SOAK_SEED, Date.now() % 1e9));

const result = await runSoak({
  durationMs: minutes * 60_000,
  devices,
  minBytes,
  maxBytes,
  meanCaptureIntervalMs: num(values['interval-s'], e.SOAK_INTERVAL_S, 900) * 1000,
  urgentShare: num(values.urgent, e.SOAK_URGENT, 0.25),
  seed,
  downloadAll: !values['no-download'],
  drainTimeoutMs: Math.max(10 * 60_000, minutes * 60_000),
  tusExpiryMs: num(values['expiry-s'], e.SOAK_EXPIRY_S, 180) * 1000,
  tamper: values.tamper === true || e.SOAK_TAMPER === '1',
  log: (line) => console.log(line),
});

await mkdir(resultsDir, { recursive: true });
const command = `npm run soak -- --minutes ${minutes} --devices ${devices} --min-mb ${minBytes / 1e6} --max-mb ${maxBytes / 1e6} --seed ${seed}`;
const repoRoot = path.resolve(import.meta.dirname, '../..');
const readmeFile = path.join(repoRoot, 'README.md');
const prettier = { ...(await resolveConfig(readmeFile)), parser: 'markdown' };
await writeFile(path.join(resultsDir, 'timeline.svg'), timelineChart(result));
await writeFile(
  path.join(resultsDir, 'latest.json'),
  await format(JSON.stringify(result), { ...prettier, parser: 'json' }),
);
await writeFile(path.join(resultsDir, 'latest.md'), await format(markdown(result, 'timeline.svg', command), prettier));
// The README's summary (between its soak markers) follows the committed results only.
if (resultsDir === path.join(repoRoot, 'soak/results')) {
  const readme = await readFile(readmeFile, 'utf8');
  const start = '<!-- soak:results:start -->';
  const end = '<!-- soak:results:end -->';
  const a = readme.indexOf(start);
  const b = readme.indexOf(end);
  if (a >= 0 && b > a) {
    const updated = `${readme.slice(0, a + start.length)}\n\n${readmeBlock(result, command)}\n\n${readme.slice(b)}`;
    await writeFile(readmeFile, await format(updated, prettier));
  }
}
console.log(
  `\nsoak ${result.ok ? 'passed' : 'FAILED'}; results in ${path.relative(process.cwd(), resultsDir)}/latest.md`,
);
if (result.tampered)
  console.log(
    result.tampered.missed.length
      ? `tampering NOT seen by the checks: ${result.tampered.missed.join('; ')}`
      : `every tampering (${result.tampered.applied.length}) was seen by the checks`,
  );
process.exit(result.ok && !result.tampered?.missed.length ? 0 : 1);
