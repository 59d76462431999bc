#!/usr/bin/env node
// `npm test`: every check and every test, against real services that this script provides.
//   1. system packages the tests use (scripts/system-deps.sh)
//   2. S3-compatible storage: Swift s3api (scripts/services/swift.sh), unless S3_ENDPOINT is set
//   3. lint, format, type checks
//   4. vitest over the whole workspace (PostgreSQL: TEST_DATABASE_URL or an embedded one)
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;

function run(title, cmd, args, opts = {}) {
  console.log(`\n▶ ${title}`);
  const r = spawnSync(cmd, args, {
    stdio: opts.capture ? ['ignore', 'pipe', 'inherit'] : 'inherit',
    cwd: root,
    env: process.env,
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    if (opts.capture) process.stdout.write(r.stdout ?? '');
    console.error(`✖ ${title} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
  return r.stdout ?? '';
}

run('system packages', 'bash', ['scripts/system-deps.sh']);
if (!process.env.S3_ENDPOINT) {
  const out = run('S3 storage (Swift s3api)', 'bash', ['scripts/services/swift.sh', 'start'], { capture: true });
  for (const line of out.split('\n')) {
    const m = line.trim().match(/^(S3_[A-Z_]+)=(.*)$/);
    if (m) process.env[m[1]] = m[2];
  }
  console.log(`  S3 at ${process.env.S3_ENDPOINT}`);
}
run('lint', 'node', ['node_modules/eslint/bin/eslint.js', '.']);
run('format', 'node', ['node_modules/prettier/bin/prettier.cjs', '--check', '.', '--log-level', 'warn']);
run('types', 'node', ['scripts/pnpm.mjs', '-r', '--reporter=append-only', 'run', 'typecheck']);

mkdirSync(`${root}.tmp`, { recursive: true });
const report = `${root}.tmp/vitest-report.json`;
const vitest = spawnSync(
  'node',
  [
    'node_modules/vitest/vitest.mjs',
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${report}`,
    ...process.argv.slice(2),
  ],
  {
    stdio: 'inherit',
    cwd: root,
    env: process.env,
  },
);
let summary = 'vitest: no report';
try {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  summary =
    `vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed` +
    (r.numPendingTests ? `, ${r.numPendingTests} skipped` : '');
} catch {
  // the summary line says there was no report
}
console.log(`\n${summary}`);
process.exit(vitest.status ?? 1);
