import { Worker } from 'node:worker_threads';
import { BUNDLE_URL } from '../bundle.ts';
import { DomainError, type ErrorCode, ERRORS } from '../errors.ts';
import type { DisplayImage, RenderLimits } from './dicom-pixels.ts';
import type { RenderJob, RenderJobResult } from './render.worker.ts';
import type { Voi } from './voi-lut.ts';

/**
 * Worker threads that turn DICOM files into display pixels (render.worker.ts). One job per worker
 * at a time; the render slots (render.slots.ts) bound how many run, so the pool never holds more
 * workers than RENDER_CONCURRENCY. An idle worker is ended after IDLE_MS: the decoders'
 * WebAssembly memory only grows, and ending the worker is what gives it back.
 */

const IDLE_MS = 30_000;
/**
 * The longest one render may take (a 3000 × 3000 JPEG 2000 takes about 10 s on a busy machine). A
 * worker past it (a file that sends a decoder into a loop) is ended, so it cannot hold its slot for
 * good.
 */
export const RENDER_TIMEOUT_MS = 120_000;

/**
 * The worker's script: a compiled server ships render.worker.js beside its bundle (build.mjs); from
 * the TypeScript sources, the entry that registers tsx first.
 */
function workerScript(): URL {
  return BUNDLE_URL ? new URL('./render.worker.js', BUNDLE_URL) : new URL('./render.worker-entry.mjs', import.meta.url);
}

interface Idle {
  worker: Worker;
  timer: NodeJS.Timeout;
}

export class RenderPool {
  readonly #idle: Idle[] = [];
  readonly #script = workerScript();

  #spawn(): Worker {
    const worker = new Worker(this.#script);
    // An idle worker never keeps the process alive.
    worker.unref();
    return worker;
  }

  #take(): Worker {
    const idle = this.#idle.pop();
    if (!idle) return this.#spawn();
    clearTimeout(idle.timer);
    return idle.worker;
  }

  #giveBack(worker: Worker): void {
    const entry: Idle = {
      worker,
      timer: setTimeout(() => {
        const i = this.#idle.indexOf(entry);
        if (i >= 0) this.#idle.splice(i, 1);
        void worker.terminate();
      }, IDLE_MS).unref(),
    };
    this.#idle.push(entry);
  }

  /** The first frame of a DICOM file as display pixels, computed in a worker. */
  render(file: Uint8Array, limits: RenderLimits, voi?: Voi, timeoutMs = RENDER_TIMEOUT_MS): Promise<DisplayImage> {
    const worker = this.#take();
    // The bytes move to the worker without a copy when they fill their buffer (a whole X-ray read
    // into one allocation); a slice of a shared buffer is copied.
    const own = file.byteOffset === 0 && file.byteLength === file.buffer.byteLength;
    const bytes = own ? file : new Uint8Array(file);
    const job: RenderJob = { file: bytes, limits, voi };
    return new Promise<DisplayImage>((resolve, reject) => {
      const done = (settle: () => void, healthy: boolean) => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        if (healthy) this.#giveBack(worker);
        else void worker.terminate();
        settle();
      };
      const onMessage = (r: RenderJobResult) => {
        if (r.ok) {
          const { width, height, channels, pixels } = r;
          done(() => resolve({ width, height, channels, pixels }), true);
          return;
        }
        const code: ErrorCode = r.code && r.code in ERRORS ? (r.code as ErrorCode) : 'internal';
        // A decoder that failed may have left its WebAssembly state broken: the worker is not reused.
        done(() => reject(new DomainError(code, r.message)), false);
      };
      // The worker itself failed (its script did not load, or an error escaped the decoder): a fault
      // of ours, not of the X-ray.
      const onError = (err: Error) =>
        done(() => reject(new DomainError('internal', 'The render worker failed.', undefined, { cause: err })), false);
      const onExit = (code: number) =>
        done(() => reject(new DomainError('internal', `The render worker stopped (exit code ${code}).`)), false);
      const timer = setTimeout(
        () =>
          done(
            () =>
              reject(
                new DomainError(
                  'not_renderable',
                  `This X-ray cannot be rendered: decoding it took longer than ${timeoutMs / 1000} s.`,
                ),
              ),
            false,
          ),
        timeoutMs,
      );
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      worker.ref();
      worker.postMessage(job, [bytes.buffer as ArrayBuffer]);
    }).finally(() => worker.unref());
  }

  /** Ends every idle worker (the app stopping). */
  async close(): Promise<void> {
    const idle = this.#idle.splice(0);
    for (const i of idle) clearTimeout(i.timer);
    await Promise.all(idle.map((i) => i.worker.terminate()));
  }
}
