import { Worker } from 'node:worker_threads';
import type { InspectedContent } from './content-inspector.ts';

/** Why the worker refused a stream: the Xre1Error or DomainError it threw, by code and message. */
export interface Refusal {
  code: string;
  message: string;
}

/** Main thread → worker. Streams are numbered per InspectionThread, never reused. */
export type ToWorker =
  | { op: 'open'; stream: number; rawKey: Uint8Array; maxPlaintextBytes: number }
  | { op: 'push'; stream: number; bytes: ArrayBuffer; length: number }
  | { op: 'finish'; stream: number }
  | { op: 'close'; stream: number }
  | { op: 'pause'; gate: SharedArrayBuffer };

/** Worker → main thread, per stream in the order its messages were posted. An ack hands the pushed buffer back. */
export type FromWorker =
  | { op: 'ack'; stream: number; bytes: ArrayBuffer; length: number; retainedBytes: number; refused: boolean }
  | { op: 'result'; stream: number; content: InspectedContent; consumed: number }
  | { op: 'result'; stream: number; refusal: Refusal };

/**
 * How a finished stream turned out: its content and how many ciphertext bytes it was, or why it
 * was refused; `lost` when the worker went away (crash, stop) first.
 */
export type Outcome = { content: InspectedContent; consumed: number } | { refusal: Refusal } | { lost: true };

export interface StreamEvents {
  /** The worker has inspected `length` more bytes; `refused`: they are not acceptable, it reads no further. */
  ack(length: number, retainedBytes: number, refused: boolean): void;
  /** The worker went away with this stream's state: nothing more will come. */
  lost(): void;
}

/** The size of the buffers bytes are pushed in. */
export const BUFFER_BYTES = 1024 * 1024;
/** Buffers kept for reuse: allocating (zeroing, page faults) and freeing a fresh one per push costs more than the copy. */
const SPARE_BUFFERS = 8;

// A .ts worker entry does not load on Node 20 even with --import tsx inherited, nor under vitest:
// this JavaScript entry registers tsx in the worker itself, then imports inspection.worker.ts.
const ENTRY = new URL('./inspection.worker.mjs', import.meta.url);

interface Open {
  events: StreamEvents;
  finished?: (outcome: Outcome) => void;
}

/** One worker and the streams it holds; when it exits, all of them are lost. */
class RunningWorker {
  readonly streams = new Map<number, Open>();
  readonly worker: Worker;
  dead = false;

  constructor(
    onExit: (run: RunningWorker, err: Error | undefined, lost: number) => void,
    private readonly recycle: (bytes: ArrayBuffer) => void,
  ) {
    this.worker = new Worker(ENTRY, { name: 'xre1-inspection' });
    let failure: Error | undefined;
    this.worker.on('message', (m: FromWorker) => this.#receive(m));
    // Without a listener a worker's uncaught error would be thrown in the main thread.
    this.worker.on('error', (err) => (failure = err));
    this.worker.on('exit', () => {
      this.dead = true;
      const open = [...this.streams.values()];
      this.streams.clear();
      for (const s of open) {
        s.finished?.({ lost: true });
        s.events.lost();
      }
      onExit(this, failure, open.length);
    });
    // Never what keeps the process alive (the HTTP server does that while there is work). After
    // the listeners: adding a 'message' listener refs the worker again.
    this.worker.unref();
  }

  post(message: ToWorker, transfer?: ArrayBuffer[]): void {
    if (!this.dead) this.worker.postMessage(message, transfer);
  }

  #receive(m: FromWorker): void {
    if (m.op === 'ack') this.recycle(m.bytes);
    const open = this.streams.get(m.stream);
    if (!open) return; // closed meanwhile
    if (m.op === 'ack') return open.events.ack(m.length, m.retainedBytes, m.refused);
    this.streams.delete(m.stream);
    open.finished?.('content' in m ? { content: m.content, consumed: m.consumed } : { refusal: m.refusal });
  }
}

/** One upload's CiphertextInspection, running on the worker. */
export class InspectionStream {
  constructor(
    private readonly run: RunningWorker,
    readonly id: number,
  ) {}

  /** Hands `bytes` (from InspectionThread.buffer(), never Node's pooled Buffer memory) to the worker: unusable here afterwards. */
  push(bytes: ArrayBuffer, length: number): void {
    if (this.run.streams.has(this.id)) this.run.post({ op: 'push', stream: this.id, bytes, length }, [bytes]);
  }

  /** The content, once every byte pushed so far has been inspected and the object ends there. */
  finish(): Promise<Outcome> {
    const open = this.run.streams.get(this.id);
    if (!open) return Promise.resolve({ lost: true });
    return new Promise((resolve) => {
      open.finished = resolve;
      this.run.post({ op: 'finish', stream: this.id });
    });
  }

  /** Forgets the stream, here and (as soon as it gets there) on the worker. */
  close(): void {
    const open = this.run.streams.get(this.id);
    if (!open) return;
    this.run.streams.delete(this.id);
    open.finished?.({ lost: true });
    this.run.post({ op: 'close', stream: this.id });
  }
}

/**
 * The worker thread tus uploads are inspected on as they arrive (decrypt, sha256, content
 * checks: ~2 ms of CPU per MiB), so the event loop stays free for every other request. Started
 * with the first stream; if it dies, its streams are lost (their owners fall back) and the
 * next stream starts a new one.
 */
export class InspectionThread {
  #run: RunningWorker | undefined;
  #next = 0;
  #closed = false;
  readonly #spare: ArrayBuffer[] = [];

  /** `onExit`: the worker stopped other than by close(), losing `lost` streams. */
  constructor(private readonly onExit?: (err: Error | undefined, lost: number) => void) {}

  /** A new stream for an object under `rawKey`; undefined once closed or if no worker starts. */
  open(rawKey: Uint8Array, maxPlaintextBytes: number, events: StreamEvents): InspectionStream | undefined {
    if (this.#closed) return undefined;
    let run = this.#run;
    if (!run) {
      try {
        run = this.#run = new RunningWorker(
          (r, err, lost) => this.#exited(r, err, lost),
          (bytes) => {
            if (bytes.byteLength === BUFFER_BYTES && this.#spare.length < SPARE_BUFFERS) this.#spare.push(bytes);
          },
        );
      } catch {
        return undefined;
      }
    }
    const id = ++this.#next;
    run.streams.set(id, { events });
    run.post({ op: 'open', stream: id, rawKey, maxPlaintextBytes });
    return new InspectionStream(run, id);
  }

  /** A buffer of BUFFER_BYTES to push bytes in: one the worker handed back, or a new one. Only ever ours. */
  buffer(): ArrayBuffer {
    return this.#spare.pop() ?? new ArrayBuffer(BUFFER_BYTES);
  }

  /** Ends the worker as a crash would: its streams are lost, the next open starts another. */
  async kill(): Promise<void> {
    await this.#run?.worker.terminate();
  }

  /** Ends the worker for good (server stop): no stream is opened any more. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.kill();
  }

  /** Tests: holds the worker still (as if it lagged behind) until the returned function is called. */
  pause(): () => void {
    const gate = new SharedArrayBuffer(4);
    this.#run?.post({ op: 'pause', gate });
    return () => {
      Atomics.store(new Int32Array(gate), 0, 1);
      Atomics.notify(new Int32Array(gate), 0);
    };
  }

  #exited(run: RunningWorker, err: Error | undefined, lost: number): void {
    if (this.#run === run) this.#run = undefined;
    if (!this.#closed) this.onExit?.(err, lost);
  }
}
