import type { XrayEvent } from '@xray/shared';

/**
 * A place events are delivered to (the Doctor Service webhook, a RabbitMQ exchange). The outbox
 * relay calls `deliver` at least once per event: resolving means the sink has taken the event
 * (2xx, broker confirm), rejecting means try again later. Receivers de-duplicate on `event.id`.
 */
export interface Notifier {
  /** Stable sink name, the key of its delivery state in the outbox (`webhook`, `amqp`). */
  readonly name: string;
  deliver(event: XrayEvent, ctx: DeliveryContext): Promise<void>;
  close(): Promise<void>;
}

export interface DeliveryContext {
  /** 1 for the first try. */
  attempt: number;
  /** Aborted when the relay's lease on this delivery is about to end. */
  signal: AbortSignal;
}

/** A delivery the sink refused or that did not finish; the message is kept as the outbox's last_error. */
export class DeliveryFailed extends Error {
  override name = 'DeliveryFailed';
}
