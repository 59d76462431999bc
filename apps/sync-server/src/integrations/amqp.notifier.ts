import type { ChannelModel, ConfirmChannel } from 'amqplib';
import type { StoredXrayEvent } from '@xray/shared';
import type { Logger } from '../observability/logger.ts';
import { DeliveryFailed, type DeliveryContext, type Notifier } from './notifier.ts';
import { abortable } from '../abortable.ts';

export interface AmqpNotifierOptions {
  url: string;
  /** Durable topic exchange; declared on every (re)connect. */
  exchange: string;
  confirmTimeoutMs: number;
  /** Names the connection in the broker's management tools (`connection_name`). */
  instanceId: string;
  log: Logger;
}

interface Link {
  conn: ChannelModel;
  channel: ConfirmChannel;
}

/**
 * Publishes each event to a durable RabbitMQ topic exchange: routing key = event type, message
 * id = event id, persistent, and resolved only on the broker's publisher confirm.
 *
 * Reconnecting: the connection is opened on first use and dropped when the broker closes it
 * (restart, `rabbitmqctl close_connection`, network loss); the next delivery opens a new one.
 * A publish that was not confirmed is a failed attempt, so the relay retries it with backoff:
 * nothing is lost while the broker is away, and a message whose confirm was lost may arrive
 * twice, with the same message id.
 */
export class AmqpNotifier implements Notifier {
  readonly name = 'amqp';
  private link: Promise<Link> | undefined;
  private closing = false;

  constructor(private readonly opts: AmqpNotifierOptions) {}

  async deliver(event: StoredXrayEvent, ctx: DeliveryContext): Promise<void> {
    if (this.closing) throw new DeliveryFailed('AMQP notifier is closed');
    let link: Link;
    try {
      link = await abortable(this.open(), ctx.signal);
    } catch (err) {
      throw new DeliveryFailed(`AMQP connect failed: ${messageOf(err)}`, { cause: err, unreachable: true });
    }
    const body = Buffer.from(JSON.stringify(event));
    await new Promise<void>((resolve, reject) => {
      const fail = (message: string, cause?: unknown, unreachable = false) => {
        clearTimeout(timer);
        ctx.signal.removeEventListener('abort', onAbort);
        reject(new DeliveryFailed(message, { cause, unreachable }));
      };
      const timer = setTimeout(() => {
        // A confirm that never comes: the channel is not to be trusted any more.
        this.drop(link, 'confirm timeout');
        fail(`no publisher confirm within ${this.opts.confirmTimeoutMs} ms`);
      }, this.opts.confirmTimeoutMs);
      const onAbort = () => fail('delivery aborted (lease ending)');
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      try {
        link.channel.publish(
          this.opts.exchange,
          event.type,
          body,
          {
            persistent: true,
            messageId: event.id,
            type: event.type,
            contentType: 'application/json',
            timestamp: Math.floor(Date.parse(event.occurredAt) / 1000),
            appId: 'xray-sync-server',
          },
          (err: unknown) => {
            if (err) {
              // A nack counts against the event; a channel that closed under it is the broker going away.
              const nacked = messageOf(err).toLowerCase().includes('nack');
              fail(`broker did not confirm: ${messageOf(err)}`, err, !nacked);
              return;
            }
            clearTimeout(timer);
            ctx.signal.removeEventListener('abort', onAbort);
            resolve();
          },
        );
      } catch (err) {
        // The channel closed between open() and publish.
        this.drop(link, 'publish threw');
        fail(`publish failed: ${messageOf(err)}`, err, true);
      }
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    const link = await this.link?.catch(() => undefined);
    this.link = undefined;
    await link?.conn.close().catch(() => undefined);
  }

  private open(): Promise<Link> {
    if (this.link) return this.link;
    const attempt: Promise<Link> = (async () => {
      // Loaded on the first delivery: a server without AMQP_URL never loads the client. (Its
      // CommonJS exports, as `default`: the bundle's lazy chunk has no named ones.)
      const { connect } = (await import('amqplib')).default;
      const conn = await connect(this.opts.url, {
        clientProperties: { connection_name: `xray-sync-server ${this.opts.instanceId}` },
        timeout: this.opts.confirmTimeoutMs,
      });
      const forget = () => {
        if (this.link === attempt) this.link = undefined;
      };
      conn.on('error', (err: Error) => this.opts.log.warn({ err: err.message }, 'AMQP connection error'));
      conn.on('close', () => {
        forget();
        if (!this.closing) this.opts.log.warn('AMQP connection closed; the next delivery reconnects');
      });
      try {
        const channel = await conn.createConfirmChannel();
        channel.on('error', (err: Error) => this.opts.log.warn({ err: err.message }, 'AMQP channel error'));
        channel.on('close', () => {
          forget();
          void conn.close().catch(() => undefined);
        });
        await channel.assertExchange(this.opts.exchange, 'topic', { durable: true });
        this.opts.log.info({ exchange: this.opts.exchange }, 'AMQP connected');
        return { conn, channel };
      } catch (err) {
        await conn.close().catch(() => undefined);
        throw err;
      }
    })();
    this.link = attempt;
    attempt.catch(() => {
      if (this.link === attempt) this.link = undefined;
    });
    return attempt;
  }

  private drop(link: Link, why: string): void {
    this.opts.log.warn({ why }, 'dropping the AMQP connection');
    void link.conn.close().catch(() => undefined);
  }
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));
