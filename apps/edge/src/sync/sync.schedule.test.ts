import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { blobOf, engineRig, smallJpeg, smallPng, validInput, type EngineRig } from '../../test/fixtures.ts';
import type { CaptureRecord } from '../db/edge.records.ts';
import type { SyncEngineOptions } from './sync.engine.ts';
import { UploadAbortedError, type UploadRequest, type UploadResult, type Uploader } from './uploader.ts';

/**
 * The engine's scheduling (urgent strictly first) and its stall timeout, against a fake tus
 * server that sends chunks on the (fake) clock: each capture is 4 chunks, each chunk 4 progress
 * events `tickMs` apart, and the server keeps each capture's offset across attempts as tus does.
 */
type Behaviour = 'send' | 'hold' | { tickMs: number };

class ChunkServer implements Uploader {
  /** The server's offset per capture (what a HEAD would answer). */
  readonly offsets = new Map<string, number>();
  /** Bytes that went out per capture, in flight or accepted (what a proxy would count). */
  readonly wire = new Map<string, number>();
  readonly log: string[] = [];
  /** Every attempt: which capture, from which offset. */
  readonly attempts: { id: string; from: number }[] = [];
  /** Captures with a request in flight right now. */
  readonly sending = new Set<string>();
  /** The most captures ever sending at once while an urgent one was among them. */
  urgentShared = 0;
  tickMs = 250;
  /** How the request for (capture, attempt, chunk index) goes. */
  behaviour: (id: string, attempt: number, chunk: number) => Behaviour = () => 'send';
  constructor(private readonly urgentIds: () => Set<string>) {}

  upload(req: UploadRequest): Promise<UploadResult> {
    const id = req.captureId;
    const total = req.ciphertext.size;
    const chunk = Math.ceil(total / 4);
    const attempt = this.attempts.filter((a) => a.id === id).length + 1;
    this.attempts.push({ id, from: this.offsets.get(id) ?? 0 });
    this.log.push(`start ${id}`);
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const end = (): void => {
        clearTimeout(timer);
        this.sending.delete(id);
      };
      const abort = (): void => {
        end();
        this.log.push(`aborted ${id}`);
        reject(new UploadAbortedError('aborted'));
      };
      if (req.signal.aborted) return abort();
      req.signal.addEventListener('abort', abort, { once: true });
      const sendChunk = (): void => {
        const offset = this.offsets.get(id) ?? 0;
        const to = Math.min(total, offset + chunk);
        const how = this.behaviour(id, attempt, Math.floor(offset / chunk));
        const tickMs = typeof how === 'object' ? how.tickMs : this.tickMs;
        this.sending.add(id);
        if ([...this.sending].some((s) => this.urgentIds().has(s)))
          this.urgentShared = Math.max(this.urgentShared, this.sending.size);
        let sent = offset;
        const tick = (): void => {
          const step = Math.min(Math.ceil(chunk / 4), to - sent);
          sent += step;
          this.wire.set(id, (this.wire.get(id) ?? 0) + step);
          req.onProgress(sent, total);
          if (sent < to) {
            timer = setTimeout(tick, tickMs);
            return;
          }
          // Every byte of the chunk is out; a held request never gets its answer.
          if (how === 'hold') return;
          this.offsets.set(id, to);
          this.log.push(`chunk ${id} ${to}`);
          req.onProgress(to, total);
          req.onChunkAccepted(to, total);
          if (to === total) {
            end();
            req.signal.removeEventListener('abort', abort);
            this.log.push(`done ${id}`);
            resolve({ xrayId: req.metadata.id ?? null, sha256: req.metadata.sha256 ?? null });
          } else if (req.shouldPause?.()) {
            end();
            req.signal.removeEventListener('abort', abort);
            this.log.push(`paused ${id} ${to}`);
            reject(new UploadAbortedError('paused'));
          } else timer = setTimeout(sendChunk, 0);
        };
        timer = setTimeout(tick, tickMs);
      };
      sendChunk();
    });
  }
}

interface Rig extends EngineRig {
  tus: ChunkServer;
  record(id: string): Promise<CaptureRecord | undefined>;
}

async function rig(opts: Partial<SyncEngineOptions> = {}): Promise<Rig> {
  const urgent = new Set<string>();
  const tus = new ChunkServer(() => urgent);
  const r = await engineRig({ uploader: tus, ...opts });
  const capture = r.capture;
  return {
    ...r,
    tus,
    async capture(...args) {
      const result = await capture(...args);
      if (args[1]?.priority === 'urgent') urgent.add(result.id);
      return result;
    },
    record: (id) => r.db.captures.get(id),
  };
}

/** Lets fake-indexeddb (setImmediate, real) and the promise chains after it run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
}

// Many small steps of fake time, each letting IndexedDB run: slow on a busy machine.
vi.setConfig({ testTimeout: 120_000 });

/** Moves the fake clock on in small steps, letting IndexedDB work in between. */
async function run(ms: number, step = 50): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    await vi.advanceTimersByTimeAsync(step);
    await flush();
  }
}

/** Runs the clock until `check` holds (or fails after `maxMs` of fake time). */
async function until(check: () => Promise<boolean> | boolean, maxMs = 120_000, step = 50): Promise<void> {
  for (let t = 0; t < maxMs; t += step) {
    if (await check()) return;
    await run(step, step);
  }
  throw new Error(`not reached in ${maxMs} ms of fake time`);
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: new Date('2026-11-27T08:00:00Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('urgent strictly first', () => {
  it('three captures queued offline, the urgent one last: it goes first and alone, then the routine ones', async () => {
    const r = await rig({ concurrency: 2 });
    r.network.online = false;
    const routine1 = await r.capture(blobOf(smallPng(1)), validInput());
    const routine2 = await r.capture(blobOf(smallPng(2)), validInput());
    const urgent = await r.capture(blobOf(smallJpeg(3)), validInput({ priority: 'urgent' }));
    await r.engine.start();
    await flush();
    r.network.set(true);
    await until(async () => (await r.status(routine2.id)) === 'synced' && (await r.status(routine1.id)) === 'synced');

    const done = r.tus.log.filter((l) => l.startsWith('done')).map((l) => l.split(' ')[1]);
    expect(done[0]).toBe(urgent.id);
    expect(r.tus.log[0]).toBe(`start ${urgent.id}`);
    // No routine request started before the urgent one finished: it had the uplink alone.
    expect(r.tus.log.indexOf(`done ${urgent.id}`)).toBeLessThan(r.tus.log.indexOf(`start ${routine1.id}`));
    expect(r.tus.urgentShared).toBe(1);
    expect(await r.status(urgent.id)).toBe('synced');
    await r.engine.stop();
  });

  it('a routine upload in flight stops at its next chunk boundary for an urgent capture, then resumes from its offset', async () => {
    const r = await rig({ concurrency: 2 });
    const routine = await r.capture(blobOf(smallPng(4)), validInput());
    await r.engine.start();
    // Into the routine capture's second chunk.
    await until(() => (r.tus.offsets.get(routine.id) ?? 0) > 0);
    await run(300);
    const urgent = await r.capture(blobOf(smallJpeg(5)), validInput({ priority: 'urgent' }));
    await until(async () => (await r.status(urgent.id)) === 'synced');

    const total = (await r.record(routine.id))?.ciphertextSize ?? 0;
    const chunk = Math.ceil(total / 4);
    // The routine upload finished the chunk it was sending (nothing thrown away) and paused there.
    expect(r.tus.log).toContain(`paused ${routine.id} ${2 * chunk}`);
    expect(r.tus.log.indexOf(`paused ${routine.id} ${2 * chunk}`)).toBeLessThan(
      r.tus.log.indexOf(`start ${urgent.id}`),
    );
    expect(r.tus.urgentShared).toBe(1);

    await until(async () => (await r.status(routine.id)) === 'synced');
    expect(r.tus.attempts.filter((a) => a.id === routine.id)).toEqual([
      { id: routine.id, from: 0 },
      { id: routine.id, from: 2 * chunk },
    ]);
    expect(r.tus.wire.get(routine.id)).toBe(total);
    await r.engine.stop();
  });

  it('while paused for the urgent capture, the routine one shows what the server already holds', async () => {
    const r = await rig({ concurrency: 1 });
    r.tus.tickMs = 1000;
    const routine = await r.capture(blobOf(smallPng(6)), validInput());
    await r.engine.start();
    await until(() => (r.tus.offsets.get(routine.id) ?? 0) > 0);
    const urgent = await r.capture(blobOf(smallJpeg(7)), validInput({ priority: 'urgent' }));
    await until(() => r.tus.log.includes(`start ${urgent.id}`));
    const paused = await r.record(routine.id);
    expect(paused?.status).toBe('queued');
    expect(paused?.progress?.sent).toBe(2 * Math.ceil((paused?.ciphertextSize ?? 0) / 4));
    expect(paused?.progress?.total).toBe(paused?.ciphertextSize);
    await r.engine.stop();
  });
});

describe('stalls', () => {
  it('a request that never answers is aborted after the stall timeout and resumed from the server offset, with the kept progress shown meanwhile', async () => {
    const r = await rig({ stallTimeoutMs: 20_000 });
    const c = await r.capture(blobOf(smallPng(8)), validInput());
    // The second chunk of the first attempt goes out and no answer ever comes.
    r.tus.behaviour = (_id, attempt, chunk) => (attempt === 1 && chunk === 1 ? 'hold' : 'send');
    const total = (await r.record(c.id))?.ciphertextSize ?? 0;
    const chunk = Math.ceil(total / 4);
    await r.engine.start();

    // 19 s of silence: still uploading, nothing aborted.
    await until(() => r.tus.wire.get(c.id) === 2 * chunk);
    await run(19_000);
    expect(await r.status(c.id)).toBe('uploading');
    expect(r.tus.log).not.toContain(`aborted ${c.id}`);

    await until(async () => (await r.status(c.id)) === 'retrying', 2_000);
    const waiting = await r.record(c.id);
    expect(r.tus.log).toContain(`aborted ${c.id}`);
    expect(waiting).toMatchObject({
      status: 'retrying',
      lastError: { code: 'stalled', message: expect.stringContaining('stalled') },
      // What the server confirmed stays on screen while it waits, not an empty bar.
      progress: { sent: chunk, total },
    });
    expect(waiting?.nextAttemptAt).toBeGreaterThan(Date.now());

    await until(async () => (await r.status(c.id)) === 'synced');
    expect(r.tus.attempts.map((a) => a.from)).toEqual([0, chunk]);
    // Only the held chunk went out twice.
    expect(r.tus.wire.get(c.id)).toBe(total + chunk);
    await r.engine.stop();
  });

  it('a slow upload that keeps making progress is never aborted, however long it takes', async () => {
    const r = await rig({ stallTimeoutMs: 20_000 });
    const c = await r.capture(blobOf(smallPng(9)), validInput());
    // 15 s between progress events: each chunk takes a minute, the whole upload four.
    r.tus.behaviour = () => ({ tickMs: 15_000 });
    await r.engine.start();
    await until(async () => (await r.status(c.id)) === 'synced', 10 * 60_000, 500);
    expect(r.tus.attempts).toHaveLength(1);
    expect(r.tus.log).not.toContain(`aborted ${c.id}`);
    await r.engine.stop();
  });

  it('asks for the stall timeout at each attempt (the server may set it)', async () => {
    let configured: number | undefined = 5_000;
    const r = await rig({ stallTimeoutMs: () => configured });
    const c = await r.capture(blobOf(smallPng(10)), validInput());
    r.tus.behaviour = (_id, attempt) => (attempt === 1 ? 'hold' : 'send');
    const chunk = Math.ceil(((await r.record(c.id))?.ciphertextSize ?? 0) / 4);
    await r.engine.start();
    // The whole first chunk is out (the last progress event); then silence.
    await until(() => r.tus.wire.get(c.id) === chunk);
    const start = Date.now();
    await until(async () => (await r.status(c.id)) === 'retrying', 10_000);
    expect(Date.now() - start).toBeLessThanOrEqual(5_300);
    configured = undefined; // none configured: the default 20 s
    await until(async () => (await r.status(c.id)) === 'synced');
    await r.engine.stop();
  });

  it('a cut keeps the confirmed progress on the queued capture', async () => {
    const r = await rig();
    const c = await r.capture(blobOf(smallPng(11)), validInput());
    r.tus.tickMs = 1000;
    await r.engine.start();
    await until(() => (r.tus.offsets.get(c.id) ?? 0) > 0);
    await run(1500);
    r.network.set(false);
    await until(async () => (await r.status(c.id)) === 'queued');
    const total = (await r.record(c.id))?.ciphertextSize ?? 0;
    expect((await r.record(c.id))?.progress).toMatchObject({ sent: Math.ceil(total / 4), total });
    r.network.set(true);
    await until(async () => (await r.status(c.id)) === 'synced');
    expect(r.tus.attempts.map((a) => a.from)).toEqual([0, Math.ceil(total / 4)]);
    await r.engine.stop();
  });
});
