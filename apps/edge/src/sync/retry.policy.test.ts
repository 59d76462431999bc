import { STALE_UPLOAD_KEY } from '@xray/shared';
import { describe, expect, it } from 'vitest';
import { decideRetry, DEFAULT_RETRY, XRAY_DELETED, type RetryContext } from './retry.policy.ts';
import type { UploadFailure } from './upload.failure.ts';

const ctx = (over: Partial<RetryContext> = {}): RetryContext => ({
  attempt: 1,
  online: true,
  random: () => 0.5,
  ...over,
});
const http = (status: number, method = 'PATCH', retryAfterMs?: number): UploadFailure => ({
  kind: 'http',
  status,
  method,
  message: `status ${status}`,
  ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
});

describe('retry policy', () => {
  it('retries server errors, timeouts and tus conflicts with backoff', () => {
    for (const status of [500, 502, 503, 504, 408, 409, 423]) {
      expect(decideRetry(http(status), ctx()), String(status)).toEqual({ action: 'retry', delayMs: 750 });
    }
  });

  it("retries a 499 client_closed: the client that hears it did not leave (a reset of the server's own connection)", () => {
    for (const method of ['POST', 'PATCH'] as const)
      expect(decideRetry(http(499, method), ctx()), method).toEqual({ action: 'retry', delayMs: 750 });
  });

  it('gives up on a 4xx the server means (validation, forbidden, too large), for a person to act', () => {
    for (const status of [400, 403, 404, 410, 413, 415, 422]) {
      expect(decideRetry(http(status, 'POST'), ctx()).action, String(status)).toBe('give-up');
    }
    for (const status of [400, 403, 413, 415, 422]) {
      expect(decideRetry(http(status), ctx()).action, String(status)).toBe('give-up');
    }
  });

  it('an upload the server no longer has (404/410 to PATCH or HEAD: it expired) is retried, not put before a person', () => {
    for (const method of ['PATCH', 'HEAD'])
      for (const status of [404, 410])
        expect(decideRetry(http(status, method), ctx()), `${method} ${status}`).toEqual({
          action: 'retry',
          delayMs: 750,
        });
  });

  it('an X-ray deleted on the server (410 xray_deleted) is final on every request, the last PATCH included', () => {
    for (const method of ['POST', 'PATCH', 'HEAD']) {
      const deleted: UploadFailure = {
        kind: 'http',
        status: 410,
        method,
        message: 'deleted',
        problem: { code: XRAY_DELETED, detail: 'X-ray … was deleted' },
      };
      expect(decideRetry(deleted, ctx()), method).toEqual({ action: 'give-up' });
    }
  });

  it('a data key wrapped for an upload key the server no longer holds: refresh the key and retry; a missing kid needs a person', () => {
    const refused = (error: { field: string; message: string }): UploadFailure => ({
      kind: 'http',
      status: 400,
      method: 'POST',
      message: 'refused',
      problem: { code: 'validation_failed', errors: [error] },
    });
    expect(decideRetry(refused(STALE_UPLOAD_KEY), ctx())).toEqual({
      action: 'retry',
      delayMs: 750,
      refreshServerKey: true,
    });
    expect(decideRetry(refused({ field: 'metadata.kid', message: 'is required' }), ctx()).action).toBe('give-up');
  });

  it('a 409 on creation is "other content under this id": final', () => {
    expect(decideRetry(http(409, 'POST'), ctx()).action).toBe('give-up');
    expect(decideRetry(http(409, 'PATCH'), ctx()).action).toBe('retry');
  });

  it('401 waits for a new token instead of dropping or counting attempts', () => {
    expect(decideRetry(http(401), ctx({ attempt: 50 }))).toEqual({ action: 'wait-token' });
  });

  it('a network error waits for the network when offline, and backs off when the network is there', () => {
    const failure: UploadFailure = { kind: 'network', message: 'cut' };
    expect(decideRetry(failure, ctx({ online: false }))).toEqual({ action: 'wait-online' });
    expect(decideRetry(failure, ctx({ online: true, attempt: 3 }))).toEqual({ action: 'retry', delayMs: 3000 });
  });

  it('a stalled request is retried with backoff like a lost connection, and waits for the network when offline', () => {
    const stalled: UploadFailure = { kind: 'stalled', message: 'nothing moved for 20 s' };
    expect(decideRetry(stalled, ctx({ attempt: 4 }))).toEqual({ action: 'retry', delayMs: 6000 });
    expect(decideRetry(stalled, ctx({ online: false }))).toEqual({ action: 'wait-online' });
  });

  it('429 slows the whole queue, honouring Retry-After', () => {
    expect(decideRetry(http(429, 'PATCH', 120_000), ctx())).toEqual({
      action: 'retry',
      delayMs: 120_000,
      holdQueueMs: 120_000,
    });
    expect(decideRetry(http(429), ctx())).toEqual({
      action: 'retry',
      delayMs: DEFAULT_RETRY.rateLimitDelayMs,
      holdQueueMs: DEFAULT_RETRY.rateLimitDelayMs,
    });
  });

  it('never stops retrying transient failures, and a wrong confirmation is final', () => {
    expect(decideRetry({ kind: 'unconfirmed', message: '' }, ctx({ attempt: 1000 })).action).toBe('retry');
    expect(decideRetry(http(503), ctx({ attempt: 1000 })).action).toBe('retry');
    expect(decideRetry({ kind: 'mismatch', message: '' }, ctx()).action).toBe('give-up');
  });

  it('backs off with the shared backoff from its own settings: doubling from baseDelayMs up to maxDelayMs', () => {
    const delay = (attempt: number, random = 0.5) => {
      const d = decideRetry(http(503), ctx({ attempt, random: () => random }));
      return d.action === 'retry' ? d.delayMs : undefined;
    };
    expect([1, 2, 3, 4, 5].map((a) => delay(a))).toEqual([750, 1500, 3000, 6000, 12000]);
    expect(delay(30)).toBe(DEFAULT_RETRY.maxDelayMs * 0.75);
    expect(delay(4, 0)).toBe(4000);
    expect(delay(4, 0.999999)).toBeLessThanOrEqual(8000);
  });
});
