import type { XrayEvent } from '@xray/shared';
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
 * taken as delivered; everything else (other statuses, timeouts, refused connections) is a
 * failed attempt the relay retries later with backoff, until the event is parked as dead.
 */
export class WebhookNotifier implements Notifier {
  readonly name = 'webhook';

  constructor(private readonly opts: WebhookNotifierOptions) {}

  async deliver(event: XrayEvent, ctx: DeliveryContext): Promise<void> {
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
    if (!res.ok) throw new DeliveryFailed(`webhook answered ${res.status}: ${text.slice(0, 200)}`);
  }

  async close(): Promise<void> {}
}

const causeCode = (err: Error): string => {
  const code: unknown = err.cause instanceof Error ? Reflect.get(err.cause, 'code') : undefined;
  return typeof code === 'string' ? ` (${code})` : '';
};
