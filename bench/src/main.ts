/**
 * `npm run bench`: every benchmark of issues 9 and 22 (and issue 5's XRE1 figure), then
 * bench/results/latest.md, latest.json, ratios.svg and the README's results block.
 * Benchmarks, not tests: nothing here fails on speed, only on wrong answers.
 *
 *   npm run bench                                  everything (about 6 minutes on 2 cores)
 *   npm run bench -- --runs 3 --seconds 3          fewer/shorter runs
 *   npm run bench -- --only metadata --profile     one figure, server under --cpu-prof (results to .tmp/)
 *   npm run bench -- --only metadata --server-env DATABASE_POOL_MAX=20   an experiment with a server setting
 *   npm run bench -- --only metadata --db-delay-ms 1   PostgreSQL as if on another host (+2 ms per round trip)
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { format, resolveConfig } from 'prettier';
import { postUploader, orthancUploader, rawUploader } from './lib/clients.ts';
import { bearer } from './lib/dpop.ts';
import { ratioChart } from './lib/chart.ts';
import { profileText, summarizeProfile } from './lib/cpu-profile.ts';
import { startPgWaitSampler } from './lib/pg-waits.ts';
import { describeMachine } from './lib/machine.ts';
import { replaceReadmeBlock, resultsMarkdown, summaryLine, targetsTable, type RunInfo } from './lib/report.ts';
import { TARGETS } from './lib/results.ts';
import { MB } from './lib/stats.ts';
import { XrayFile } from './lib/workload.ts';
import type { BenchContext, Mark } from './figures/context.ts';
import { measure, runIngest } from './figures/ingest.ts';
import { LIST_LIMIT, runMetadata, type OtherNode } from './figures/metadata.ts';
import { runDownload } from './figures/download.ts';
import { runMemory } from './figures/memory.ts';
import { runS3Ingest } from './figures/s3.ts';
import { runXre1 } from './figures/xre1.ts';
import { runStartup } from './figures/startup.ts';
import { runEdge } from './figures/edge.ts';
import { DICOMWEB_STUDIES, runDicomweb } from './figures/dicomweb.ts';
import { ensureOrthanc, startOrthanc, type Orthanc } from './stack/orthanc.ts';
import { freePort } from '@xray/testkit';
import { startDelayProxy, throughProxy } from './stack/delay-proxy.ts';
import { startDatabase, type BenchDatabase } from './stack/postgres.ts';
import { startExpressFloor, startRawServer, type RawServer } from './stack/raw-server.ts';
import { startPeers, type Peers } from './stack/peers.ts';
import { ltsNode, thisNode } from './stack/node.ts';
import { s3ServerEnv } from './stack/s3.ts';
import {
  buildServer,
  mintToken,
  repoRoot,
  signInEdgeDevice,
  startSyncServer,
  type SyncServer,
} from './stack/sync-server.ts';

const FIGURES = ['ingest', 'metadata', 'download', 'dicomweb', 'memory', 's3', 'startup', 'edge', 'xre1'] as const;
type Figure = (typeof FIGURES)[number];

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    'metadata-runs': { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    only: { type: 'string' },
    profile: { type: 'boolean', default: false },
    'server-env': { type: 'string', multiple: true, default: [] },
    'db-delay-ms': { type: 'string' },
  },
});
const runs = Number(args.runs);
const metadataRuns = Number(args['metadata-runs']);
const seconds = Number(args.seconds);
const only = args.only?.split(',').map((s) => s.trim());
const isFigure = (s: string): s is Figure => FIGURES.some((f) => f === s);
if (only?.some((f) => !isFigure(f))) throw new Error(`--only takes ${FIGURES.join(', ')}`);
const selected = (f: Figure) => !only || only.includes(f);
const serverEnv = Object.fromEntries(
  (args['server-env'] ?? []).map((kv) => {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new Error(`--server-env takes NAME=value, got ${kv}`);
    return [kv.slice(0, eq), kv.slice(eq + 1)];
  }),
);
// Anything but the plain full run is an experiment: its results go to .tmp/bench, not bench/results.
const dbDelayMs = Number(args['db-delay-ms'] ?? 0);
if (!Number.isFinite(dbDelayMs) || dbDelayMs < 0) throw new Error('--db-delay-ms takes a number of milliseconds');
const partial = Boolean(only) || args.profile || Object.keys(serverEnv).length > 0 || dbDelayMs > 0;

const benchDir = path.resolve(import.meta.dirname, '..');
const resultsDir = path.join(benchDir, 'results');
const scratchDir = path.join(repoRoot, '.tmp', 'bench');
const t0 = performance.now();
const log = (msg: string) =>
  console.log(`[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${msg}`);

/** The S3 side figure's server settings (its own bucket), when the bench has S3. */
const s3Env = s3ServerEnv();

/** When ingest is not run (--only), the read figures still need stored X-rays: a few plain uploads. */
async function seed(ctx: BenchContext): Promise<void> {
  const post = postUploader(ctx.sync.url, ctx.sync.paramedic);
  for (let i = 0; i < LIST_LIMIT; i++) ctx.ids.sync18 = (await measure(post, ctx.files.f18, 1)).ids[0];
  ctx.ids.sync50 = (await measure(post, ctx.files.f50, 1)).ids[0];
  const raw = rawUploader(ctx.raw.url);
  ctx.ids.raw18 = (await measure(raw, ctx.files.f18, 1)).ids[0];
  ctx.ids.raw50 = (await measure(raw, ctx.files.f50, 1)).ids[0];
  if (ctx.orthanc) {
    const o = orthancUploader(ctx.orthanc.url, ctx.orthanc.authorization);
    ctx.ids.orthanc18 = (await measure(o, ctx.files.f18, 1)).ids[0];
    // What Orthanc receives after that instance in an ingest round (4 × 18 MB, then 50 MB) pushes
    // its whole file out of Orthanc's 128 MB storage cache (MaximumStorageCacheSize, LRU), where
    // every stored file lands, as any X-ray a doctor opens some uploads later. While the whole
    // file is still cached, Orthanc 1.10.1 serves each /simplified-tags by copying all 18 MB out of
    // that cache (StorageCache::FetchStartRange; removed in 1.12.2): 1.3–3.6 ms of CPU per request
    // instead of ~0.1–0.2 ms from the cached header. Without this, --only runs measured that state.
    await measure(o, ctx.files.f18, 4);
    ctx.ids.orthanc50 = (await measure(o, ctx.files.f50, 1)).ids[0];
  }
}

/** In --profile runs: what the server's database connections were doing during a phase. */
let pgWaits: ((windows: readonly Mark[]) => string) | undefined;

async function main(): Promise<void> {
  const startedAt = new Date();
  await mkdir(scratchDir, { recursive: true });
  const work = await mkdtemp(path.join(tmpdir(), 'xray-bench-'));
  const logs = path.join(scratchDir, 'logs');
  await mkdir(logs, { recursive: true });
  const profileDir = path.join(scratchDir, 'profiles', startedAt.toISOString().replace(/[:.]/g, '-'));
  const stops: (() => Promise<void>)[] = [];
  const info: RunInfo = {
    startedAt,
    seconds: 0,
    runs,
    metadataRuns,
    metadataSeconds: seconds,
    machine: describeMachine(work),
    server: '',
    database: '',
    orthanc: '',
    chromium: 'not run',
    edge: 'not run',
    s3: s3Env
      ? `${process.env.S3_ENDPOINT}`
      : 'not configured (set S3_ENDPOINT, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY to add it)',
    files: '',
  };
  try {
    log(`machine: ${info.machine}`);
    const files = {
      f18: await XrayFile.write(path.join(work, 'files'), 'chest-18mb', { rows: 3000, columns: 3000, seed: 101 }),
      f50: await XrayFile.write(path.join(work, 'files'), 'chest-50mb', { rows: 5000, columns: 5000, seed: 102 }),
    };
    info.files = `synthetic chest DR DICOMs from @xray/testkit: 3000×3000 16-bit (${(files.f18.size / MB).toFixed(2)} MB) and 5000×5000 16-bit (${(files.f50.size / MB).toFixed(2)} MB); each upload a copy with its own SOPInstanceUID. MB = 10⁶ bytes.`;
    log('DICOM files written');

    const needServers = FIGURES.some((f) => f !== 'xre1' && f !== 'startup' && f !== 'edge' && selected(f));
    const ctx: BenchContext = {
      sync: { url: '', paramedic: bearer(''), doctor: '', admin: '' },
      raw: { url: '' },
      floor: { url: '' },
      orthanc: undefined,
      files,
      runs,
      log,
      rows: [],
      marks: [],
      cpu: { ours: [], orthanc: [], raw: [], floor: [] },
      ids: {},
    };
    // The server as the image runs it: the bundle, built once from the sources as they are now, on the pinned LTS.
    const lts = await ltsNode();
    const machineNode = await thisNode();
    if (needServers || selected('startup')) {
      log(`server bundle: ${await buildServer()}`);
      info.server = `the bundle (apps/sync-server/build.mjs, \`node dist/main.js\` as the image runs it) on Node.js ${lts.version} (scripts/node-lts.mjs)`;
    }
    if (needServers) {
      const db: BenchDatabase = await startDatabase();
      stops.push(db.stop);
      info.database = db.describe;
      log(`database: ${db.describe}`);
      // The servers reach it through a delaying proxy when asked (--db-delay-ms): another host.
      let serverDbUrl = db.url;
      if (dbDelayMs > 0) {
        const target = new URL(db.url);
        const proxy = await startDelayProxy({ host: target.hostname, port: Number(target.port || 5432) }, dbDelayMs);
        stops.push(proxy.stop);
        serverDbUrl = throughProxy(db.url, proxy.port);
        info.database += `, reached by the servers through a proxy adding ${dbDelayMs} ms each way (--db-delay-ms)`;
        log(`database: servers reach it with ${2 * dbDelayMs} ms more per round trip`);
      }
      const peers: Peers = await startPeers(path.join(work, 'peers'), await freePort(), path.join(logs, 'peers.log'));
      stops.push(peers.stop);
      const dataDir = path.join(work, 'sync-server');
      const server: SyncServer = await startSyncServer({
        node: lts,
        dataDir,
        databaseUrl: serverDbUrl,
        peers: peers.serverEnv,
        logFile: path.join(logs, 'sync-server.log'),
        env: serverEnv,
        ...(args.profile ? { cpuProfDir: profileDir } : {}),
      });
      let serverStopped = false;
      stops.push(() => (serverStopped ? Promise.resolve() : server.stop()));
      log(`sync server ${server.url} (pid ${server.child.pid}), issuer ${peers.issuer}`);
      const [paramedic, doctor, admin] = await Promise.all([
        signInEdgeDevice(peers.issuer, server.url),
        mintToken(peers.issuer, 'doctor'),
        mintToken(peers.issuer, 'admin'),
      ]);
      ctx.sync = { url: server.url, paramedic, doctor, admin };
      const postmaster = await db.pid();
      ctx.cpu.ours = [server.child.pid, ...(postmaster ? [postmaster] : [])];
      if (args.profile) {
        const sampler = await startPgWaitSampler(db.url);
        stops.push(sampler.stop);
        pgWaits = sampler.summary;
      }
      const raw: RawServer = await startRawServer(path.join(work, 'raw'), path.join(logs, 'raw-server.log'), lts);
      await mkdir(path.join(work, 'raw'), { recursive: true });
      stops.push(raw.stop);
      ctx.raw = { url: raw.url };
      ctx.cpu.raw = [raw.child.pid];
      const floor = await startExpressFloor(path.join(logs, 'express-floor.log'), lts);
      stops.push(floor.stop);
      ctx.floor = { url: floor.url };
      ctx.cpu.floor = [floor.child.pid];

      const availability = await ensureOrthanc(log);
      if (availability.available) {
        try {
          const orthanc: Orthanc = await startOrthanc(
            availability.binary,
            path.join(work, 'orthanc'),
            path.join(logs, 'orthanc.log'),
            availability.dicomweb,
          );
          stops.push(orthanc.stop);
          ctx.orthanc = {
            url: orthanc.url,
            authorization: orthanc.authorization,
            dicomweb: availability.dicomweb !== undefined,
          };
          ctx.cpu.orthanc = [orthanc.child.pid];
          info.orthanc = `Orthanc ${orthanc.version} (Debian package; default SQLite index, disk storage, HTTP basic auth on; ${availability.dicomweb ? 'its DICOMweb plugin (orthanc-dicomweb) the only plugin' : 'no plugins: orthanc-dicomweb is not installed, so the DICOMweb figure has no Orthanc side'})`;
        } catch (err) {
          info.orthanc = `not measured: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
        }
      } else info.orthanc = `not measured: ${availability.reason}`;
      log(`Orthanc: ${info.orthanc}`);

      if (selected('ingest')) await runIngest(ctx);
      else if (selected('metadata') || selected('download')) await seed(ctx);
      if (selected('metadata')) {
        // Issue 22: "the bench reports the figures on both [Node.js releases] while both exist": the
        // metadata reads also from a second instance on this machine's node (same database and storage).
        let other: { server: SyncServer; node: OtherNode } | undefined;
        if (machineNode.major !== lts.major) {
          const second = await startSyncServer({
            node: machineNode,
            dataDir,
            databaseUrl: serverDbUrl,
            peers: peers.serverEnv,
            logFile: path.join(logs, `sync-server-node${machineNode.major}.log`),
            env: serverEnv,
          });
          stops.push(() => second.stop());
          log(
            `sync server on Node.js ${machineNode.version} ${second.url} (pid ${second.child.pid}) for the metadata figure`,
          );
          other = {
            server: second,
            node: {
              key: `node${machineNode.major}`,
              name: `Node.js ${machineNode.version}`,
              url: second.url,
              cpu: [second.child.pid, ...(postmaster ? [postmaster] : [])],
            },
          };
        }
        try {
          await runMetadata({ ...ctx, runs: metadataRuns }, seconds, other?.node);
        } finally {
          await other?.server.stop();
        }
      }
      if (selected('download')) await runDownload(ctx);
      if (selected('dicomweb')) await runDicomweb({ ...ctx, runs: metadataRuns }, seconds);
      serverStopped = true;
      await server.stop();

      if (selected('memory')) {
        const fresh = await startSyncServer({
          node: lts,
          dataDir,
          databaseUrl: serverDbUrl,
          peers: peers.serverEnv,
          logFile: path.join(logs, 'sync-server-memory.log'),
        });
        try {
          log(`fresh sync server for memory (pid ${fresh.child.pid})`);
          await runMemory({ ...ctx, runs: 3 }, { url: fresh.url, child: fresh.child });
        } finally {
          await fresh.stop();
        }
      }
      if (selected('s3') && s3Env) {
        const s3 = await startSyncServer({
          node: lts,
          dataDir: path.join(work, 'sync-server-s3'),
          databaseUrl: serverDbUrl,
          peers: peers.serverEnv,
          logFile: path.join(logs, 'sync-server-s3.log'),
          env: s3Env,
        });
        try {
          await runS3Ingest({ ...ctx, runs: 3 }, { url: s3.url }, process.env.S3_ENDPOINT ?? '');
        } finally {
          await s3.stop();
        }
      }
    }
    if (selected('startup')) {
      // After the other servers have stopped: starts measured on a machine otherwise idle.
      const db = await startDatabase();
      stops.push(db.stop);
      info.database ||= db.describe;
      const peers = await startPeers(
        path.join(work, 'startup-peers'),
        await freePort(),
        path.join(logs, 'startup-peers.log'),
      );
      stops.push(peers.stop);
      await runStartup({ ...ctx, runs: Math.min(runs, 3) }, db, peers, logs);
    }
    if (selected('edge'))
      info.edge = await runEdge({ ...ctx, runs: Math.min(runs, 3) }, path.join(logs, 'edge-bench.log'));
    if (selected('xre1')) info.chromium = (await runXre1(ctx)).chromium;

    info.seconds = (performance.now() - t0) / 1000;
    await writeResults(ctx, info, partial);
    if (args.profile) await writeProfileSummary(profileDir, ctx.marks);
  } finally {
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => log(`cleanup: ${String(err)}`));
    await rm(work, { recursive: true, force: true });
  }
}

const NOTES = [
  "The sync server runs as the image runs it: the bundle (apps/sync-server/build.mjs, built once at the start of the run from the sources as they are, `node dist/main.js`) on the pinned Node.js LTS (scripts/node-lts.mjs), in development mode (which allows disk storage and generated keys) with LOG_LEVEL=info (one JSON line per request, to a file); as in a deployment, the services it talks to run in a process of their own (bench/src/stack/peers.process.ts): the development OIDC issuer, the Patient Service that answers every upload's link check, and the Doctor Service that receives the outbox webhooks. Their CPU is not counted as the sync server's. Where the machine's node is another release, the metadata figure is also measured on a second instance running on it (same database and storage, same rounds).",
  "The paramedic is an edge device, as the server requires by default: its own ES256 DPoP key, a token the development issuer bound to it (the edge app's sign-in: authorization code + PKCE with a DPoP proof), the device enrolled (POST /devices), and a fresh DPoP proof (RFC 9449) on every request: each POST /xrays and each tus request (creation and every PATCH, added in tus-js-client's onBeforeRequest as the edge app does). Making the proof is in the timed part; the server checks it and remembers its jti in PostgreSQL. Doctors and admins send bearer tokens.",
  'Every server under test runs as its own process; the benchmark process is the client (plain node:http with keep-alive for every contender; tus-js-client for tus; autocannon for load). Client and servers share the 2 cores, as do PostgreSQL and Orthanc.',
  'Each round measures every contender back to back in rotated order, and each ratio is taken within one round; the tables give the median of the rounds with the smallest and largest.',
  'Ingest MB/s: plaintext bytes ÷ wall time from the first request to the last answer (tus: creation POST to the final PATCH, which includes finalize: decrypt, sha256, DICOM tags, the database row and audit event). With 4 clients, 4 different files at once, MB/s of all of them together.',
  "tus: the client encrypts to XRE1 and wraps the data key for the server's upload key (GET /keys/upload) before the timer starts, as the edge does at capture time; that client-side cost is not in the server's figure (see the XRE1 table for it).",
  'Raw limit: a bare Node HTTP server (bench/src/stack/raw-server.process.ts, on the same Node.js as the sync server) that streams the request body to a file on the same disk in ~1 MiB writes, as the sync server writes a tus PATCH, and fsyncs it before answering, and serves files back with Range. The sync server also fsyncs every stored object; Orthanc is run with its defaults.',
  "Verified limit (issue 22: what our server must do at least): the same bare server takes the XRE1 ciphertext the edge uploads (made before the timer starts, like tus's) in one streamed PUT with its data key in a header (no RSA unwrap), writes it to a file (fsynced) and, in the same process as the bytes pass, decrypts every 1 MiB segment with AES-256-GCM (node:crypto) and hashes the plaintext with SHA-256; it answers with the sha256 only when every tag verified, and the client checks it. MB/s of plaintext bytes, like every ingest figure; POST /xrays is compared with it too, although it receives plaintext and encrypts instead.",
  "The tus limit (issue 22: what the tus requests cost at least): the same bare server speaking tus 1.0 (creation, then each PATCH checked against the upload's offset, its bytes decrypted, hashed and written in ~1 MiB writes as for the verified limit; the completing PATCH fsyncs the file and answers the plaintext's sha256, which the client checks), sent the same XRE1 ciphertext with tus-js-client in the same 8 MiB chunks: no token, DPoP proof, database, audit or finalize. It has rows of its own in the Ingest table; our tus 8 MiB rows ÷ its MB/s is what the sync server's own promises cost on top of the protocol.",
  'Orthanc: POST /instances of the same DICOM bytes (a new SOPInstanceUID each time, otherwise Orthanc answers AlreadyStored without storing), GET /instances/{id}/simplified-tags and GET /instances/{id}/file, with HTTP basic auth on.',
  "Metadata limits: the raw limit of GET /xrays/{id} is the bare Node server answering the very JSON the sync server answered (kept in memory; Node's HTTP server and nothing else); the Express floor is Express 5 set up as the sync server sets it (bench/src/stack/express-floor.process.ts) answering the same JSON with res.json and nothing else: no token, database, audit or log line. Both on the same Node.js, each a process of its own, measured in the same rounds and the same way: what a read costs before any of the X-ray Service's own work.",
  'Metadata: autocannon, 16 connections, each run {SECONDS} s after a 2 s warm-up; every request carries a real JWT from the development OIDC issuer (authorization code + PKCE) that the server verifies; any non-2xx answer fails the benchmark. Each sync-server read also appends to the tamper-evident audit log (by design). CPU per request: user + system time from /proc of the sync server and PostgreSQL (every process of each) or of Orthanc, over the run, ÷ requests; unlike requests/s it does not depend on what else the machine is doing.',
  'Download: sequential GETs of the whole file (3 × 18 MB, 1 × 50 MB per run) or of a 4 MiB Range starting mid-segment (5 per run); the sync server decrypts XRE1 as it streams, and for a Range only the segments touched.',
  `DICOMweb: ${DICOMWEB_STUDIES} studies (one 1024×1024 16-bit DX instance each, 2 MB) stored on both sides through each one's STOW-RS. QIDO-RS: a viewer's study-list query (PatientName with a wildcard, limit/offset, fuzzymatching=false, includefield) under autocannon as for Metadata, the sync server with a doctor's JWT (each search audited), Orthanc with basic auth; both must list all ${DICOMWEB_STUDIES} studies. Thumbnail: sequential GETs of the sync server's /thumbnail and of Orthanc's DICOMweb /rendered?viewport=128,128 (its plugin has no /thumbnail) as JPEG; cold is the median over instances never rendered before, cached the median of 10 more requests of one of them (the sync server keeps rendered images encrypted in storage; Orthanc renders every time).`,
  'Memory: a fresh server process; its VmRSS from /proc/<pid>/status sampled every 10 ms while 8 uploads of the 50 MB file run at once.',
  'Edge capture (issue 22): e2e/bench/edge.bench.ts run as a child process with BENCH_ONLY=save after the other figures (it starts a whole stack of its own: the sync server from its sources, embedded PostgreSQL, S3, RabbitMQ): in Chromium, the edge app signed in and offline, an 18 MB and a 50 MB DICOM chosen and previewed, from the tap on "Save X-ray" to "queued to send" in the page. The app hashes and encrypts the chosen file once its preview is drawn, while the form is filled (the bench fills it by script, faster than a paramedic): the figure is Save\'s own work (key wrap, metadata, the one strict IndexedDB write) plus whatever of that sealing was still running at the tap.',
  "Startup: wall time from spawning the server process to its first 200 from /readyz (polled every 5 ms; database, storage, issuer and keys checked), with PostgreSQL external to it (BENCH_DATABASE_URL or TEST_DATABASE_URL, else an embedded one in another process), disk storage (and S3 for the bundle on S3 storage, the only start that loads the S3 driver), the peers' issuer and services, and keys given as a deployment gives them; first on an empty database (the migrations run), then started again on it. Idle RSS: VmRSS 3 s after ready, no request made. Each on this process's Node.js and on the pinned LTS (scripts/node-lts.mjs) while both exist.",
];

async function writeResults(ctx: BenchContext, info: RunInfo, isPartial: boolean): Promise<void> {
  const notes = NOTES.map((n) => n.replace('{SECONDS}', String(info.metadataSeconds)));
  const targets = TARGETS.filter((t) => ctx.rows.some((r) => r.id === t.rowId));
  const prettier = { ...(await resolveConfig(path.join(repoRoot, 'README.md'))), parser: 'markdown' };
  const md = await format(resultsMarkdown(ctx.rows, targets, info, notes), prettier);
  const svg = ratioChart(
    ctx.rows,
    targets,
    `X-ray Service benchmark ratios, ${info.startedAt.toISOString().slice(0, 10)}`,
  );
  const dir = isPartial ? scratchDir : resultsDir;
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'latest.md'), md);
  await writeFile(path.join(dir, 'ratios.svg'), svg);
  await writeFile(
    path.join(dir, 'latest.json'),
    await format(JSON.stringify({ info, rows: ctx.rows }), { ...prettier, parser: 'json' }),
  );
  console.log(`\n${md}`);
  log(`results written to ${path.relative(repoRoot, dir)}/latest.md, ratios.svg, latest.json`);
  if (isPartial) return;
  const readmeFile = path.join(repoRoot, 'README.md');
  const readme = await readFile(readmeFile, 'utf8');
  const block = [summaryLine(info), '', `Machine: ${info.machine}.`, '', targetsTable(TARGETS, ctx.rows)].join('\n');
  const updated = replaceReadmeBlock(readme, block);
  if (updated) {
    await writeFile(readmeFile, await format(updated, prettier));
    log('README benchmark block updated');
  }
}

/** Summaries of the server's main-thread profile: whole life, then each measured phase alone. */
async function writeProfileSummary(dir: string, marks: readonly Mark[]): Promise<void> {
  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread.
  const files = (await readdir(dir).catch(() => [])).filter((f) => /\.0\.\d+\.cpuprofile$/.test(f));
  const phases = [...new Set(marks.map((m) => m.name))];
  for (const f of files) {
    const file = path.join(dir, f);
    const parts = [profileText(await summarizeProfile(file), `sync server, whole run (${f})`)];
    for (const phase of phases) {
      const windows = marks.filter((m) => m.name === phase);
      parts.push(profileText(await summarizeProfile(file, windows), `sync server during "${phase}"`));
      if (pgWaits) parts.push(pgWaits(windows), '');
    }
    const text = parts.join('\n');
    await writeFile(path.join(dir, `${f}.txt`), text);
    console.log(`\n${text}`);
  }
  log(`CPU profiles and their summaries in ${path.relative(repoRoot, dir)}`);
}

await main();
