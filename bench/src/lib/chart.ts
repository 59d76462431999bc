import { cell } from './format.ts';
import { metBy, ratioRuns, type Row, type Target } from './results.ts';
import { summarize, type Summary } from './stats.ts';

interface Line {
  group: string;
  label: string;
  ratio: Summary;
  target: Target | undefined;
}

const esc = (s: string): string =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);

/**
 * The ratios as a dot plot on a log scale: the median as a dot, min–max as a whisker, the
 * target as a black tick; green where the target is met, red where missed, grey without one.
 */
export function ratioChart(rows: readonly Row[], targets: readonly Target[], title: string): string {
  const lines: Line[] = [];
  for (const row of rows) {
    if (!row.ratios) continue;
    for (const of of ['raw', 'verified', 'orthanc'] as const) {
      const runs = ratioRuns(row, of);
      if (!runs?.length) continue;
      const versus =
        row.figure === 'XRE1'
          ? 'one-shot AES-GCM'
          : { raw: 'raw limit', verified: 'verified limit', orthanc: 'Orthanc' }[of];
      lines.push({
        group: row.figure,
        label: `${row.label} ÷ ${versus}`,
        ratio: summarize(runs),
        target: targets.find((t) => t.rowId === row.id && t.of === of),
      });
    }
  }
  const values = lines.flatMap((l) => [l.ratio.min, l.ratio.max, l.target?.value ?? 1]).filter((v) => v > 0);
  const lo = Math.min(0.1, 10 ** Math.floor(Math.log10(Math.min(...values))));
  const hi = Math.max(10, 10 ** Math.ceil(Math.log10(Math.max(...values))));
  const labelW = 620;
  const plotW = 420;
  const valueW = 170;
  const rowH = 22;
  const top = 56;
  const groups = [...new Set(lines.map((l) => l.group))];
  const height = top + (lines.length + groups.length) * rowH + 40;
  const width = labelW + plotW + valueW + 20;
  const x = (v: number) => labelW + ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotW;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="600">${esc(title)}</text>`,
    `<text x="10" y="40" fill="#555">ratio, log scale · dot = median, whisker = min–max of the runs · black tick = target · green met, red missed, grey no target</text>`,
  );
  const bottom = height - 30;
  for (let e = Math.log10(lo); e <= Math.log10(hi) + 1e-9; e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v < lo || v > hi) continue;
      const xv = x(v).toFixed(1);
      const strong = v === 1;
      out.push(
        `<line x1="${xv}" y1="${top - 6}" x2="${xv}" y2="${bottom}" stroke="${strong ? '#333' : '#ddd'}" stroke-width="${strong ? 1.5 : 1}"/>`,
        `<text x="${xv}" y="${bottom + 16}" text-anchor="middle" fill="#555">${v >= 1 ? v : v.toPrecision(1)}×</text>`,
      );
    }
  }
  let y = top;
  for (const group of groups) {
    out.push(`<text x="10" y="${y + 15}" font-weight="600">${esc(group)}</text>`);
    y += rowH;
    for (const l of lines.filter((k) => k.group === group)) {
      const cy = y + rowH / 2;
      const met = l.target ? metBy(l.ratio.median, l.target) : undefined;
      const color = met === undefined ? '#888' : met ? '#1a8f3c' : '#c62828';
      out.push(
        `<text x="22" y="${cy + 4}">${esc(l.label)}</text>`,
        `<line x1="${x(Math.max(l.ratio.min, lo)).toFixed(1)}" y1="${cy}" x2="${x(Math.min(l.ratio.max, hi)).toFixed(1)}" y2="${cy}" stroke="${color}" stroke-width="2"/>`,
        `<circle cx="${x(Math.min(Math.max(l.ratio.median, lo), hi)).toFixed(1)}" cy="${cy}" r="4.5" fill="${color}"/>`,
        `<text x="${labelW + plotW + 12}" y="${cy + 4}" fill="${color}">${esc(cell(l.ratio, '×'))}</text>`,
      );
      if (l.target) {
        const tx = x(l.target.value).toFixed(1);
        out.push(`<line x1="${tx}" y1="${cy - 7}" x2="${tx}" y2="${cy + 7}" stroke="#000" stroke-width="2"/>`);
      }
      y += rowH;
    }
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
