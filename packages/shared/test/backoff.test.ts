import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/index.ts';

describe('backoffDelay', () => {
  const opts = { baseMs: 1000, maxMs: 60_000 };

  it('doubles per attempt, between half and all of the exponential step', () => {
    expect([1, 2, 3, 4, 5].map((a) => backoffDelay(a, opts, () => 0.5))).toEqual([750, 1500, 3000, 6000, 12_000]);
    expect(backoffDelay(1, opts, () => 0)).toBe(500);
    expect(backoffDelay(1, opts, () => 1)).toBe(1000);
    expect(backoffDelay(2, opts, () => 0)).toBe(1000);
    expect(backoffDelay(4, opts, () => 1)).toBe(8000);
    expect(backoffDelay(4, opts, () => 0.999999)).toBeLessThanOrEqual(8000);
  });

  it('treats attempt 0 (or less) as the first', () => {
    expect(backoffDelay(0, opts, () => 1)).toBe(1000);
    expect(backoffDelay(-3, opts, () => 0)).toBe(500);
  });

  it('is capped, jitter included, and never overflows for huge attempt numbers', () => {
    expect(backoffDelay(30, opts, () => 1)).toBe(60_000);
    expect(backoffDelay(30, opts, () => 0)).toBe(30_000);
    expect(backoffDelay(5000, opts, () => 0.5)).toBe(45_000);
  });

  it('spreads callers that failed together, never below half the step', () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoffDelay(5, opts)));
    expect(delays.size).toBeGreaterThan(40);
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(8000);
      expect(d).toBeLessThanOrEqual(16_000);
    }
  });
});
