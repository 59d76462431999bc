import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '@xray/testkit';
import { startChild } from '../lib/child.ts';
import { treeCpuMs } from '../lib/cpu.ts';
import type { Row } from '../lib/results.ts';
import { MB } from '../lib/stats.ts';
import type { BenchDatabase } from '../stack/postgres.ts';
import type { Peers } from '../stack/peers.ts';
import { nodesToCompare, type NodeBinary } from '../stack/node.ts';
import { buildServer, runtimeEnvOfImage, serverDir } from '../stack/sync-server.ts';
import { s3ServerEnv } from '../stack/s3.ts';
import { rotate, type BenchContext } from './context.ts';

const run = promisify(execFile);
/** The bundle with every npm dependency left in node_modules: measured, not shipped (build.mjs --external-deps). */
const EXTERNAL_DEPS_DIR = 'dist-external-deps';
/** How long a started server is left alone before its idle memory is read. */
const IDLE_MS = 3000;

interface Variant {
  id: string;
  label: string;
  args: string[];
  /** Measured on the LTS only: it answers a question about the build or the storage, not about Node. */
  ltsOnly?: boolean;
  /** Settings of its own (S3 storage). */
  env?: Record<string, string>;
}

/** The bundle on S3 storage, when the bench has S3: it loads the S3 driver, which disk storage never does. */
const s3Env = s3ServerEnv(`xray-bench-start-${Date.now().toString(36)}`);
const VARIANTS: Variant[] = [
  { id: 'bundle', label: 'bundle (node dist/main.js, what the image runs)', args: ['dist/main.js'] },
  { id: 'tsx', label: 'sources through tsx (npm start)', args: ['--import', 'tsx', 'src/main.ts'] },
  {
    id: 'external-deps',
    label: 'bundle with its npm dependencies left in node_modules (not shipped)',
    args: [`${EXTERNAL_DEPS_DIR}/main.js`],
    ltsOnly: true,
  },
  ...(s3Env
    ? [{ id: 'bundle-s3', label: 'bundle on S3 storage', args: ['dist/main.js'], ltsOnly: true, env: s3Env }]
    : []),
];

/** The keys a deployment is given (as deploy/gen-keys.sh makes them), so no start generates any. */
function deploymentKeys(): Record<string, string> {
  const pem = (key: { export(o: { type: 'pkcs8'; format: 'pem' }): string | Buffer }) =>
    key.export({ type: 'pkcs8', format: 'pem' }).toString().trim().replaceAll('\n', '\\n');
  return {
    KEK: `kek-bench:${randomBytes(32).toString('base64')}`,
    UPLOAD_PRIVATE_KEY: pem(generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey),
    AUDIT_ANCHOR_KEY: pem(generateKeyPairSync('ed25519').privateKey),
  };
}

interface Start {
  readyMs: number;
  cpuMs: number;
  idleRssMb: number;
}

/**
 * One start: the process spawned, `/readyz` polled every 5 ms until it answers 200 (database,
 * storage, issuer and keys checked); its CPU time then; its RSS after IDLE_MS without requests.
 */
async function startOnce(
  node: NodeBinary,
  variant: Variant,
  env: Record<string, string>,
  logFile: string,
): Promise<Start> {
  const port = await freePort();
  const started = performance.now();
  const child = startChild('sync-server', node.path, variant.args, {
    env: { ...env, PORT: String(port) },
    logFile,
    cwd: serverDir,
  });
  try {
    for (;;) {
      const status = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) break;
      if (child.process.exitCode !== null) throw new Error(`the server exited before it was ready:\n${child.tail()}`);
      if (performance.now() - started > 60_000) throw new Error(`not ready after 60 s:\n${child.tail()}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const readyMs = performance.now() - started;
    const cpuMs = await treeCpuMs([child.pid]);
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const idleRssMb = (await child.memory()).rss / MB;
    return { readyMs, cpuMs, idleRssMb };
  } finally {
    await child.stop('SIGTERM');
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? ((s[(s.length - 1) >> 1] ?? 0) + (s[s.length >> 1] ?? 0)) / 2 : Number.NaN;
};

/**
 * Startup: from the server process starting to `/readyz` answering 200, and its resident memory
 * once idle, for the bundle production runs (dist/main.js), the TypeScript sources through tsx
 * (`npm start`) and, for the record of why build.mjs bundles the npm dependencies too, a bundle
 * that leaves them in node_modules, on each Node.js release present (this process's and the LTS).
 * Each round: every combination in rotated order, each on an empty database of its own (the first
 * start applies the migrations), then started again on it (a restart, or another replica).
 * PostgreSQL is external to the server (never the embedded one); storage on disk, and the bundle
 * on S3 as well when the bench has S3 (the only start that loads the S3 driver); the issuer and
 * the Patient and Doctor Services are the peers' process; keys are given as a deployment's are.
 */
export async function runStartup(ctx: BenchContext, db: BenchDatabase, peers: Peers, logDir: string): Promise<void> {
  const nodes = await nodesToCompare();
  ctx.log(`startup: the bundle and its variant; Node.js ${nodes.map((n) => n.version).join(' and ')}`);
  // The bundle of this run (built once when the benchmark started); the variant is built here.
  await buildServer();
  await run(process.execPath, [path.join(serverDir, 'build.mjs'), '--external-deps', '--outdir', EXTERNAL_DEPS_DIR], {
    cwd: serverDir,
  });
  const keys = deploymentKeys();
  const imageEnv = await runtimeEnvOfImage();
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(S3_|DATABASE_|OIDC_|KEK|UPLOAD_|AUDIT_|DATA_DIR$|PORT$)/.test(k)),
  );
  const lts = nodes.at(-1);
  const combos = nodes.flatMap((node) =>
    VARIANTS.filter((v) => !v.ltsOnly || node === lts).map((variant) => ({ node, variant })),
  );
  const results = new Map<string, { first: Start[]; again: Start[] }>();
  const scratch = await mkdtemp(path.join(tmpdir(), 'xray-bench-startup-'));
  try {
    for (let round = 0; round < ctx.runs; round++) {
      for (const { node, variant } of rotate(combos, round)) {
        const key = `${variant.id}-node${node.major}`;
        const dataDir = await mkdtemp(path.join(scratch, `${key}-`));
        const env = {
          ...inherited,
          NODE_ENV: 'development',
          HOST: '127.0.0.1',
          METRICS_PORT: '0',
          LOG_LEVEL: 'info',
          DATA_DIR: dataDir,
          DATABASE_URL: await db.fresh(),
          ...peers.serverEnv,
          ...keys,
          // The process settings the image runs with, for every variant alike.
          ...imageEnv,
          ...variant.env,
        };
        const logFile = path.join(logDir, `startup-${key}.log`);
        const first = await startOnce(node, variant, env, logFile);
        const again = await startOnce(node, variant, env, logFile);
        const r = results.get(key) ?? { first: [], again: [] };
        r.first.push(first);
        r.again.push(again);
        results.set(key, r);
      }
      ctx.log(`startup round ${round + 1}/${ctx.runs} done`);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
    await rm(path.join(serverDir, EXTERNAL_DEPS_DIR), { recursive: true, force: true });
  }
  for (const { node, variant } of combos) {
    const r = results.get(`${variant.id}-node${node.major}`);
    if (!r) continue;
    const id = `startup-${variant.id}-node${node.major}`;
    const what = `${variant.label}, Node.js ${node.version}`;
    const note =
      `Startup, ${what}: CPU time of the server process until ready, median ${median(r.first.map((s) => s.cpuMs)).toFixed(0)} ms ` +
      `on an empty database, ${median(r.again.map((s) => s.cpuMs)).toFixed(0)} ms on a migrated one (wall time depends on what else the machine runs; CPU time much less)`;
    const rows: Row[] = [
      {
        id: `${id}-first`,
        figure: 'Startup',
        label: `start to /readyz 200, empty database (migrations applied): ${what}`,
        unit: 'ms',
        ours: r.first.map((s) => s.readyMs),
        ratios: false,
        note,
      },
      {
        id: `${id}-again`,
        figure: 'Startup',
        label: `start to /readyz 200, migrated database (a restart): ${what}`,
        unit: 'ms',
        ours: r.again.map((s) => s.readyMs),
        ratios: false,
        note,
      },
      {
        id: `${id}-rss`,
        figure: 'Startup',
        label: `idle RSS ${IDLE_MS / 1000} s after ready: ${what}`,
        unit: 'MB',
        ours: [...r.first, ...r.again].map((s) => s.idleRssMb),
        ratios: false,
      },
    ];
    ctx.rows.push(...rows);
  }
}
