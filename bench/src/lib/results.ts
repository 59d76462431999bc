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
  orthanc?: number[];
  /** Ratios are ours ÷ theirs for throughput; latency and memory rows show no ratio. */
  ratios: boolean;
  note?: string;
}

export interface Target {
  /** What the issue asks, in its words. */
  text: string;
  rowId: string;
  /** absolute: ours vs `value`; raw/orthanc: ours ÷ theirs vs `value`. */
  of: 'absolute' | 'raw' | 'orthanc';
  op: '>=' | '<';
  value: number;
}

export interface Evaluated extends Target {
  row: Row | undefined;
  measured: Summary | undefined;
  met: boolean | undefined;
  /** Human words: "met", "missed by 23 %", "not measured: …". */
  verdict: string;
}

export function ratioRuns(row: Row, of: 'raw' | 'orthanc'): number[] | undefined {
  const theirs = row[of];
  return theirs && theirs.length ? pairedRatios(row.ours, theirs) : undefined;
}

export function evaluate(target: Target, rows: readonly Row[]): Evaluated {
  const row = rows.find((r) => r.id === target.rowId);
  const runs = row ? (target.of === 'absolute' ? row.ours : ratioRuns(row, target.of)) : undefined;
  if (!row || !runs || runs.length === 0) {
    const why = !row ? 'not measured' : `not measured (no ${target.of === 'orthanc' ? 'Orthanc' : 'raw'} figure)`;
    return { ...target, row, measured: undefined, met: undefined, verdict: why };
  }
  const measured = summarize(runs);
  const m = measured.median;
  const met = target.op === '>=' ? m >= target.value : m < target.value;
  // By how much: the share of the target not reached, or how far over the limit.
  const by =
    target.op === '>='
      ? `missed by ${((1 - m / target.value) * 100).toFixed(m / target.value < 0.01 ? 1 : 0)} %`
      : `missed: ${(m / target.value).toFixed(1)}× the limit`;
  return { ...target, row, measured, met, verdict: met ? 'met' : by };
}

export const TARGETS: Target[] = [
  {
    text: 'Ingest (tus, 8 MiB chunks, one client) ≥ 85 % of the raw HTTP-to-disk limit',
    rowId: 'ingest-18-1-tus8',
    of: 'raw',
    op: '>=',
    value: 0.85,
  },
  {
    text: "Ingest (tus, 8 MiB chunks, one client) ≥ 1.5× Orthanc's ingest",
    rowId: 'ingest-18-1-tus8',
    of: 'orthanc',
    op: '>=',
    value: 1.5,
  },
  { text: 'GET /xrays/{id} ≥ 3,000 requests/s', rowId: 'meta-get-rps', of: 'absolute', op: '>=', value: 3000 },
  { text: 'GET /xrays/{id} p99 < 20 ms', rowId: 'meta-get-p99', of: 'absolute', op: '<', value: 20 },
  {
    text: "GET /xrays/{id} ≥ 10× Orthanc's simplified-tags",
    rowId: 'meta-get-rps',
    of: 'orthanc',
    op: '>=',
    value: 10,
  },
  { text: 'GET /xrays?patientId= ≥ 3,000 requests/s', rowId: 'meta-list-rps', of: 'absolute', op: '>=', value: 3000 },
  { text: 'GET /xrays?patientId= p99 < 20 ms', rowId: 'meta-list-p99', of: 'absolute', op: '<', value: 20 },
  {
    text: "GET /xrays?patientId= ≥ 10× Orthanc's simplified-tags",
    rowId: 'meta-list-rps',
    of: 'orthanc',
    op: '>=',
    value: 10,
  },
  { text: 'Download (full, 18 MB) ≥ 80 % of the raw read', rowId: 'download-18-full', of: 'raw', op: '>=', value: 0.8 },
  {
    text: 'Download (Range, 4 MiB) ≥ 80 % of the raw read',
    rowId: 'download-18-range',
    of: 'raw',
    op: '>=',
    value: 0.8,
  },
  {
    text: "Download (full, 18 MB) ≥ 2× Orthanc's file download",
    rowId: 'download-18-full',
    of: 'orthanc',
    op: '>=',
    value: 2,
  },
  {
    text: 'Peak server RSS < 300 MB during 8 concurrent 50 MB uploads (tus)',
    rowId: 'rss-tus',
    of: 'absolute',
    op: '<',
    value: 300,
  },
  {
    text: 'Peak server RSS < 300 MB during 8 concurrent 50 MB uploads (POST /xrays)',
    rowId: 'rss-post',
    of: 'absolute',
    op: '<',
    value: 300,
  },
  // Issue 22, a compiled server: the bundle on the pinned LTS (scripts/node-lts.mjs; 22 for now).
  {
    text: 'Start to /readyz < 1 s (the bundle, Node.js 22, external PostgreSQL, empty database)',
    rowId: 'startup-bundle-node22-first',
    of: 'absolute',
    op: '<',
    value: 1000,
  },
  {
    text: 'Idle RSS < 120 MB (the bundle, Node.js 22)',
    rowId: 'startup-bundle-node22-rss',
    of: 'absolute',
    op: '<',
    value: 120,
  },
];
