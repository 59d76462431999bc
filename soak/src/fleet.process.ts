/**
 * The fleet: every simulated device of a soak run, in one Node process of its own (so its CPU
 * work — making DICOMs, encrypting, IndexedDB — does not slow the proxy that measures the wire).
 * Each device is the edge app's own code — EdgeDb (Dexie) on fake-indexeddb, the capture service,
 * the SyncEngine with the real tus uploader, server-key provider and X-ray API (edge-device.ts) —
 * with a network monitor the run flips per device.
 *
 * A device "killed" is torn down abruptly: its IndexedDB connection is closed under the running
 * engine (every later write of that engine fails, as in a dead process; the orchestrator resets
 * its TCP connections at the same moment), nothing is awaited or cleaned up. A "restarted" device
 * is a new engine on the same fake-indexeddb database, which lives in this process's memory: the
 * queue, the ciphertext and tus's resume URLs survive the kill, as IndexedDB on disk does.
 *
 * Driven over IPC by the orchestrator (run.ts): see FleetCommand and FleetReport.
 */
import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import { makeDicom } from '@xray/testkit';
import { DrainClock } from './drain-clock.ts';
import { FlippableNetwork, openEdgeDevice, type EdgeDevice } from './edge-device.ts';
import type { FleetCommand, FleetReport, DeviceSample } from './fleet.protocol.ts';

type Running = EdgeDevice;

let settings: Extract<FleetCommand, { op: 'init' }>['settings'];
/** Failed attempts seen (a capture's lastError as the engine recorded it), by kind. */
const errorCounts: Record<string, number> = {};
const seenErrors = new Set<string>();
const send = (report: FleetReport): void => {
  process.send?.(report);
};

class Device {
  readonly network = new FlippableNetwork();
  running: Running | undefined;
  booting: Promise<void> | undefined;
  /** Captures already reported synced. */
  readonly reported = new Set<string>();
  /** Online → queue empty (the drain time). */
  readonly clock = new DrainClock();
  lastDepth = 0;

  constructor(
    readonly name: string,
    readonly apiBase: string,
  ) {}

  boot(): Promise<void> {
    this.booting = (async () => {
      const { db, engine, capture } = await openEdgeDevice({
        dbName: `soak-${this.name}`,
        apiBase: this.apiBase,
        network: this.network,
        deviceId: this.name,
        options: {
          concurrency: settings.concurrency,
          chunkSize: settings.chunkSize,
          retentionMs: settings.retentionMs,
          retry: settings.retry,
          tokenPollMs: 1_000,
        },
      });
      this.running = { db, engine, capture };
      await engine.start();
    })();
    return this.booting;
  }

  /** Abrupt: the IndexedDB connection closes under the engine; nothing is awaited. */
  kill(): void {
    const r = this.running;
    this.running = undefined;
    if (!r) return;
    r.db.close();
  }

  async capture(c: Extract<FleetCommand, { op: 'capture' }>): Promise<void> {
    await this.booting;
    const r = this.running;
    if (!r) throw new Error(`${this.name} is not running`);
    const { rows, columns } = dims(c.sizeBytes);
    const bytes = makeDicom({ rows, columns, seed: c.seed, patientId: c.patientId, bodyPart: 'CHEST', view: 'PA' });
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const started = Date.now();
    const result = await r.capture(new Blob([new Uint8Array(bytes)]), {
      patientId: c.patientId,
      priority: c.priority,
      bodyPart: 'CHEST',
      view: 'PA',
      capturedAt: new Date().toISOString(),
      deviceId: this.name,
    });
    send({
      ev: 'captured',
      device: this.name,
      seq: c.seq,
      id: result.id,
      sha256,
      edgeSha256: result.sha256,
      priority: c.priority,
      sizeBytes: bytes.length,
      ciphertextSize: result.ciphertextSize,
      at: Date.now(),
      ms: Date.now() - started,
    });
  }

  async sample(now: number): Promise<DeviceSample | undefined> {
    const r = this.running;
    if (!r) return { device: this.name, depth: this.lastDepth, running: false, online: this.network.online };
    try {
      const captures = await r.db.captures.toArray();
      let depth = 0;
      const statuses: Record<string, number> = {};
      for (const c of captures) {
        if (c.status !== 'synced') statuses[c.status] = (statuses[c.status] ?? 0) + 1;
        const e = c.lastError;
        if (e && !seenErrors.has(`${c.id}@${e.at}`)) {
          seenErrors.add(`${c.id}@${e.at}`);
          const kind = e.status ? `HTTP ${e.status}${e.code ? ` ${e.code}` : ''}` : (e.code ?? 'other');
          errorCounts[kind] = (errorCounts[kind] ?? 0) + 1;
        }
        if (c.status === 'synced') {
          if (!this.reported.has(c.id)) {
            this.reported.add(c.id);
            send({ ev: 'synced', device: this.name, id: c.id, syncedAt: c.syncedAt ?? now, createdAt: c.createdAt });
          }
        } else if (c.status !== 'needs-attention') depth++;
        if (c.status === 'needs-attention' && !this.reported.has(`attention:${c.id}`)) {
          this.reported.add(`attention:${c.id}`);
          send({ ev: 'attention', device: this.name, id: c.id, error: JSON.stringify(c.lastError ?? {}) });
        }
      }
      this.lastDepth = depth;
      const drained = this.clock.sample(now, depth);
      if (drained !== undefined) send({ ev: 'drained', device: this.name, ms: drained });
      const states = await r.db.engineStatus();
      return {
        device: this.name,
        depth,
        running: true,
        online: this.network.online,
        state: states?.state,
        statuses,
        lastError: captures.find((c) => c.status !== 'synced' && c.lastError)?.lastError?.message,
      };
    } catch {
      return undefined; // the database was closed under us (a kill): next sample
    }
  }
}

function dims(bytes: number): { rows: number; columns: number } {
  const side = Math.max(16, Math.round(Math.sqrt(bytes / 2)));
  return { rows: side, columns: side };
}

const devices = new Map<string, Device>();
const need = (name: string): Device => {
  const d = devices.get(name);
  if (!d) throw new Error(`no device ${name}`);
  return d;
};

// The engine's own console.error lines (a closed database after a kill, retries) go to the log.
const quietErrors: string[] = [];
console.error = (...args: unknown[]) => {
  quietErrors.push(args.map((a) => (a instanceof Error ? `${a.name}: ${a.message}` : String(a))).join(' '));
  if (quietErrors.length > 200) quietErrors.shift();
};

let sampling: ReturnType<typeof setInterval> | undefined;

// A browser logs an unhandled rejection and goes on; so does the fleet (Node would exit). A
// killed engine's last writes reject this way (its database is closed), as they would in a tab
// that is being torn down.
let unhandled = 0;
process.on('unhandledRejection', (reason) => {
  unhandled++;
  console.error('unhandled rejection', reason);
});

process.on('message', (msg: FleetCommand) => {
  void handle(msg).catch((err: unknown) => {
    send({ ev: 'error', message: `${msg.op}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}` });
    if (msg.op === 'capture') send({ ev: 'capture-failed', device: msg.device, seq: msg.seq });
  });
});

async function handle(msg: FleetCommand): Promise<void> {
  switch (msg.op) {
    case 'init': {
      settings = msg.settings;
      for (const d of msg.devices) devices.set(d.name, new Device(d.name, d.apiBase));
      await Promise.all([...devices.values()].map((d) => d.boot()));
      sampling = setInterval(() => {
        const now = Date.now();
        void Promise.all([...devices.values()].map((d) => d.sample(now))).then((samples) =>
          send({ ev: 'sample', at: now, devices: samples.filter((s): s is DeviceSample => s !== undefined) }),
        );
      }, settings.sampleMs);
      send({ ev: 'ready' });
      return;
    }
    case 'capture':
      await need(msg.device).capture(msg);
      return;
    case 'net': {
      const d = need(msg.device);
      d.clock.os(msg.online, Date.now(), d.lastDepth);
      d.network.set(msg.online);
      return;
    }
    case 'kill':
      need(msg.device).kill();
      need(msg.device).clock.kill();
      return;
    case 'link':
      need(msg.device).clock.link(msg.up, Date.now(), need(msg.device).lastDepth);
      return;
    case 'boot': {
      const d = need(msg.device);
      d.clock.boot(Date.now(), d.lastDepth);
      await d.boot();
      return;
    }
    case 'finish': {
      if (sampling) clearInterval(sampling);
      const now = Date.now();
      const samples = await Promise.all([...devices.values()].map((d) => d.sample(now)));
      send({ ev: 'sample', at: now, devices: samples.filter((s): s is DeviceSample => s !== undefined) });
      await Promise.all([...devices.values()].map((d) => d.running?.engine.stop()));
      send({ ev: 'finished', errors: quietErrors.slice(-50), errorCounts, unhandled });
      return;
    }
  }
}
