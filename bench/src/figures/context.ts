import type { Authorize } from '../lib/dpop.ts';
import type { Row } from '../lib/results.ts';
import type { XrayFile } from '../lib/workload.ts';

/** What every figure gets: the servers, the files, tokens, and where to report. */
export interface BenchContext {
  /** The paramedic is an edge device (DPoP-bound token, a proof per request); doctor and admin bearer tokens. */
  sync: { url: string; paramedic: Authorize; doctor: string; admin: string };
  /** The bare Node server: the raw limit (/files, /json) and the verified limit (/verified). */
  raw: { url: string };
  /** Express answering a read's JSON and nothing else: the framework's floor (metadata). */
  floor: { url: string };
  /** Undefined when Orthanc could not be installed or started (the results say why). */
  orthanc:
    | { url: string; authorization: string; /** Its DICOMweb plugin is loaded (`/dicom-web`). */ dicomweb: boolean }
    | undefined;
  files: { f18: XrayFile; f50: XrayFile };
  runs: number;
  log(msg: string): void;
  rows: Row[];
  /** Time windows (CLOCK_MONOTONIC µs, the clock of V8 CPU profiles) of each measured phase. */
  marks: Mark[];
  /** Process roots whose CPU time (with their descendants) a figure may report per request. */
  cpu: { ours: number[]; orthanc: number[]; raw: number[]; floor: number[] };
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

export interface Mark {
  name: string;
  startUs: number;
  endUs: number;
}

export const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

/** Runs `fn` and records its time window under `name` (to cut a server CPU profile to it). */
export async function marked<T>(ctx: Pick<BenchContext, 'marks'>, name: string, fn: () => Promise<T>): Promise<T> {
  const startUs = monotonicUs();
  try {
    return await fn();
  } finally {
    ctx.marks.push({ name, startUs, endUs: monotonicUs() });
  }
}

/** Rotates the contenders each round, so none always runs first (cold) or last. */
export function rotate<T>(items: readonly T[], round: number): T[] {
  const k = round % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}
