import { pairedRatios, summarize, type Summary } from './stats.ts';

/**
 * One measured line of the table: the X-ray Service's runs and, where there is one, the raw
 * limit's and Orthanc's runs from the same rounds (index i of each array is round i).
 */
export interface Row {
  id: string;
  figure: string;
  label: string;
  unit: string;
  ours: number[];
  raw?: number[];
  /** The verified limit (ingest): raw HTTP→disk that also decrypts AES-256-GCM and hashes SHA-256. */
  verified?: number[];
  orthanc?: number[];
  /** Ratios are ours ÷ theirs for throughput; latency and memory rows show no ratio. */
  ratios: boolean;
  note?: string;
}

/** What a ratio is taken against. */
export type Versus = 'raw' | 'verified' | 'orthanc';

export interface Target {
  /** What the issue asks, in its words. */
  text: string;
  /** The issue that set it. */
  issue: number;
  rowId: string;
  /** absolute: ours vs `value`; otherwise ours ÷ theirs vs `value`. */
  of: 'absolute' | Versus;
  op: '>=' | '<' | '<=';
  value: number;
}

export const VERSUS_NAMES: Record<Versus, string> = {
  raw: 'raw',
  verified: 'the verified limit',
  orthanc: 'Orthanc',
};

export interface Evaluated extends Target {
  row: Row | undefined;
  measured: Summary | undefined;
  met: boolean | undefined;
  /** Human words: "met", "missed by 23 %", "not measured: …". */
  verdict: string;
}

export function ratioRuns(row: Row, of: Versus): number[] | undefined {
  const theirs = row[of];
  return theirs && theirs.length ? pairedRatios(row.ours, theirs) : undefined;
}

export const metBy = (m: number, t: Pick<Target, 'op' | 'value'>): boolean =>
  t.op === '>=' ? m >= t.value : t.op === '<=' ? m <= t.value : m < t.value;

export function evaluate(target: Target, rows: readonly Row[]): Evaluated {
  const row = rows.find((r) => r.id === target.rowId);
  const runs = row ? (target.of === 'absolute' ? row.ours : ratioRuns(row, target.of)) : undefined;
  if (!row || !runs || runs.length === 0) {
    const why = !row ? 'not measured' : `not measured (no figure for ${VERSUS_NAMES[target.of as Versus]})`;
    return { ...target, row, measured: undefined, met: undefined, verdict: why };
  }
  const measured = summarize(runs);
  const m = measured.median;
  const met = metBy(m, target);
  // By how much: the share of the target not reached, or how far over the limit.
  const by =
    target.op === '>='
      ? `missed by ${((1 - m / target.value) * 100).toFixed(m / target.value < 0.01 ? 1 : 0)} %`
      : `missed: ${(m / target.value).toFixed(1)}× the limit`;
  return { ...target, row, measured, met, verdict: met ? 'met' : by };
}

/** One target per line of issue 22 (and what is left of issue 9's), on rows of the run. */
const ingest22 = (door: 'tus8' | 'post', clients: 1 | 4): Target[] => {
  const what = `${door === 'tus8' ? 'Ingest, tus 8 MiB chunks' : 'Ingest, POST /xrays'}, 18 MB, ${clients} client${clients > 1 ? 's' : ''}`;
  const rowId = `ingest-18-${clients}-${door}`;
  return [
    { text: `${what} ≥ 0.85× the verified limit`, issue: 22, rowId, of: 'verified', op: '>=', value: 0.85 },
    { text: `${what} ≥ 1.5× Orthanc`, issue: 22, rowId, of: 'orthanc', op: '>=', value: 1.5 },
  ];
};

export const TARGETS: Target[] = [
  {
    text: "GET /xrays/{id} (every read audited) ≥ 1.0× Orthanc's simplified-tags requests/s",
    issue: 22,
    rowId: 'meta-get-rps',
    of: 'orthanc',
    op: '>=',
    value: 1,
  },
  {
    text: 'GET /xrays/{id} p99 < 10 ms at 16 connections',
    issue: 22,
    rowId: 'meta-get-p99',
    of: 'absolute',
    op: '<',
    value: 10,
  },
  {
    text: "GET /xrays/{id} CPU per request (server + PostgreSQL) ≤ 1.0× Orthanc's",
    issue: 22,
    rowId: 'meta-get-cpu',
    of: 'orthanc',
    op: '<=',
    value: 1,
  },
  {
    text: "GET /xrays?patientId= ≥ 0.7× Orthanc's simplified-tags requests/s",
    issue: 22,
    rowId: 'meta-list-rps',
    of: 'orthanc',
    op: '>=',
    value: 0.7,
  },
  ...ingest22('tus8', 1),
  ...ingest22('tus8', 4),
  ...ingest22('post', 1),
  ...ingest22('post', 4),
  { text: "Download, 18 MB ≥ 1.0× Orthanc's", issue: 22, rowId: 'download-18-full', of: 'orthanc', op: '>=', value: 1 },
  { text: "Download, 50 MB ≥ 2× Orthanc's", issue: 22, rowId: 'download-50-full', of: 'orthanc', op: '>=', value: 2 },
  // A compiled server on the pinned LTS (scripts/node-lts.mjs; 22 for now).
  {
    text: 'Start to /readyz < 1 s (the bundle, Node.js 22, external PostgreSQL, empty database)',
    issue: 22,
    rowId: 'startup-bundle-node22-first',
    of: 'absolute',
    op: '<',
    value: 1000,
  },
  {
    text: 'Idle RSS < 120 MB (the bundle, Node.js 22)',
    issue: 22,
    rowId: 'startup-bundle-node22-rss',
    of: 'absolute',
    op: '<',
    value: 120,
  },
  {
    text: 'Edge capture, Save to "queued", 18 MB DICOM, in Chromium < 0.5 s',
    issue: 22,
    rowId: 'edge-save-queued-18',
    of: 'absolute',
    op: '<',
    value: 500,
  },
  // Issue 9's that issue 22 did not replace.
  {
    text: 'Download (full, 18 MB) ≥ 80 % of the raw read',
    issue: 9,
    rowId: 'download-18-full',
    of: 'raw',
    op: '>=',
    value: 0.8,
  },
  {
    text: 'Download (Range, 4 MiB) ≥ 80 % of the raw read',
    issue: 9,
    rowId: 'download-18-range',
    of: 'raw',
    op: '>=',
    value: 0.8,
  },
  {
    text: 'Peak server RSS < 300 MB during 8 concurrent 50 MB uploads (tus)',
    issue: 9,
    rowId: 'rss-tus',
    of: 'absolute',
    op: '<',
    value: 300,
  },
  {
    text: 'Peak server RSS < 300 MB during 8 concurrent 50 MB uploads (POST /xrays)',
    issue: 9,
    rowId: 'rss-post',
    of: 'absolute',
    op: '<',
    value: 300,
  },
];
