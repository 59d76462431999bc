/** Summary of several runs of one measurement: the median and the spread. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  runs: number;
}

export function summarize(values: readonly number[]): Summary {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, runs: 0 };
  const s = [...finite].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? (s[mid] ?? Number.NaN) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
  return { median, min: s[0] ?? Number.NaN, max: s[s.length - 1] ?? Number.NaN, runs: s.length };
}

/** Per-run ratios a[i] / b[i]: both sides measured back to back in the same round. */
export function pairedRatios(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.min(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((a[i] ?? Number.NaN) / (b[i] ?? Number.NaN));
  return out;
}

export const MB = 1_000_000;
export const MiB = 1024 * 1024;

/** Throughput in MB/s (10^6 bytes) of `bytes` moved in `ms`. */
export const mbPerS = (bytes: number, ms: number): number => bytes / MB / (ms / 1000);
