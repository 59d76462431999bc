import { randomUUID } from 'node:crypto';
import { backoffDelay } from '@xray/shared';
import type { OutboxConfig } from '../config/config.ts';
import type { Pool } from '../db/pool.ts';
import { DeliveryFailed, type Notifier } from '../integrations/notifier.ts';
import type { Logger } from '../observability/logger.ts';
import { outboxRepository, type ClaimedDelivery } from './outbox.repository.ts';
import { SinkOutages } from './sink-outages.ts';

/** How often each instance prunes delivered events, and how many at most per statement. */
const PRUNE_EVERY_MS = 60 * 60 * 1000;
const PRUNE_BATCH = 1000;

export interface OutboxRelayDeps {
  pool: Pool;
  notifiers: readonly Notifier[];
  log: Logger;
  /** Names this instance in claimed rows and logs. */
  instanceId: string;
  /** OUTBOX_* settings. */
  options: OutboxConfig;
}

/**
 * Delivers the outbox, at least once, on every instance. Each turn claims a batch of due
 * deliveries (FOR UPDATE SKIP LOCKED: two relays never take the same row) under a lease, hands
 * each to its notifier, and records the outcome: delivered, or due again after an exponential
 * backoff with jitter, or — after `maxAttempts` — dead, for an admin to look at and retry.
 * A relay that dies mid-delivery leaves the row to be claimed again when its lease ends.
 * An unreachable sink is probed at least every `probeIntervalMs`, and the first delivery it takes
 * after an outage makes everything that waited for it due at once, its backoff started over.
 */
export class OutboxRelay {
  private readonly bySink: Map<string, Notifier>;
  private timer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private readonly inflight = new AbortController();
  private readonly outages: SinkOutages;

  constructor(private readonly deps: OutboxRelayDeps) {
    this.bySink = new Map(deps.notifiers.map((n) => [n.name, n]));
    this.outages = new SinkOutages(deps.options.probeIntervalMs);
  }

  get sinks(): string[] {
    return [...this.bySink.keys()];
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    // Pruning runs even without sinks: events written then would otherwise pile up for ever.
    this.pruneTimer = setInterval(() => void this.prune(), PRUNE_EVERY_MS);
    this.pruneTimer.unref();
    void this.prune();
    if (this.bySink.size > 0) this.schedule(0);
  }

  /** Removes delivered events past their retention, a batch at a time; returns how many. */
  async prune(): Promise<number> {
    let removed = 0;
    try {
      for (;;) {
        const n = await outboxRepository.prune(this.deps.pool, {
          olderThanMs: this.deps.options.retentionMs,
          limit: PRUNE_BATCH,
        });
        removed += n;
        if (n < PRUNE_BATCH || this.stopped) break;
      }
    } catch (err) {
      this.deps.log.error({ err }, 'outbox pruning failed (retried next hour)');
    }
    if (removed) this.deps.log.info({ removed }, 'pruned delivered outbox events past their retention');
    return removed;
  }

  /** Stops claiming; waits for the running turn (its deliveries are aborted if they outlast the grace). */
  async stop(graceMs = 5000): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.pruneTimer);
    const abort = setTimeout(() => this.inflight.abort(new Error('relay stopping')), graceMs);
    await this.running;
    clearTimeout(abort);
    await Promise.all(this.deps.notifiers.map((n) => n.close().catch(() => undefined)));
  }

  /**
   * One turn: claim, deliver, record. Returns how many deliveries it handled, and how many waiting
   * ones were made due because their sink answered again (they go out on the next turn, at once).
   */
  async runOnce(): Promise<number> {
    return (await this.turnOnce()).handled;
  }

  private async turnOnce(): Promise<{ handled: number; resumed: number }> {
    const { options } = this.deps;
    const token = randomUUID();
    const claimed = await outboxRepository.claim(this.deps.pool, {
      sinks: this.sinks,
      limit: options.batchSize,
      leaseMs: options.leaseMs,
      token,
      claimedBy: this.deps.instanceId,
    });
    const backAfterOutage = await Promise.all(claimed.map((d) => this.deliverOne(d)));
    // A sink that takes a delivery after an outage is back: what waited for it goes now, not when
    // each backoff would have ended (minutes, after a long outage).
    let resumed = 0;
    for (const sink of new Set(claimed.filter((_, i) => backAfterOutage[i]).map((d) => d.sink))) {
      resumed += await outboxRepository.resumeSink(this.deps.pool, sink).catch((err: unknown) => {
        this.deps.log.warn({ err, sink }, 'could not make waiting deliveries due (their backoff runs on)');
        return 0;
      });
    }
    if (resumed) this.deps.log.info({ resumed }, 'a sink answers again: waiting deliveries are due now');
    return { handled: claimed.length, resumed };
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.turn();
    }, delayMs);
    this.timer.unref();
  }

  private async turn(): Promise<void> {
    let handled = 0;
    let resumed = 0;
    try {
      ({ handled, resumed } = await this.turnOnce());
    } catch (err) {
      this.deps.log.error({ err }, 'outbox relay turn failed');
    }
    // A full batch, or deliveries just made due, means more is due right now.
    this.schedule(handled >= this.deps.options.batchSize || resumed > 0 ? 0 : this.deps.options.pollIntervalMs);
  }

  /** Delivers one claimed delivery and records the outcome; true when its success ends an outage of its sink. */
  private async deliverOne(d: ClaimedDelivery): Promise<boolean> {
    const { log, pool, options } = this.deps;
    const notifier = this.bySink.get(d.sink);
    if (!notifier) return false;
    // Stop well before the lease ends, so no other relay can have claimed it meanwhile.
    const signal = AbortSignal.any([this.inflight.signal, AbortSignal.timeout(Math.floor(options.leaseMs / 2))]);
    const fields = { eventId: d.eventId, type: d.event.type, sink: d.sink, attempt: d.attempt };
    try {
      await notifier.deliver(d.event, { attempt: d.attempt, signal });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      // An unreachable sink is an outage: retried for as long as it lasts, never counted towards dead.
      const counts = !(err instanceof DeliveryFailed && err.unreachable);
      // Grows with the attempts since the sink last answered, not since the event was written.
      const backoff = backoffDelay(d.backoffAttempt, { baseMs: options.backoffBaseMs, maxMs: options.backoffMaxMs });
      // During an outage one delivery probes the sink every so often, whatever its own backoff.
      const probeMs = this.outages.failed(d.sink, !counts);
      const own = probeMs === undefined ? backoff : Math.min(backoff, probeMs);
      // A sink's Retry-After is honoured (up to an hour), never sooner than our own backoff.
      const asked = err instanceof DeliveryFailed ? err.retryAfterMs : undefined;
      const retryInMs = asked === undefined ? own : Math.max(own, Math.min(asked, 3_600_000));
      const state = await outboxRepository
        .markFailed(pool, d, { error, retryInMs, counts, maxFailures: options.maxAttempts })
        .catch((e: unknown) => {
          log.error({ err: e, ...fields }, 'could not record a failed delivery (the lease will expire)');
          return null;
        });
      if (state === 'dead') log.error({ ...fields, error }, 'event delivery failed for good: parked as dead');
      else log.warn({ ...fields, error, retryInMs, counts, state }, 'event delivery failed; will retry');
      return false;
    }
    const kept = await outboxRepository.markDelivered(pool, d).catch((e: unknown) => {
      log.error({ err: e, ...fields }, 'delivered, but could not record it (it will be delivered again)');
      return false;
    });
    log.debug({ ...fields, kept }, 'event delivered');
    return this.outages.succeeded(d.sink);
  }
}
