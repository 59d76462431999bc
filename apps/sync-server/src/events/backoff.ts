/**
 * Delay before the next attempt after `attempt` failed ones: exponential (base · 2^(attempt-1),
 * capped at max) with "equal jitter": half of it fixed, half random, so instances that failed
 * together spread out yet never retry at once. The outbox persists the result (next_attempt_at),
 * which is why this is a function and not an in-process retry loop such as p-retry.
 */
export function backoffDelay(
  attempt: number,
  opts: { baseMs: number; maxMs: number },
  random: () => number = Math.random,
): number {
  const exp = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}
