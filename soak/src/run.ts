/**
 * One soak run: the stack (private PostgreSQL, Swift S3, RabbitMQ, two sync-server processes,
 * the Patient and Doctor Service stand-ins), a fault-injecting proxy per device and one in front
 * of the broker, the fleet of devices (fleet.process.ts), the scheduled faults, then the checks.
 */
import { fork } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteBucketCommand, DeleteObjectsCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { connect } from 'amqplib';
import pg from 'pg';
import { freePort } from '@xray/testkit';
import { startDevDoctorService, type DevDoctorService } from '../../apps/sync-server/src/dev/doctor-service.ts';
import {
  startDevPatientService,
  SEED_PATIENTS,
  type DevPatientService,
} from '../../apps/sync-server/src/dev/patient-service.ts';
import { classifyKey } from '../../apps/sync-server/src/xrays/xray-record.ts';
import { judge, missedTampering, type Check, type Evidence, type Tampering } from './checks.ts';
import { tamper } from './tamper.ts';
import { CLEAN_LINK, FaultProxy, type LinkProfile } from './fault-proxy.ts';
import type { DeviceSample, FleetCommand, FleetReport } from './fleet.protocol.ts';
import { Rng } from './rng.ts';
import {
  amqpUrl,
  createBucket,
  runAdmin,
  s3Client,
  s3Env,
  sharedKeys,
  snapshotServer,
  startDatabase,
  syncInstance,
  type SyncInstance,
} from './stack.ts';

export interface SoakOptions {
  /** How long devices capture (the faults are spread over it); the drain and checks come after. */
  durationMs: number;
  devices: number;
  minBytes: number;
  maxBytes: number;
  /** Mean time between two captures of one device. */
  meanCaptureIntervalMs: number;
  urgentShare: number;
  seed: number;
  /** Download every X-ray and compare its sha256 (else only the server's recorded sha256 is compared). */
  downloadAll: boolean;
  /** Longest wait for the queues to empty after the capture phase. */
  drainTimeoutMs: number;
  /** TUS_EXPIRY_MS of the servers: the leftovers check waits this long (plus a sweep) after the drain. */
  tusExpiryMs: number;
  /**
   * After the checks, put real faults into the stack (src/tamper.ts: a row deleted, an X-ray
   * stored twice, a sha256 and a stored byte altered, an event lost, one marked delivered and never
   * sent, an audit event edited, a stray object) and check again: `tampered` in the result says
   * whether each was seen. The run's own verdict (`ok`) is the one before.
   */
  tamper?: boolean;
  log: (line: string) => void;
}

export interface FaultRecord {
  at: number;
  until?: number;
  name: string;
  detail?: string;
}

export interface CaptureLedger {
  id: string;
  device: string;
  sha256: string;
  priority: 'urgent' | 'routine';
  sizeBytes: number;
  ciphertextSize: number;
  createdAt: number;
  syncedAt?: number;
}

export interface TimelinePoint {
  /** ms since the run started */
  t: number;
  queueDepth: number;
  devicesOnline: number;
  devicesRunning: number;
  /** bytes per second up through the device proxies in the last interval */
  upBytesPerS: number;
  synced: number;
}

export interface SoakResult {
  options: Omit<SoakOptions, 'log'>;
  startedAt: string;
  wallMs: number;
  captureMs: number;
  drainMs: number;
  checks: Check[];
  ok: boolean;
  faults: FaultRecord[];
  timeline: TimelinePoint[];
  figures: {
    captures: number;
    urgent: number;
    payloadBytes: number;
    ciphertextBytes: number;
    wireBytesUp: number;
    /** What the devices sent, as it reached their proxies: wireBytesUp plus what link faults threw away. */
    wireBytesSent?: number;
    wireBytesDown: number;
    proxy: { connections: number; resets: number; blackholes: number; halfCloses: number; refused: number };
    peakRss: Record<string, number>;
    drainMs: number[];
    waitMs: { urgent: number[]; routine: number[] };
    events: {
      expected: number;
      webhookDeliveries: number;
      webhookDuplicates: number;
      amqpDeliveries: number;
      amqpDuplicates: number;
    };
    restarts: Record<string, number>;
    kills: number;
    offlinePeriods: number;
    needsAttention: number;
    /** Failed upload attempts the devices recorded, by kind (network, stalled, HTTP status). */
    failedAttempts: Record<string, number>;
  };
  notes: string[];
  /** With `tamper`: what was done, the checks after it, and what they did not see (must be empty). */
  tampered?: { applied: Tampering[]; checks: Check[]; missed: string[] };
}

/** Per-device link quality: LTE in an ambulance, from decent to bad. */
function deviceLink(rng: Rng): LinkProfile {
  return {
    latencyMs: rng.int(20, 150),
    jitterMs: rng.int(5, 60),
    bytesPerSecond: rng.int(1, 6) * 512 * 1024,
    resetChance: 0.03,
    blackholeChance: 0.01,
    halfCloseChance: 0.02,
    faultWithinMs: 20_000,
  };
}

const EXCHANGE_PREFIX = 'xray.soak.';

export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const log = opts.log;
  const rng = new Rng(opts.seed);
  const started = Date.now();
  const t = (): number => Date.now() - started;
  const dir = await mkdtemp(path.join(tmpdir(), 'xray-soak-'));
  await chmod(dir, 0o755); // the embedded PostgreSQL runs as the postgres user when we are root
  const logDir = path.join(dir, 'logs');
  await mkdir(logDir, { recursive: true });
  log(
    `soak: ${opts.devices} devices, ${Math.round(opts.durationMs / 1000)} s of captures, ${fmtMB(opts.minBytes)}–${fmtMB(opts.maxBytes)}; logs in ${logDir}`,
  );

  const cleanups: (() => Promise<unknown>)[] = [];
  const faults: FaultRecord[] = [];
  const notes: string[] = [];
  const fault = (name: string, detail?: string): FaultRecord => {
    const f: FaultRecord = { at: t(), name, ...(detail ? { detail } : {}) };
    faults.push(f);
    log(`  [${(f.at / 1000).toFixed(0)} s] fault: ${name}${detail ? ` (${detail})` : ''}`);
    return f;
  };

  try {
    // --- the stack -------------------------------------------------------------------------------
    const s3 = await s3Env();
    const bucket = await createBucket(s3);
    cleanups.push(() => emptyAndDeleteBucket(s3, bucket));
    const brokerUrl = await amqpUrl();
    const db = await startDatabase(path.join(dir, 'postgres'));
    cleanups.push(() => db.stop());

    const secret = randomBytes(32).toString('base64url');
    const doctor: DevDoctorService = await startDevDoctorService({ port: 0, secret });
    cleanups.push(() => doctor.stop());
    const patientPort = await freePort();
    let patients: DevPatientService | undefined = await startDevPatientService({ port: patientPort });
    cleanups.push(async () => patients?.stop());

    // The broker behind a proxy of its own: a "RabbitMQ restart" resets the servers' AMQP
    // connections and refuses new ones for a while; the machine's shared broker is left alone.
    const broker = new URL(brokerUrl);
    const amqpProxy = new FaultProxy({
      name: 'amqp',
      upstreams: () => [{ host: broker.hostname, port: Number(broker.port || 5672) }],
      profile: () => CLEAN_LINK,
    });
    await amqpProxy.listen();
    cleanups.push(() => amqpProxy.close());
    const proxiedAmqp = new URL(brokerUrl);
    proxiedAmqp.hostname = '127.0.0.1';
    proxiedAmqp.port = String(amqpProxy.port);
    const exchange = `${EXCHANGE_PREFIX}${randomBytes(6).toString('hex')}`;

    // Our own consumer, straight to the broker: every event id that reached RabbitMQ.
    const amqpSeen = new Map<string, number>();
    const amqpConn = await connect(brokerUrl);
    cleanups.push(async () => {
      const ch = await amqpConn.createChannel();
      await ch.deleteExchange(exchange).catch(() => undefined);
      await amqpConn.close();
    });
    const amqpCh = await amqpConn.createChannel();
    await amqpCh.assertExchange(exchange, 'topic', { durable: true });
    const q = await amqpCh.assertQueue('', { exclusive: true, autoDelete: true });
    await amqpCh.bindQueue(q.queue, exchange, '#');
    await amqpCh.consume(
      q.queue,
      (msg) => {
        if (!msg) return;
        const id = msg.properties.messageId as string | undefined;
        if (id) amqpSeen.set(id, (amqpSeen.get(id) ?? 0) + 1);
      },
      { noAck: true },
    );

    const serverEnv: Record<string, string> = {
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      // The soak is about transport and storage; tokens are covered by the auth tests. One local
      // user for all devices, so the per-user caps are raised to what 40 ambulances would have.
      AUTH_DISABLED: 'true',
      UPLOAD_MAX_PATCHES_PER_USER: '256',
      UPLOAD_MAX_OPEN_PER_USER: '4096',
      UPLOAD_MAX_RESERVED_BYTES_PER_USER: String(4 * 1024 * 1024 * 1024),
      DATA_DIR: path.join(dir, 'server-data'),
      DATABASE_URL: db.url,
      ...s3,
      S3_BUCKET: bucket,
      S3_CREATE_BUCKET: 'false',
      S3_CHECKSUMS_WHEN_REQUIRED: 'true',
      S3_PART_SIZE: String(5 * 1024 * 1024),
      ...sharedKeys(),
      PATIENT_SERVICE_URL: `http://127.0.0.1:${patientPort}`,
      DOCTOR_SERVICE_URL: doctor.webhookUrl,
      WEBHOOK_SECRET: secret,
      AMQP_URL: proxiedAmqp.toString(),
      AMQP_EXCHANGE: exchange,
      TUS_EXPIRY_MS: String(opts.tusExpiryMs),
      TUS_CLEANUP_INTERVAL_MS: String(Math.max(5_000, Math.floor(opts.tusExpiryMs / 4))),
      LINK_RECHECK_INTERVAL_MS: '5000',
      // Signed audit checkpoints during the run, so verify-audit checks the chain against them.
      AUDIT_CHECKPOINT_INTERVAL_MS: '20000',
      OUTBOX_BACKOFF_MAX_MS: '15000',
    };
    const code = await snapshotServer(path.join(dir, 'code'));
    const instances: SyncInstance[] = [
      await syncInstance('sync-a', serverEnv, logDir, code.serverMain),
      await syncInstance('sync-b', serverEnv, logDir, code.serverMain),
    ];
    for (const i of instances) {
      await i.start();
      cleanups.push(() => i.kill('SIGTERM'));
    }
    log(`  servers on :${instances.map((i) => i.port).join(', :')}; PostgreSQL :${db.port}; bucket ${bucket}`);

    // --- devices and their links -------------------------------------------------------------
    let rr = 0;
    const balancer = (): { host: string; port: number }[] => {
      const order = instances.map((i) => ({ host: '127.0.0.1', port: i.port }));
      rr = (rr + 1) % order.length;
      return [...order.slice(rr), ...order.slice(0, rr)];
    };
    let upBytesWindow = 0;
    const names = Array.from({ length: opts.devices }, (_, i) => `amb-${String(i + 1).padStart(2, '0')}`);
    const links = new Map<string, FaultProxy>();
    for (const name of names) {
      const profile = deviceLink(rng);
      const linkRng = rng.fork();
      const proxy = new FaultProxy({
        name,
        upstreams: balancer,
        profile: () => profile,
        random: () => linkRng.next(),
        onBytes: (dir, n) => {
          if (dir === 'up') upBytesWindow += n;
        },
      });
      await proxy.listen();
      links.set(name, proxy);
      cleanups.push(() => proxy.close());
    }

    const fleet = fork(path.join(import.meta.dirname, 'fleet.process.ts'), [], {
      execArgv: ['--import', 'tsx', '--max-old-space-size=8192'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      cwd: path.join(import.meta.dirname, '..'),
    });
    cleanups.push(async () => {
      if (fleet.exitCode === null) fleet.kill('SIGKILL');
    });
    const ledger = new Map<string, CaptureLedger>();
    const dupCaptureIds: string[] = [];
    const attention: string[] = [];
    const fleetErrors: string[] = [];
    const drainMs: number[] = [];
    const timeline: TimelinePoint[] = [];
    let lastSampleAt = Date.now();
    let lastDepth = Number.POSITIVE_INFINITY;
    let lastSample: DeviceSample[] = [];
    const busyDevices = (): string =>
      lastSample
        .filter((d) => d.depth > 0)
        .map(
          (d) =>
            `${d.device} ${d.running ? (d.online ? 'online' : 'offline') : 'killed'} ${d.state ?? ''} ${JSON.stringify(d.statuses ?? {})}${d.lastError ? ` last error: ${d.lastError}` : ''}`,
        )
        .join('\n    ');
    let finished:
      ((m: { errors: string[]; errorCounts: Record<string, number>; unhandled: number }) => void) | undefined;
    let ready: (() => void) | undefined;
    const readyP = new Promise<void>((r) => (ready = r));
    const pendingCaptures = new Set<Promise<void>>();
    const captureWaiters = new Map<string, () => void>();
    fleet.on('message', (m: FleetReport) => {
      switch (m.ev) {
        case 'ready':
          ready?.();
          break;
        case 'captured':
          if (ledger.has(m.id)) dupCaptureIds.push(m.id);
          if (m.sha256 !== m.edgeSha256) fleetErrors.push(`capture ${m.id}: edge sha256 ${m.edgeSha256} ≠ ${m.sha256}`);
          ledger.set(m.id, {
            id: m.id,
            device: m.device,
            sha256: m.sha256,
            priority: m.priority,
            sizeBytes: m.sizeBytes,
            ciphertextSize: m.ciphertextSize,
            createdAt: m.at,
          });
          captureWaiters.get(`${m.device}#${m.seq}`)?.();
          break;
        case 'capture-failed':
          captureWaiters.get(`${m.device}#${m.seq}`)?.();
          break;
        case 'synced': {
          const c = ledger.get(m.id);
          if (c) {
            c.syncedAt = m.syncedAt;
            c.createdAt = m.createdAt;
          }
          break;
        }
        case 'attention':
          attention.push(`${m.device} ${m.id}: ${m.error}`);
          log(`  needs-attention: ${m.device} ${m.id}: ${m.error}`);
          break;
        case 'drained':
          drainMs.push(m.ms);
          break;
        case 'sample': {
          const now = Date.now();
          lastSample = m.devices;
          const depth = m.devices.reduce((s, d) => s + d.depth, 0);
          lastDepth = depth;
          timeline.push({
            t: now - started,
            queueDepth: depth,
            devicesOnline: m.devices.filter((d) => d.online && d.running).length,
            devicesRunning: m.devices.filter((d) => d.running).length,
            upBytesPerS: (upBytesWindow * 1000) / Math.max(1, now - lastSampleAt),
            synced: [...ledger.values()].filter((c) => c.syncedAt !== undefined).length,
          });
          upBytesWindow = 0;
          lastSampleAt = now;
          break;
        }
        case 'finished':
          finished?.(m);
          break;
        case 'error':
          fleetErrors.push(m.message);
          log(`  fleet error: ${m.message.split('\n')[0]}`);
          break;
      }
    });
    let fleetGone: string | undefined;
    fleet.once('exit', (code, signal) => {
      fleetGone = `the fleet process exited (${code ?? signal})`;
      for (const w of captureWaiters.values()) w();
    });
    fleet.on('error', (err) => fleetErrors.push(`fleet process: ${err.message}`));
    const tell = (c: FleetCommand): void => {
      if (fleet.connected) fleet.send(c);
    };
    tell({
      op: 'init',
      devices: names.map((name) => ({ name, apiBase: links.get(name)!.url })),
      settings: {
        concurrency: 2,
        chunkSize: 5 * 1024 * 1024,
        retentionMs: 30_000,
        retry: { baseDelayMs: 500, maxDelayMs: 20_000 },
        sampleMs: 1000,
      },
    });
    await Promise.race([
      readyP,
      new Promise((_, reject) => fleet.once('exit', (code) => reject(new Error(`fleet exited (${code})`)))),
    ]);
    log(`  fleet ready at ${(t() / 1000).toFixed(0)} s`);

    // --- the capture phase: device behaviour and scheduled faults -----------------------------
    const captureStart = Date.now();
    const captureEnd = captureStart + opts.durationMs;
    const deviceState = new Map(
      names.map((n) => [n, { online: true, running: true, seq: 0, capturing: Promise.resolve() as Promise<void> }]),
    );
    let kills = 0;
    let offlinePeriods = 0;

    // Three independent behaviours per device: it captures (online or not), its network comes
    // and goes, and now and then the app is killed and restarted.
    const until = async (ms: number): Promise<boolean> => {
      const left = captureEnd - Date.now();
      await sleep(Math.max(0, Math.min(ms, left)));
      return Date.now() < captureEnd && fleetGone === undefined;
    };
    const captureLoop = async (name: string, drng: Rng): Promise<void> => {
      const st = deviceState.get(name)!;
      while (await until(drng.exp(opts.meanCaptureIntervalMs))) {
        if (!st.running) continue;
        const seq = ++st.seq;
        const captured = new Promise<void>((resolve) => captureWaiters.set(`${name}#${seq}`, resolve));
        tell({
          op: 'capture',
          device: name,
          seq,
          sizeBytes: drng.int(opts.minBytes, opts.maxBytes),
          priority: drng.next() < opts.urgentShare ? 'urgent' : 'routine',
          seed: (opts.seed * 7919 + names.indexOf(name) * 100_000 + seq) % 2 ** 31,
          patientId: SEED_PATIENTS[drng.int(0, SEED_PATIENTS.length - 1)]!.id,
        });
        // The next capture comes after this one is stored (one X-ray machine per ambulance).
        const p = captured;
        pendingCaptures.add(p);
        st.capturing = p;
        await p;
        pendingCaptures.delete(p);
      }
    };
    const networkLoop = async (name: string, drng: Rng): Promise<void> => {
      const st = deviceState.get(name)!;
      const link = links.get(name)!;
      // The first device always loses its network a third into the run (every run has it).
      let wait = names.indexOf(name) === 0 ? opts.durationMs * 0.3 : drng.exp(opts.durationMs / 3);
      while (await until(wait)) {
        wait = drng.exp(opts.durationMs / 3);
        // Offline for a while: either the OS says so (the engine stops and waits), or a dead
        // zone the device does not notice (connections fail; the engine retries).
        offlinePeriods++;
        const silent = drng.next() < 0.4;
        link.setDown(true);
        tell({ op: 'link', device: name, up: false });
        if (!silent) tell({ op: 'net', device: name, online: false });
        st.online = false;
        await sleep(Math.min(drng.int(5_000, 60_000), Math.max(1000, captureEnd - Date.now())));
        link.setDown(false);
        tell({ op: 'link', device: name, up: true });
        tell({ op: 'net', device: name, online: true });
        st.online = true;
      }
    };
    const killLoop = async (name: string, drng: Rng): Promise<void> => {
      const st = deviceState.get(name)!;
      const link = links.get(name)!;
      // The second device is always killed halfway (every run has it).
      let wait = names.indexOf(name) === 1 % names.length ? opts.durationMs * 0.5 : drng.exp(opts.durationMs / 2);
      while (await until(wait)) {
        wait = drng.exp(opts.durationMs / 2);
        // Killed: the app process dies (the OS resets its connections), and is restarted later.
        // Not in the middle of taking a capture: one not yet stored was never the device's to lose.
        st.running = false;
        await st.capturing;
        kills++;
        link.resetAll();
        tell({ op: 'kill', device: name });
        await sleep(drng.int(2_000, 20_000));
        tell({ op: 'boot', device: name });
        st.running = true;
      }
    };
    const deviceLoop = async (name: string): Promise<void> => {
      await Promise.all([captureLoop(name, rng.fork()), networkLoop(name, rng.fork()), killLoop(name, rng.fork())]);
    };

    const [a, b] = instances as [SyncInstance, SyncInstance];
    const schedule: { frac: number; run: () => Promise<void> }[] = [
      {
        frac: 0.12,
        run: async () => {
          const f = fault('webhook answers 500', 'Doctor Service stand-in');
          doctor.failAlways(500);
          await sleep(Math.min(60_000, opts.durationMs * 0.1));
          doctor.failAlways(null);
          f.until = t();
        },
      },
      {
        frac: 0.22,
        run: async () => {
          const f = fault('sync server killed (SIGKILL)', b.name);
          await b.kill('SIGKILL');
          await sleep(5_000);
          await b.start();
          b.restarts++;
          f.until = t();
        },
      },
      {
        frac: 0.34,
        run: async () => {
          const n = await db.terminateBackends();
          fault('PostgreSQL backends terminated', `${n} backends`);
        },
      },
      {
        frac: 0.44,
        run: async () => {
          const f = fault('RabbitMQ restart', 'connections reset, refused for 15 s');
          amqpProxy.setDown(true);
          await sleep(15_000);
          amqpProxy.setDown(false);
          f.until = t();
        },
      },
      {
        frac: 0.54,
        run: async () => {
          const f = fault('Patient Service down');
          await patients?.stop();
          patients = undefined;
          await sleep(Math.min(60_000, opts.durationMs * 0.1));
          patients = await startDevPatientService({ port: patientPort });
          f.until = t();
        },
      },
      {
        frac: 0.66,
        run: async () => {
          const f = fault('PostgreSQL restarted', 'stopped, down 5 s, started');
          await db.restart(5_000);
          f.until = t();
        },
      },
      {
        frac: 0.78,
        run: async () => {
          const f = fault('sync server killed (SIGKILL)', a.name);
          await a.kill('SIGKILL');
          await sleep(5_000);
          await a.start();
          a.restarts++;
          f.until = t();
        },
      },
    ];
    // Long runs repeat the schedule every 10 minutes.
    const cycleMs = Math.min(opts.durationMs, 10 * 60_000);
    const faultRuns: Promise<void>[] = [];
    for (let c = 0; c * cycleMs < opts.durationMs; c++)
      for (const s of schedule) {
        const at = captureStart + c * cycleMs + s.frac * cycleMs;
        if (at > captureEnd) continue;
        faultRuns.push(
          sleep(at - Date.now()).then(() =>
            s.run().catch((err: unknown) => {
              notes.push(`fault runner failed: ${String(err)}`);
              log(`  fault runner failed: ${String(err)}`);
            }),
          ),
        );
      }
    const rssTimer = setInterval(() => void Promise.all(instances.map((i) => i.sampleRss())), 2_000);
    cleanups.push(async () => clearInterval(rssTimer));
    const progress = setInterval(() => {
      const synced = [...ledger.values()].filter((c) => c.syncedAt !== undefined).length;
      log(`  [${(t() / 1000).toFixed(0)} s] captured ${ledger.size}, synced ${synced}, queued ${lastDepth}`);
    }, 30_000);
    cleanups.push(async () => clearInterval(progress));

    await Promise.all(names.map((n) => deviceLoop(n)));
    await Promise.all(faultRuns);
    await Promise.all([...pendingCaptures]);
    const captureMs = Date.now() - captureStart;
    log(`  capture phase over at ${(t() / 1000).toFixed(0)} s: ${ledger.size} captures; draining`);

    // --- drain: every device on and online, the link faults stay --------------------------------
    const drainStart = Date.now();
    let drained = true;
    for (const name of names) {
      const st = deviceState.get(name)!;
      links.get(name)!.setDown(false);
      tell({ op: 'link', device: name, up: true });
      if (!st.running) tell({ op: 'boot', device: name });
      tell({ op: 'net', device: name, online: true });
    }
    let lastReport = Date.now();
    for (;;) {
      await sleep(1000);
      const synced = [...ledger.values()].filter((c) => c.syncedAt !== undefined).length;
      if (synced + attention.length >= ledger.size && lastDepth === 0) break;
      if (fleetGone) {
        notes.push(fleetGone);
        drained = false;
        break;
      }
      if (Date.now() - lastReport > 60_000) {
        lastReport = Date.now();
        log(`  still queued:\n    ${busyDevices()}`);
      }
      if (Date.now() - drainStart > opts.drainTimeoutMs) {
        notes.push(`queues not empty after ${opts.drainTimeoutMs / 1000} s of draining: ${lastDepth} left`);
        log(`  not drained:\n    ${busyDevices()}`);
        drained = false;
        break;
      }
    }
    const drainDoneMs = Date.now() - drainStart;
    log(`  drained in ${(drainDoneMs / 1000).toFixed(0)} s`);
    const {
      errors: fleetErrorsTail,
      errorCounts,
      unhandled,
    } = await new Promise<{
      errors: string[];
      errorCounts: Record<string, number>;
      unhandled: number;
    }>((resolve) => {
      finished = resolve;
      tell({ op: 'finish' });
      setTimeout(() => resolve({ errors: ['(fleet did not finish)'], errorCounts: {}, unhandled: 0 }), 60_000);
    });
    if (fleetGone) fleetErrors.push(fleetGone);
    if (unhandled > 0)
      notes.push(
        `${unhandled} unhandled promise rejections in the fleet (logged and ignored, as a browser does; after a kill the old engine's writes to its closed database end this way)`,
      );
    fleet.kill('SIGTERM');

    // --- events: wait for the outbox to be delivered -------------------------------------------
    const pool = new pg.Pool({ connectionString: db.url, max: 2 });
    cleanups.push(() => pool.end());
    const outboxDeadline = Date.now() + 180_000;
    let undelivered = -1;
    while (Date.now() < outboxDeadline) {
      const { rows } = await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM outbox_deliveries WHERE state <> 'delivered'`,
      );
      undelivered = rows[0]?.n ?? 0;
      if (undelivered === 0) break;
      await sleep(2000);
    }
    await sleep(2000); // the last AMQP messages reach our consumer

    // --- leftovers: wait for the expiry sweep ------------------------------------------------------
    const sweepDeadline = Date.now() + opts.tusExpiryMs + Math.max(5_000, opts.tusExpiryMs / 4) * 2 + 30_000;
    const s3c = s3Client(s3);
    const leftoversNow = async (): Promise<Evidence['leftovers']> => {
      const uploadRows =
        (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM tus_uploads WHERE finalized_at IS NULL`))
          .rows[0]?.n ?? 0;
      const multipartUploads =
        (await s3c.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads?.length ?? 0;
      const keys = await listKeys(s3, bucket);
      const known = new Set(
        (await pool.query<{ object_key: string }>('SELECT object_key FROM xrays')).rows.map((r) => r.object_key),
      );
      // An X-ray's object has its recovery record (and, once deleted, a tombstone) beside it.
      const strayObjects = keys.filter(
        (k) => !k.startsWith('audit-checkpoints/') && !known.has(classifyKey(k).objectKey),
      );
      return { uploadRows, multipartUploads, strayObjects };
    };
    let leftovers: Evidence['leftovers'];
    for (;;) {
      leftovers = await leftoversNow();
      const clean = leftovers.uploadRows === 0 && leftovers.multipartUploads === 0 && !leftovers.strayObjects.length;
      if (clean || Date.now() > sweepDeadline) break;
      await sleep(5_000);
    }

    // --- the checks -----------------------------------------------------------------------------
    // Everything read from the run's own database, bucket, sinks and devices' ledger; gathered
    // again after `tamper` to show the checks see the faults it puts in.
    const gather = async (lefts: Evidence['leftovers']): Promise<Evidence> => {
      const stored = (await pool.query<{ id: string; sha256: string }>('SELECT id, sha256 FROM xrays')).rows;
      let downloads: Map<string, string> | undefined;
      if (opts.downloadAll) {
        downloads = new Map();
        for (const [n, row] of stored.entries()) {
          const inst = instances[n % instances.length]!;
          downloads.set(
            row.id,
            await downloadSha(`http://127.0.0.1:${inst.port}`, row.id).catch((err: unknown) => `error ${String(err)}`),
          );
        }
      }
      const events = (
        await pool.query<{ id: string; type: string; xray_id: string | null }>(
          'SELECT id, type, xray_id FROM outbox_events',
        )
      ).rows.map((r) => ({ id: r.id, type: r.type, xrayId: r.xray_id }));
      const hooks = new Map<string, number>();
      for (const r of doctor.requests())
        if (r.eventId && r.signature.valid && r.status >= 200 && r.status < 300)
          hooks.set(r.eventId, (hooks.get(r.eventId) ?? 0) + 1);
      const auditCreated = (
        await pool.query<{ xray_id: string | null; sha256: string | null }>(
          `SELECT xray_id, details->>'sha256' AS sha256 FROM audit_events
            WHERE action = 'xray.create' AND outcome = 'success' AND details->>'created' = 'true'`,
        )
      ).rows.map((r) => ({ xrayId: r.xray_id, sha256: r.sha256 }));
      const audit = await runAdmin(['verify-audit'], serverEnv, code.adminMain);
      return {
        captured: [...ledger.values()],
        duplicateCaptureIds: dupCaptureIds,
        stored,
        ...(downloads ? { downloads } : {}),
        needsAttention: attention,
        fleetErrors,
        events,
        undelivered,
        webhook: hooks,
        amqp: new Map(amqpSeen),
        audit: { exitCode: audit.code, output: audit.stdout || audit.stderr },
        auditCreated,
        leftovers: lefts,
        ...(drained ? {} : { notDrained: lastDepth }),
      };
    };
    const evidence = await gather(leftovers);
    const { events, webhook: hooks } = evidence;
    const checks = judge(evidence);
    for (const c of checks) log(`  ${c.ok ? '✓' : '✗'} ${c.name}: ${c.detail}`);
    let tampered: SoakResult['tampered'];
    if (opts.tamper) {
      log('  tampering with the stack (soak/src/tamper.ts), then the checks again: they must fail');
      const applied = await tamper({ pool, s3: s3c, bucket });
      for (const a of applied) log(`    ${a.name}`);
      const again = judge(await gather(await leftoversNow()));
      for (const c of again) log(`  ${c.ok ? '✓' : '✗'} ${c.name}: ${c.detail}`);
      tampered = { applied, checks: again, missed: missedTampering(applied, again) };
      if (tampered.missed.length) log(`  tampering NOT seen by the checks: ${tampered.missed.join('; ')}`);
    }
    for (const i of instances) await i.sampleRss();

    const totals = [...links.values()].reduce(
      (s, p) => ({
        connections: s.connections + p.stats.connections,
        resets: s.resets + p.stats.resets,
        blackholes: s.blackholes + p.stats.blackholes,
        halfCloses: s.halfCloses + p.stats.halfCloses,
        refused: s.refused + p.stats.refused,
        up: s.up + p.stats.bytesUp,
        sent: s.sent + p.stats.bytesSent,
        down: s.down + p.stats.bytesDown,
      }),
      { connections: 0, resets: 0, blackholes: 0, halfCloses: 0, refused: 0, up: 0, sent: 0, down: 0 },
    );
    const captures = [...ledger.values()];
    const wait = (p: 'urgent' | 'routine'): number[] =>
      captures.filter((c) => c.priority === p && c.syncedAt !== undefined).map((c) => c.syncedAt! - c.createdAt);
    if (fleetErrorsTail.length) notes.push(`last engine log lines: ${fleetErrorsTail.slice(-5).join(' | ')}`);
    const { log: _log, ...options } = opts;
    const result: SoakResult = {
      options,
      startedAt: new Date(started).toISOString(),
      wallMs: Date.now() - started,
      captureMs,
      drainMs: drainDoneMs,
      checks,
      ok: checks.every((c) => c.ok),
      ...(tampered ? { tampered } : {}),
      faults,
      timeline,
      figures: {
        captures: captures.length,
        urgent: captures.filter((c) => c.priority === 'urgent').length,
        payloadBytes: captures.reduce((s, c) => s + c.sizeBytes, 0),
        ciphertextBytes: captures.reduce((s, c) => s + c.ciphertextSize, 0),
        wireBytesUp: totals.up,
        wireBytesSent: totals.sent,
        wireBytesDown: totals.down,
        proxy: {
          connections: totals.connections,
          resets: totals.resets,
          blackholes: totals.blackholes,
          halfCloses: totals.halfCloses,
          refused: totals.refused,
        },
        peakRss: Object.fromEntries(instances.map((i) => [i.name, i.peakRss])),
        drainMs,
        waitMs: { urgent: wait('urgent'), routine: wait('routine') },
        events: {
          expected: events.length,
          webhookDeliveries: [...hooks.values()].reduce((s, n) => s + n, 0),
          webhookDuplicates: sumDup(hooks),
          amqpDeliveries: [...amqpSeen.values()].reduce((s, n) => s + n, 0),
          amqpDuplicates: sumDup(amqpSeen),
        },
        restarts: Object.fromEntries(instances.map((i) => [i.name, i.restarts])),
        kills,
        offlinePeriods,
        needsAttention: attention.length,
        failedAttempts: errorCounts,
      },
      notes,
    };
    return result;
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    if (process.env.SOAK_KEEP_LOGS !== '1') await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

const sumDup = (m: ReadonlyMap<string, number>): number => [...m.values()].reduce((s, n) => s + Math.max(0, n - 1), 0);
const fmtMB = (b: number): string => `${(b / 1e6).toFixed(0)} MB`;

async function downloadSha(base: string, id: string): Promise<string> {
  const res = await fetch(`${base}/xrays/${id}/download`);
  if (res.status !== 200) return `HTTP ${res.status}`;
  const hash = createHash('sha256');
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) hash.update(chunk);
  return hash.digest('hex');
}

async function listKeys(env: Parameters<typeof s3Client>[0], bucket: string): Promise<string[]> {
  const client = s3Client(env);
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const res = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of res.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = res.IsTruncated ? res.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

async function emptyAndDeleteBucket(env: Parameters<typeof s3Client>[0], bucket: string): Promise<void> {
  const client = s3Client(env);
  const keys = await listKeys(env, bucket);
  for (let i = 0; i < keys.length; i += 500)
    await client.send(
      new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.slice(i, i + 500).map((Key) => ({ Key })) } }),
    );
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
}
