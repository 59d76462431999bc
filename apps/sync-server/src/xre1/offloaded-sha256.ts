import { Worker } from 'node:worker_threads';

/**
 * SHA-256 computed on a worker thread while the main thread goes on decrypting and writing: a
 * whole download's plaintext is hashed (to be checked against the recorded sha256 before its last
 * segment goes out), and on the main thread that hashing was ~40 % of a download's CPU.
 *
 * One worker for the process, started on first use, keeping the process alive only while a hash
 * is open. Each update is copied (the caller's buffer is free again at once) into 1 MiB buffers
 * that travel to the worker and back (transferred, not cloned); with MAX_IN_FLIGHT of them out,
 * update() returns a promise to wait on, so a slow worker slows the download instead of queueing
 * its plaintext.
 * The worker's source is inline: it needs nothing but node:crypto, and so runs the same from the
 * TypeScript sources and from the bundle.
 */

const MAX_IN_FLIGHT = 4;
const BUFFER_BYTES = 1024 * 1024;

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hashes = new Map();
parentPort.on('message', (m) => {
  if (m.drop) return void hashes.delete(m.id);
  let h = hashes.get(m.id);
  if (!h) hashes.set(m.id, (h = createHash('sha256')));
  if (m.buf) {
    h.update(new Uint8Array(m.buf, 0, m.len));
    // The buffer goes back to be filled again: no garbage piles up here between collections.
    parentPort.postMessage({ id: m.id, ack: true, buf: m.buf }, [m.buf]);
  }
  if (m.end) {
    hashes.delete(m.id);
    parentPort.postMessage({ id: m.id, hex: h.digest('hex') });
  }
});
`;

interface Reply {
  id: number;
  ack?: true;
  buf?: ArrayBuffer;
  hex?: string;
}

interface Listener {
  ack(buf: ArrayBuffer | undefined): void;
  digest(hex: string): void;
  fail(err: Error): void;
}

let worker: Worker | undefined;
/** The open hashes; the worker keeps the process alive only while there is one. */
const listeners = new Map<number, Listener>();
const forget = (id: number): void => {
  if (listeners.delete(id) && listeners.size === 0) worker?.unref();
};
let nextId = 1;

function theWorker(): Worker {
  if (worker) return worker;
  const w = new Worker(WORKER_SOURCE, { eval: true });
  w.unref();
  w.on('message', (m: Reply) => {
    const l = listeners.get(m.id);
    if (!l) return;
    if (m.ack) l.ack(m.buf);
    if (m.hex !== undefined) l.digest(m.hex);
  });
  // A worker that died fails every hash in it; the next one starts a new worker.
  const failAll = (err: Error) => {
    if (worker === w) worker = undefined;
    for (const l of [...listeners.values()]) l.fail(err);
  };
  w.on('error', failAll);
  w.on('exit', (code) => failAll(new Error(`the hashing worker exited (code ${code})`)));
  worker = w;
  return w;
}

export class OffloadedSha256 {
  readonly #id = nextId++;
  readonly #worker = theWorker();
  #inFlight = 0;
  /** Buffers back from the worker, filled again by the next updates (at most MAX_IN_FLIGHT exist). */
  readonly #free: ArrayBuffer[] = [];
  /** The buffer being filled, and how much of it is. */
  #stage: Uint8Array<ArrayBuffer> | undefined;
  #staged = 0;
  /** Callers waiting for room (update() past MAX_IN_FLIGHT); all are let go once there is room again. */
  #waiting: (() => void)[] = [];
  #digest: { resolve(hex: string): void; reject(err: Error): void } | undefined;
  #failed: Error | undefined;
  #done = false;

  constructor() {
    // Keeps the process alive while a hash is open (a CLI reading X-rays waits for its digest).
    if (listeners.size === 0) this.#worker.ref();
    listeners.set(this.#id, {
      ack: (buf) => {
        if (buf) this.#free.push(buf);
        this.#inFlight--;
        if (this.#inFlight < MAX_IN_FLIGHT) this.#letGo();
      },
      digest: (hex) => {
        forget(this.#id);
        this.#digest?.resolve(hex);
      },
      fail: (err) => {
        forget(this.#id);
        this.#failed = err;
        this.#letGo();
        this.#digest?.reject(err);
      },
    });
  }

  #letGo(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const go of waiting) go();
  }

  /**
   * Hashes a copy of `data`: gathered into 1 MiB buffers (tiny segments are not a message each),
   * each sent when full. A promise when the worker is behind: wait on it before handing more.
   */
  update(data: Uint8Array): Promise<void> | undefined {
    if (this.#failed) throw this.#failed;
    if (this.#done) throw new Error('update after digest');
    for (let offset = 0; offset < data.byteLength;) {
      this.#stage ??= new Uint8Array(this.#free.pop() ?? new ArrayBuffer(BUFFER_BYTES));
      const n = Math.min(data.byteLength - offset, BUFFER_BYTES - this.#staged);
      this.#stage.set(data.subarray(offset, offset + n), this.#staged);
      this.#staged += n;
      offset += n;
      if (this.#staged === BUFFER_BYTES) this.#send();
    }
    if (this.#inFlight < MAX_IN_FLIGHT) return undefined;
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push(() => (this.#failed ? reject(this.#failed) : resolve()));
    });
  }

  /** Sends the buffer being filled, if it holds anything. */
  #send(): void {
    const stage = this.#stage;
    if (!stage || this.#staged === 0) return;
    this.#worker.postMessage({ id: this.#id, buf: stage.buffer, len: this.#staged }, [stage.buffer]);
    this.#stage = undefined;
    this.#staged = 0;
    this.#inFlight++;
  }

  /** The hex digest of everything updated. */
  digest(): Promise<string> {
    if (this.#failed) return Promise.reject(this.#failed);
    this.#send();
    this.#done = true;
    const result = new Promise<string>((resolve, reject) => {
      this.#digest = { resolve, reject };
    });
    this.#worker.postMessage({ id: this.#id, end: true });
    return result;
  }

  /** Forgets the hash (a download that ended early): the worker drops its state. */
  drop(): void {
    if (!listeners.has(this.#id)) return;
    forget(this.#id);
    this.#done = true;
    this.#worker.postMessage({ id: this.#id, drop: true });
  }
}
