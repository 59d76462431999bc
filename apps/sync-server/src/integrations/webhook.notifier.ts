import type { StoredXrayEvent } from '@xray/shared';
import { DeliveryFailed, type DeliveryContext, type Notifier } from './notifier.ts';
import { signWebhook, WEBHOOK_HEADERS } from './webhook.signature.ts';

export interface WebhookNotifierOptions {
  url: string;
  secret: string;
  timeoutMs: number;
  /** Names the sending instance in User-Agent (helps the receiver's logs). */
  instanceId: string;
}

/**
 * POSTs each event as JSON to the Doctor Service, signed (see webhook.signature.ts). Any 2xx is
 * taken as delivered. No connection, 502, 503 or 429 is an outage: retried with backoff (no sooner
 * than a Retry-After) for as long as it lasts. Any other status, or no answer in time, is a
 * refusal the relay retries later with backoff, until the event is parked as dead.
 */
export class WebhookNotifier implements Notifier {
  readonly name = 'webhook';

  constructor(private readonly opts: WebhookNotifierOptions) {}

  async deliver(event: StoredXrayEvent, ctx: DeliveryContext): Promise<void> {
    const body = JSON.stringify(event);
    const timestamp = Math.floor(Date.now() / 1000);
    let res: Response;
    try {
      res = await fetch(this.opts.url, {
        method: 'POST',
        body,
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': `xray-sync-server (${this.opts.instanceId})`,
          [WEBHOOK_HEADERS.eventId]: event.id,
          [WEBHOOK_HEADERS.eventType]: event.type,
          [WEBHOOK_HEADERS.timestamp]: String(timestamp),
          [WEBHOOK_HEADERS.signature]: signWebhook(this.opts.secret, timestamp, body),
          [WEBHOOK_HEADERS.attempt]: String(ctx.attempt),
        },
        signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(this.opts.timeoutMs)]),
        redirect: 'error',
      });
    } catch (err) {
      // No answer in time counts against the event; no connection at all is an outage.
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      const detail = err instanceof Error ? `${err.message}${causeCode(err)}` : String(err);
      throw new DeliveryFailed(`webhook POST failed: ${detail}`, { cause: err, unreachable: !timedOut });
    }
    const text = await res.text().catch(() => '');
    if (res.ok) return;
    // 503 (maintenance), 502 (a proxy whose upstream is down: nginx's answer when the Doctor
    // Service refuses connections) and 429 (slow down) say "not now", not "not this event": an
    // outage, retried for as long as it lasts and never counted towards dead. (504, like our own
    // timeout, may be this event hanging the consumer: it counts.)
    const outage = res.status === 502 || res.status === 503 || res.status === 429;
    throw new DeliveryFailed(`webhook answered ${res.status}: ${text.slice(0, 200)}`, {
      unreachable: outage,
      retryAfterMs: outage ? retryAfterMsOf(res.headers.get('retry-after')) : undefined,
    });
  }

  async close(): Promise<void> {}
}

/** Retry-After as seconds or an HTTP date, in ms from now; undefined when absent or unreadable. */
export function retryAfterMsOf(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const causeCode = (err: Error): string => {
  const code: unknown = err.cause instanceof Error ? Reflect.get(err.cause, 'code') : undefined;
  return typeof code === 'string' ? ` (${code})` : '';
};
