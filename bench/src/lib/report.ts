import { cell } from './format.ts';
import { evaluate, ratioRuns, VERSUS_NAMES, type Evaluated, type Row, type Target, type Versus } from './results.ts';
import { summarize } from './stats.ts';

export interface RunInfo {
  startedAt: Date;
  seconds: number;
  runs: number;
  metadataRuns: number;
  metadataSeconds: number;
  machine: string;
  /** How the sync server ran (the bundle, which Node.js). */
  server: string;
  database: string;
  orthanc: string;
  chromium: string;
  /** The edge capture figure (e2e/bench/edge.bench.ts): its Chromium, or why it is missing. */
  edge: string;
  s3: string;
  files: string;
}

const ratioCell = (row: Row, of: Versus): string => {
  if (!row.ratios) return '—';
  const runs = ratioRuns(row, of);
  return runs?.length ? cell(summarize(runs), '×') : '—';
};

const measuredCell = (e: Evaluated): string => {
  if (!e.measured) return '—';
  const unit = e.of === 'absolute' ? (e.row?.unit ?? '') : '×';
  return `${cell(e.measured, unit)}${e.of === 'absolute' ? ` ${unit}` : ` of ${VERSUS_NAMES[e.of]}`}`;
};

const verdictCell = (e: Evaluated): string => (e.met === undefined ? e.verdict : e.met ? '✅ met' : `❌ ${e.verdict}`);

/** The targets table (also copied into the README). */
export function targetsTable(targets: readonly Target[], rows: readonly Row[]): string {
  const lines = ['| target | issue | measured: median (min–max) | result |', '| --- | --- | --- | --- |'];
  for (const t of targets) {
    const e = evaluate(t, rows);
    lines.push(`| ${t.text} | ${t.issue} | ${measuredCell(e)} | ${verdictCell(e)} |`);
  }
  return lines.join('\n');
}

/** One table per figure; the verified limit's columns only where a row of it has that figure (ingest). */
export function figuresTable(rows: readonly Row[], figures: readonly string[]): string {
  const shown = rows.filter((x) => figures.includes(x.figure));
  const verified = shown.some((r) => r.verified?.length);
  const lines = [
    `| measurement | unit | X-ray Service | raw limit | ÷ raw |${verified ? ' verified limit | ÷ verified |' : ''} Orthanc | ÷ Orthanc |`,
    `| --- | --- | --- | --- | --- |${verified ? ' --- | --- |' : ''} --- | --- |`,
  ];
  const theirs = (runs: number[] | undefined, unit: string) => (runs ? cell(summarize(runs), unit) : '—');
  for (const r of shown) {
    const v = verified ? ` ${theirs(r.verified, r.unit)} | ${ratioCell(r, 'verified')} |` : '';
    lines.push(
      `| ${r.label} | ${r.unit} | ${cell(summarize(r.ours), r.unit)} | ${theirs(r.raw, r.unit)} | ${ratioCell(r, 'raw')} |${v} ${theirs(r.orthanc, r.unit)} | ${ratioCell(r, 'orthanc')} |`,
    );
  }
  return lines.join('\n');
}

export function summaryLine(info: RunInfo): string {
  return (
    `Run ${info.startedAt.toISOString().replace(/\.\d+Z$/, 'Z')} with \`npm run bench\` in ${Math.round(info.seconds)} s; ` +
    `${info.runs} runs per figure, ${info.metadataRuns} for metadata and DICOMweb (median, min–max).`
  );
}

export function resultsMarkdown(
  rows: readonly Row[],
  targets: readonly Target[],
  info: RunInfo,
  notes: string[],
): string {
  const figures = [...new Set(rows.map((r) => r.figure))];
  const rowNotes = [...new Set(rows.map((r) => r.note).filter((n): n is string => Boolean(n)))];
  return [
    '# Benchmark results (latest run)',
    '',
    summaryLine(info),
    '',
    `- Machine: ${info.machine}`,
    ...(info.server ? [`- Sync server: ${info.server}`] : []),
    `- PostgreSQL: ${info.database}`,
    `- Orthanc: ${info.orthanc}`,
    `- Chromium (XRE1 in the browser): ${info.chromium}`,
    `- Edge capture (e2e/bench/edge.bench.ts): ${info.edge}`,
    `- S3 storage: ${info.s3}`,
    `- Workload: ${info.files}`,
    '',
    '![Ratios measured in the same run](ratios.svg)',
    '',
    '## Targets',
    '',
    targetsTable(targets, rows),
    '',
    ...figures.flatMap((f) => [`## ${f}`, '', figuresTable(rows, [f]), '']),
    '## How these are measured',
    '',
    ...notes.map((n) => `- ${n}`),
    ...rowNotes.map((n) => `- ${n}`),
    '',
    'What limits the figures that miss their targets, with CPU profiles, is in [NOTES.md](NOTES.md).',
    '',
  ].join('\n');
}

/** Replaces the README's generated block (between the markers) with `block`; no markers, no change. */
export function replaceReadmeBlock(readme: string, block: string): string | undefined {
  const start = '<!-- bench:results:start -->';
  const end = '<!-- bench:results:end -->';
  const a = readme.indexOf(start);
  const b = readme.indexOf(end);
  if (a < 0 || b < a) return undefined;
  return `${readme.slice(0, a + start.length)}\n\n${block}\n\n${readme.slice(b)}`;
}
