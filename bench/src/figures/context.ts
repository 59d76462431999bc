import type { Row } from '../lib/results.ts';
import type { XrayFile } from '../lib/workload.ts';

/** What every figure gets: the servers, the files, tokens, and where to report. */
export interface BenchContext {
  sync: { url: string; paramedic: string; doctor: string; admin: string };
  raw: { url: string };
  /** Undefined when Orthanc could not be installed or started (the results say why). */
  orthanc: { url: string; authorization: string } | undefined;
  files: { f18: XrayFile; f50: XrayFile };
  runs: number;
  log(msg: string): void;
  rows: Row[];
  /** Ids kept by ingest for the read figures. */
  ids: {
    sync18?: string;
    sync50?: string;
    raw18?: string;
    raw50?: string;
    orthanc18?: string;
    orthanc50?: string;
  };
}

/** Rotates the contenders each round, so none always runs first (cold) or last. */
export function rotate<T>(items: readonly T[], round: number): T[] {
  const k = round % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}
