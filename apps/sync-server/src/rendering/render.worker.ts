import { parentPort } from 'node:worker_threads';
import { isDomainError } from '../errors.ts';
import { renderDicomFrame, type RenderLimits } from './dicom-pixels.ts';
import type { Voi } from './voi-lut.ts';

/**
 * A render worker: parses, decodes and maps one DICOM frame to display pixels off the event loop.
 * The decoders are synchronous WebAssembly (a 3000 × 3000 JPEG 2000 takes seconds), so on the
 * main thread they would stall every other request; here they stall only this worker.
 */

export interface RenderJob {
  file: Uint8Array;
  limits: RenderLimits;
  voi?: Voi | undefined;
}

export type RenderJobResult =
  | { ok: true; width: number; height: number; channels: 1 | 3; pixels: Uint8Array }
  | { ok: false; code: string | undefined; message: string };

parentPort?.on('message', (job: RenderJob) => {
  renderDicomFrame(job.file, job.limits, job.voi).then(
    (img) => {
      const result: RenderJobResult = { ok: true, ...img };
      parentPort?.postMessage(result, [img.pixels.buffer as ArrayBuffer]);
    },
    (err: unknown) => {
      const result: RenderJobResult = {
        ok: false,
        code: isDomainError(err) ? err.code : undefined,
        message: err instanceof Error ? err.message : String(err),
      };
      parentPort?.postMessage(result);
    },
  );
});
