import type { Summary } from './stats.ts';

export function num(v: number, unit: string): string {
  if (!Number.isFinite(v)) return '—';
  if (unit === 'req/s') return Math.round(v).toLocaleString('en-US');
  if (unit === 'ms') return v < 10 ? v.toFixed(2) : v.toFixed(1);
  if (unit === '×') return v < 10 ? v.toFixed(2) : v.toFixed(1);
  return v < 100 ? v.toFixed(1) : Math.round(v).toLocaleString('en-US');
}

/** "123 (118–130)": the median, then the smallest and largest run. */
export function cell(s: Summary | undefined, unit: string): string {
  if (!s || s.runs === 0) return '—';
  const u = unit === '×' ? '×' : '';
  if (s.runs === 1) return `${num(s.median, unit)}${u}`;
  return `${num(s.median, unit)}${u} (${num(s.min, unit)}–${num(s.max, unit)})`;
}
