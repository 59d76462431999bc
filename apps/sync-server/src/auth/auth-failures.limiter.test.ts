import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AuditEventInput } from '../audit/audit.service.ts';
import { createLogger } from '../observability/logger.ts';
import { AuthFailureLimiter, clientKeyOf } from './auth-failures.limiter.ts';

const failure = (n: number) => ({
  reason: 'The access token has expired.',
  method: 'GET',
  path: '/xrays',
  requestId: `req-${n}`,
  userAgent: 'curl/8',
});

describe('clientKeyOf: who failures are counted against', () => {
  it('an IPv4 address as itself, also when IPv4-mapped', () => {
    expect(clientKeyOf('203.0.113.7')).toBe('203.0.113.7');
    expect(clientKeyOf('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(clientKeyOf(undefined)).toBe('unknown');
  });

  it('an IPv6 address by its /64, however it is written', () => {
    expect(clientKeyOf('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(clientKeyOf('2001:0db8:0001:0002:ffff:eeee:dddd:cccc')).toBe('2001:db8:1:2::/64');
    expect(clientKeyOf('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKeyOf('1:2::3:4:5:6:7')).toBe('1:2:0:3::/64');
    expect(clientKeyOf('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(clientKeyOf('::1')).toBe('0:0:0:0::/64');
  });
});

describe('AuthFailureLimiter', () => {
  let written: AuditEventInput[];
  let limiter: AuthFailureLimiter;
  const audit = {
    record: async (event: AuditEventInput) => {
      written.push(event);
    },
  };

  beforeEach(() => {
    vi.useFakeTimers();
    written = [];
    limiter = new AuthFailureLimiter({ limit: 3, windowMs: 10_000 }, audit, createLogger('silent'));
  });
  afterEach(async () => {
    await limiter.stop();
    vi.useRealTimers();
  });

  it('past the limit a client is told to wait until its window closes; other clients are not', () => {
    const answers = [1, 2, 3, 4, 5].map((n) => limiter.failed('198.51.100.1', failure(n)));
    expect(answers.map((a) => a.first)).toEqual([true, false, false, false, false]);
    expect(answers.map((a) => a.retryAfterS)).toEqual([undefined, undefined, undefined, 10, 10]);
    expect(limiter.retryAfterS('198.51.100.1')).toBe(10);
    expect(limiter.retryAfterS('198.51.100.2')).toBeUndefined();
    vi.advanceTimersByTime(7_500);
    expect(limiter.retryAfterS('198.51.100.1')).toBe(3);
    vi.advanceTimersByTime(2_500);
    expect(limiter.retryAfterS('198.51.100.1')).toBeUndefined();
  });

  it('a window closes into one aggregated event with the count; a lone failure leaves none', async () => {
    for (let n = 1; n <= 500; n++) limiter.failed('198.51.100.1', failure(n));
    limiter.failed('198.51.100.2', failure(0));
    expect(written).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(11_000);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatchObject({
      action: 'access.denied',
      outcome: 'denied',
      context: { actor: null, ip: '198.51.100.1' },
      details: {
        reason: 'authentication_failed',
        count: 500,
        throttled: 497,
        firstRequestId: 'req-1',
        reasons: { 'The access token has expired.': 500 },
        requests: { 'GET /xrays': 500 },
      },
    });
    // The next failure opens a new window and is audited on its own again.
    expect(limiter.failed('198.51.100.1', failure(501)).first).toBe(true);
  });

  it('stop() writes the windows still open', async () => {
    limiter.failed('198.51.100.1', failure(1));
    limiter.failed('198.51.100.1', failure(2));
    await limiter.stop();
    expect(written.map((e) => e.details?.count)).toEqual([2]);
  });

  it('tallies keep a few distinct values and count the rest as other', async () => {
    for (let n = 1; n <= 20; n++) limiter.failed('198.51.100.1', { ...failure(n), path: `/xrays/${n}` });
    await limiter.stop();
    const requests = written[0]?.details?.requests;
    expect(Object.keys(requests ?? {})).toHaveLength(6);
    expect(requests).toMatchObject({ 'GET /xrays/1': 1, other: 15 });
  });
});
