import { backoffDelay, STALE_UPLOAD_KEY } from '@xray/shared';
import type { UploadFailure } from './upload.failure.ts';

export interface RetryConfig {
  /** Delay before the first retry; doubles per failed attempt. */
  baseDelayMs: number;
  /** Ceiling of the backoff. */
  maxDelayMs: number;
  /** A 429 without Retry-After holds the whole queue at least this long. */
  rateLimitDelayMs: number;
}

export const DEFAULT_RETRY: RetryConfig = { baseDelayMs: 1_000, maxDelayMs: 5 * 60_000, rateLimitDelayMs: 30_000 };

export interface RetryContext {
  /** 1 for the first failure of this capture (since it last made progress). */
  attempt: number;
  /** navigator.onLine at the time of the failure. */
  online: boolean;
  /** [0, 1): injected so tests can pin the jitter. */
  random: () => number;
}

export type RetryDecision =
  /**
   * Try this capture again after `delayMs`; `holdQueueMs` also holds every other start (429);
   * `refreshServerKey`: the server's upload key changed, fetch it before the next attempt.
   */
  | { action: 'retry'; delayMs: number; holdQueueMs?: number; refreshServerKey?: true }
  /** No network: wait for the `online` event; this costs no attempt. */
  | { action: 'wait-online' }
  /** The token was refused: wait for a new one, never drop the capture. */
  | { action: 'wait-token' }
  /** The server refused the X-ray itself: a person must act (`needs-attention`). */
  | { action: 'give-up' };

/** The server's problem code for an upload of a deleted X-ray (410): final on every request. */
export const XRAY_DELETED = 'xray_deleted';

/**
 * The one place that decides what a failed upload attempt means (after uppy's tus plugin):
 * offline waits for the network; 401 waits for a token; 408, 429, 499, 5xx, stalls and network errors are
 * retried with backoff (429 also slows the queue); 409/423 are tus offset or lock conflicts
 * and retried, except a 409 on creation, which means the server already holds other content
 * under this id; a 410 `xray_deleted` (the X-ray was deleted on the server) is final whatever the
 * request; any other 4xx is final and goes to a person with the server's message.
 */
export function decideRetry(
  failure: UploadFailure,
  ctx: RetryContext,
  config: RetryConfig = DEFAULT_RETRY,
): RetryDecision {
  const backoff = (): number =>
    backoffDelay(ctx.attempt, { baseMs: config.baseDelayMs, maxMs: config.maxDelayMs }, ctx.random);
  switch (failure.kind) {
    case 'network':
    case 'stalled':
      return ctx.online ? { action: 'retry', delayMs: backoff() } : { action: 'wait-online' };
    case 'unconfirmed':
      return { action: 'retry', delayMs: backoff() };
    case 'mismatch':
    case 'untrusted-key':
    case 'local':
      return { action: 'give-up' };
    case 'http': {
      const { status, method } = failure;
      if (status === 401) return { action: 'wait-token' };
      if (status === 429) {
        const hold = Math.max(failure.retryAfterMs ?? config.rateLimitDelayMs, backoff());
        return { action: 'retry', delayMs: hold, holdQueueMs: hold };
      }
      if (status === 409 && method === 'POST') return { action: 'give-up' };
      // The X-ray was deleted on the server (by an administrator): its id is never stored again,
      // whichever request learnt it (the creation, or the last PATCH of an upload begun before).
      if (status === 410 && failure.problem?.code === XRAY_DELETED) return { action: 'give-up' };
      const staleKey = failure.problem?.errors?.some(
        (e) => e.field === STALE_UPLOAD_KEY.field && e.message === STALE_UPLOAD_KEY.message,
      );
      if (status === 400 && staleKey) return { action: 'retry', delayMs: backoff(), refreshServerKey: true };
      // 499: the server believed this client had gone. Hearing it proves otherwise (a reset on one
      // of the server's own connections, found by the soak): nothing was stored, so send again.
      if (status === 408 || status === 409 || status === 423 || status === 499 || status >= 500) {
        return { action: 'retry', delayMs: Math.max(failure.retryAfterMs ?? 0, backoff()) };
      }
      // The upload is gone from the server (it expired while the device was away, or was ended):
      // not the X-ray's fault. The next attempt's HEAD gets the same answer, so tus drops the
      // stored URL and creates a new upload (found by the soak run, soak/README.md).
      if ((status === 404 || status === 410) && (method === 'PATCH' || method === 'HEAD'))
        return { action: 'retry', delayMs: backoff() };
      if (status >= 400) return { action: 'give-up' };
      // A 1xx/2xx/3xx that the upload could not use: treat like a broken exchange.
      return { action: 'retry', delayMs: backoff() };
    }
  }
}
