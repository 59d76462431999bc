import { isIPv6 } from 'node:net';
import type { Request, RequestHandler } from 'express';
import type { AuditEventInput } from '../audit/audit.service.ts';
import { DomainError, isAuthenticationFailure } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';

/**
 * Failed authentications per client address, in windows that open at a client's first failure:
 *
 * - Limit: past `limit` failures in its window, a client's requests that do not authenticate are
 *   answered 429 with Retry-After — at once when they carry no bearer token (nothing to verify),
 *   after verification when they do. A token that verifies is still served: an ambulance fleet
 *   behind one NAT address keeps working while one of its devices (or someone on its network)
 *   sends bad tokens, and a forged token gains nothing from being tried faster.
 * - Audit: the first failure of a window is audited as it happens (its own access.denied event,
 *   request id and all); the rest are counted, and when the window closes one access.denied
 *   event carries their count. A flood adds two rows per client and window, not one per request.
 *
 * In memory, per instance: the count is what keeps an anonymous flood cheap, so it must not cost
 * a database round trip per request; with n instances a client gets at most n × limit failures
 * per window. Open windows are written on stop(); only a crash loses them (the first failure of
 * each is already in the trail).
 */

export interface AuthFailureSettings {
  limit: number;
  windowMs: number;
}

/** Where the aggregated events go (the audit service). */
interface AuditRecorder {
  record(event: AuditEventInput): Promise<unknown>;
}

/** Clients tracked at once; when full, the oldest window is closed (and written) early. */
const MAX_CLIENTS = 10_000;
/** How often closed windows are looked for (at most; shorter windows are swept more often). */
const SWEEP_MS = 1_000;
/** Distinct values kept per tally in the aggregated event; the rest count as "other". */
const MAX_DISTINCT = 5;
const MAX_VALUE_CHARS = 200;

interface FailureWindow {
  client: string;
  from: number;
  until: number;
  last: number;
  count: number;
  /** Of count, answered 429 instead of 401. */
  throttled: number;
  firstRequestId: string | null;
  reasons: Map<string, number>;
  requests: Map<string, number>;
  userAgents: Map<string, number>;
}

interface Failure {
  reason: string;
  method: string;
  path: string;
  requestId: string | null;
  userAgent: string | null;
}

/**
 * Who a failure is counted against: an IPv4 address, or an IPv6 address's /64 (one host or one
 * site: addresses inside it cost an attacker nothing to rotate through).
 */
export function clientKeyOf(ip: string | undefined): string {
  if (!ip) return 'unknown';
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped?.[1]) return mapped[1];
  const address = ip.split('%')[0] ?? ip;
  if (!isIPv6(address)) return ip;
  const [head = '', tail] = address.split('::');
  const groups = (s: string) => (s ? s.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])) : []);
  const [before, after] = [groups(head), groups(tail ?? '')];
  const elided = Array<string>(8 - before.length - after.length).fill('0');
  const all = [...before, ...elided, ...after];
  const prefix = all.slice(0, 4).map((g) => parseInt(g, 16).toString(16));
  return `${prefix.join(':')}::/64`;
}

const hasBearerToken = (req: Request): boolean => /^(Bearer|DPoP)[ ]+\S/i.test(req.headers.authorization ?? '');

function tally(counts: Map<string, number>, value: string): void {
  const key = value.slice(0, MAX_VALUE_CHARS);
  const slot = counts.has(key) || counts.size < MAX_DISTINCT ? key : 'other';
  counts.set(slot, (counts.get(slot) ?? 0) + 1);
}

export class AuthFailureLimiter {
  // Insertion order is opening order, and every window is as long: the first entry closes first.
  readonly #windows = new Map<string, FailureWindow>();
  readonly #writes = new Set<Promise<void>>();
  #sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly settings: AuthFailureSettings,
    private readonly audit: AuditRecorder,
    private readonly log: Logger,
  ) {}

  /** Seconds until `client` is under the limit again; undefined while it is under it. */
  retryAfterS(client: string): number | undefined {
    const w = this.#open(client);
    return w && w.count >= this.settings.limit ? this.#secondsLeft(w) : undefined;
  }

  /**
   * Counts one failed authentication. `first`: it opened its window and is audited on its own;
   * otherwise it is in the window's aggregated event. `retryAfterS`: it is past the limit (429).
   */
  failed(client: string, failure: Failure): { first: boolean; retryAfterS: number | undefined } {
    const now = Date.now();
    let w = this.#open(client);
    const first = !w;
    if (!w) {
      if (this.#windows.size >= MAX_CLIENTS) {
        const oldest = this.#windows.values().next().value;
        if (oldest) this.#close(oldest);
      }
      w = {
        client,
        from: now,
        until: now + this.settings.windowMs,
        last: now,
        count: 0,
        throttled: 0,
        firstRequestId: failure.requestId,
        reasons: new Map(),
        requests: new Map(),
        userAgents: new Map(),
      };
      this.#windows.set(client, w);
      this.#sweeper ??= setInterval(() => this.#closeExpired(), Math.min(SWEEP_MS, this.settings.windowMs)).unref();
    }
    w.count++;
    w.last = now;
    tally(w.reasons, failure.reason);
    tally(w.requests, `${failure.method} ${failure.path}`);
    tally(w.userAgents, failure.userAgent ?? '(none)');
    if (w.count <= this.settings.limit) return { first, retryAfterS: undefined };
    if (w.throttled === 0)
      this.log.warn(
        { client, failures: w.count, windowMs: this.settings.windowMs },
        'too many failed authentications from one client: answering 429 until its window closes',
      );
    w.throttled++;
    return { first, retryAfterS: this.#secondsLeft(w) };
  }

  /**
   * Wraps the authentication middleware: counts its 401s per client (req.ip, which honours
   * TRUST_PROXY) and turns those past the limit into 429s.
   */
  guard(authenticate: RequestHandler): RequestHandler {
    return (req, res, next) => {
      const client = clientKeyOf(req.ip);
      const refuse = (retryAfterS: number) => {
        res.removeHeader('WWW-Authenticate');
        next(
          new DomainError(
            'too_many_requests',
            `Too many failed authentications from this address; try again in ${retryAfterS} s with a valid access token.`,
            undefined,
            { retryAfterS },
          ),
        );
      };
      const failedHere = (reason: string): number | undefined => {
        const { first, retryAfterS } = this.failed(client, {
          reason,
          method: req.method,
          path: req.originalUrl.split('?')[0] ?? '',
          requestId: typeof req.id === 'string' || typeof req.id === 'number' ? String(req.id) : null,
          userAgent: req.get('user-agent') ?? null,
        });
        if (!first) req.audit?.aggregated();
        return retryAfterS;
      };
      // Over the limit and nothing to verify: refused without any work beyond counting it.
      if (this.retryAfterS(client) !== undefined && !hasBearerToken(req)) {
        const retryAfterS = failedHere('Send an access token: Authorization: Bearer <token>.');
        if (retryAfterS !== undefined) return refuse(retryAfterS);
      }
      const done = authenticate(req, res, (err?: unknown) => {
        if (!isAuthenticationFailure(err)) return next(err);
        const retryAfterS = failedHere(err.message);
        if (retryAfterS === undefined) return next(err);
        refuse(retryAfterS);
      });
      if (done instanceof Promise) done.catch(next);
    };
  }

  /** Closes every open window, writing their aggregated events; call before the database pool ends. */
  async stop(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    for (const w of [...this.#windows.values()]) this.#close(w);
    await Promise.all(this.#writes);
  }

  /** The client's window if it is still open (an expired one is closed on the way). */
  #open(client: string): FailureWindow | undefined {
    const w = this.#windows.get(client);
    if (w && Date.now() >= w.until) {
      this.#close(w);
      return undefined;
    }
    return w;
  }

  #secondsLeft(w: FailureWindow): number {
    return Math.max(1, Math.ceil((w.until - Date.now()) / 1000));
  }

  #closeExpired(): void {
    const now = Date.now();
    for (const w of this.#windows.values()) {
      if (w.until > now) break;
      this.#close(w);
    }
    if (this.#windows.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  #close(w: FailureWindow): void {
    this.#windows.delete(w.client);
    // The one failure of a quiet window is already in the trail.
    if (w.count < 2) return;
    const write = this.audit
      .record({
        context: { actor: null, ip: w.client, userAgent: null, requestId: null },
        action: 'access.denied',
        outcome: 'denied',
        details: {
          reason: 'authentication_failed',
          count: w.count,
          // The first failure has an event of its own; this one stands for all of them.
          firstRequestId: w.firstRequestId,
          throttled: w.throttled,
          limit: this.settings.limit,
          window: {
            from: new Date(w.from).toISOString(),
            to: new Date(Math.min(w.until, Date.now())).toISOString(),
            lastFailureAt: new Date(w.last).toISOString(),
          },
          reasons: Object.fromEntries(w.reasons),
          requests: Object.fromEntries(w.requests),
          userAgents: Object.fromEntries(w.userAgents),
        },
      })
      .then(
        () => undefined,
        (err: unknown) =>
          this.log.error({ err, client: w.client, count: w.count }, 'could not audit failed authentications'),
      )
      .finally(() => this.#writes.delete(write));
    this.#writes.add(write);
  }
}
