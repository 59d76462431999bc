import type { CaptureInput, CaptureOptions, CaptureResult } from '../capture/capture.service.ts';
import type { CaptureMetadata, EngineStatus } from '../db/edge.records.ts';
import type { CaptureSummary } from '../edge.core.ts';

/**
 * What the test page (harness.html) exposes on `window.xrayHarness` for Playwright: the core,
 * driven the way the UI will drive it. Files come from the page's file input, as from a picker.
 */
export interface HarnessApi {
  /** Resolves when the core is open and the engine started. */
  ready: Promise<void>;
  setToken(token: string | null): void;
  /** Captures the `index`-th file of the page's file input; `ms` is the wall time of `capture()`. */
  captureFromInput(index: number, input: CaptureInput, opts?: CaptureOptions): Promise<CaptureResult & { ms: number }>;
  list(): Promise<CaptureSummary[]>;
  engineStatus(): Promise<EngineStatus | undefined>;
  readMetadata(id: string): Promise<CaptureMetadata>;
  updateMetadata(id: string, changes: CaptureInput): Promise<CaptureMetadata>;
  /** Every state change seen through liveQuery, in order (id → statuses). */
  history(): Record<string, string[]>;
  stop(): Promise<void>;
}

declare global {
  interface Window {
    xrayHarness: HarnessApi;
  }
}
