/**
 * Delay before the next attempt after `attempt` failed ones (1 = the first failure): exponential
 * (base · 2^(attempt-1), capped at max) with "equal jitter": half of it fixed, half random, so
 * callers that failed together spread out, yet never retry at once. The one backoff of the
 * project: the edge's upload retries, the server's outbox relay, link re-checks and OIDC discovery.
 * A function, not a retry loop (such as p-retry): the outbox and the edge queue persist its result.
 */
export function backoffDelay(
  attempt: number,
  opts: { baseMs: number; maxMs: number },
  random: () => number = Math.random,
): number {
  const exp = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}
