import type { StoredXrayEvent } from '@xray/shared';

/**
 * A place events are delivered to (the Doctor Service webhook, a RabbitMQ exchange). The outbox
 * relay calls `deliver` at least once per event: resolving means the sink has taken the event
 * (2xx, broker confirm), rejecting means try again later. Receivers de-duplicate on `event.id`.
 */
export interface Notifier {
  /** Stable sink name, the key of its delivery state in the outbox (`webhook`, `amqp`). */
  readonly name: string;
  deliver(event: StoredXrayEvent, ctx: DeliveryContext): Promise<void>;
  close(): Promise<void>;
}

export interface DeliveryContext {
  /** 1 for the first try. */
  attempt: number;
  /** Aborted when the relay's lease on this delivery is about to end. */
  signal: AbortSignal;
}

/**
 * A delivery that did not succeed; the message is kept as the outbox's last_error. `unreachable`:
 * the sink could not be reached at all (connection refused or lost, broker down) — an outage,
 * retried with backoff for as long as it lasts, never a reason to give the event up as dead.
 */
export class DeliveryFailed extends Error {
  override name = 'DeliveryFailed';
  readonly unreachable: boolean;
  /** The sink asked to be tried again no sooner than this (a Retry-After). */
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options?: { cause?: unknown; unreachable?: boolean; retryAfterMs?: number }) {
    super(message, options);
    this.unreachable = options?.unreachable ?? false;
    this.retryAfterMs = options?.retryAfterMs;
  }
}
