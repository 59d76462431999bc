import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.ts';

describe('backoffDelay', () => {
  const opts = { baseMs: 1000, maxMs: 60_000 };

  it('doubles per attempt, between half and all of the exponential step', () => {
    expect(backoffDelay(1, opts, () => 0)).toBe(500);
    expect(backoffDelay(1, opts, () => 1)).toBe(1000);
    expect(backoffDelay(2, opts, () => 0)).toBe(1000);
    expect(backoffDelay(4, opts, () => 1)).toBe(8000);
  });

  it('is capped, jitter included', () => {
    expect(backoffDelay(30, opts, () => 1)).toBe(60_000);
    expect(backoffDelay(30, opts, () => 0)).toBe(30_000);
  });

  it('spreads instances that failed together', () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoffDelay(5, opts)));
    expect(delays.size).toBeGreaterThan(40);
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(8000);
  });
});
