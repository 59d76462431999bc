#!/usr/bin/env node
// `npm test`: every check and every test, against real services that this script provides.
//   1. system packages the tests use (scripts/system-deps.sh)
//   2. S3-compatible storage: Swift s3api (scripts/services/swift.sh), unless S3_ENDPOINT is set
//      and RabbitMQ (scripts/services/rabbitmq.sh), exported to the tests as AMQP_URL,
//      and Orthanc with its DICOMweb plugin (scripts/services/orthanc.sh), as ORTHANC_BINARY/_PLUGIN
//   3. lint, format, type checks, deployment checks (scripts/check-deploy.sh)
//   4. vitest over the whole workspace (PostgreSQL: TEST_DATABASE_URL or an embedded one)
//   5. Playwright (e2e/): the edge app in Chromium against the real server stack
// The last line counts both: `tests: N passed, N failed`.
// All of it on the pinned Node.js LTS (scripts/node-lts.mjs): under an older node this script runs
// itself again under that release (fetched once from the npm registry), with it first on PATH, so
// the servers, tools and browsers' stacks the tests start run on it too.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { reexecUnderLts } from './node-lts.mjs';

reexecUnderLts();
console.log(`Node.js ${process.versions.node} (${process.execPath})`);
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
{
  // RabbitMQ for the event tests: AMQP_URL if set (checked), else the machine's, started or installed.
  const out = run('RabbitMQ', 'bash', ['scripts/services/rabbitmq.sh', 'start'], { capture: true });
  const m = out.match(/^AMQP_URL=(.*)$/m);
  if (m) process.env.AMQP_URL = m[1].trim();
  console.log(`  RabbitMQ at ${(process.env.AMQP_URL ?? '').replace(/\/\/[^@]*@/, '//')}`);
}
{
  // Orthanc with its DICOMweb plugin, the PACS the DICOMweb tests use as a client: installed and
  // checked here; each test starts its own (apps/sync-server/test/orthanc.ts).
  const out = run('Orthanc (DICOMweb plugin)', 'bash', ['scripts/services/orthanc.sh', 'start'], { capture: true });
  for (const line of out.split('\n')) {
    const m = line.trim().match(/^(ORTHANC_[A-Z_]+)=(.*)$/);
    if (m) process.env[m[1]] = m[2];
  }
  console.log(`  Orthanc at ${process.env.ORTHANC_BINARY}, plugin ${process.env.ORTHANC_DICOMWEB_PLUGIN}`);
}
run('lint', 'node', ['node_modules/eslint/bin/eslint.js', '.']);
run('format', 'node', ['node_modules/prettier/bin/prettier.cjs', '--check', '.', '--log-level', 'warn']);
run('types', 'node', ['scripts/pnpm.mjs', '-r', '--reporter=append-only', 'run', 'typecheck']);
// Deployment files without a container engine: compose config, Dockerfile lint, image rehearsal.
run('deployment checks', 'bash', ['scripts/check-deploy.sh']);

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
let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  // Errors outside any test (an unhandled rejection, a crash in a server under test) fail the run
  // too: vitest then reports success false with no failed test.
  const outside = r.success === false && r.numFailedTests === 0 ? 1 : 0;
  summary =
    `vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed` +
    (r.numPendingTests ? `, ${r.numPendingTests} skipped` : '') +
    (outside ? ', and errors outside the tests (see "Unhandled Errors" above)' : '');
  passed += r.numPassedTests;
  failed += r.numFailedTests + outside;
  skipped += r.numPendingTests ?? 0;
} catch {
  failed += 1; // no report: count the run as a failure
}
// A global teardown that fails (the OpenAPI response check: responses that differ from the
// document, operations no test exercised) comes after the report: vitest's exit status says it.
if (vitest.status && !failed) {
  failed += 1;
  summary += ', and a failure after the tests (see "error during close" above)';
}
console.log(`\n${summary}`);

// Browser tests (the edge core in Chromium against the server, PostgreSQL and Swift S3).
// Filters given to vitest (argv) do not apply here; E2E=0 skips this step.
let e2eStatus = 0;
if (process.env.E2E !== '0' && process.argv.length <= 2) {
  console.log('\n▶ browser tests (Playwright, e2e/)');
  const e2eReport = `${root}.tmp/playwright-report.json`;
  rmSync(e2eReport, { force: true });
  const pw = spawnSync('node', ['node_modules/@playwright/test/cli.js', 'test'], {
    stdio: 'inherit',
    cwd: `${root}e2e`,
    env: process.env,
  });
  e2eStatus = pw.status ?? 1;
  let e2eSummary = 'playwright: no report';
  try {
    const { stats } = JSON.parse(readFileSync(e2eReport, 'utf8'));
    // A run that failed outside any test (global setup: the server stack) still counts as a failure.
    const pwFailed = stats.unexpected + stats.flaky || (e2eStatus === 0 ? 0 : 1);
    e2eSummary =
      `playwright: ${stats.expected} passed, ${pwFailed} failed` + (stats.skipped ? `, ${stats.skipped} skipped` : '');
    passed += stats.expected;
    failed += pwFailed;
    skipped += stats.skipped;
  } catch {
    failed += 1;
  }
  console.log(`\n${e2eSummary}`);
}
console.log(`\ntests: ${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ''));
process.exit(vitest.status || e2eStatus || (failed ? 1 : 0));
