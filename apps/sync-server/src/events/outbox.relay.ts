import { randomUUID } from 'node:crypto';
import type { OutboxConfig } from '../config/config.ts';
import type { Pool } from '../db/pool.ts';
import { DeliveryFailed, type Notifier } from '../integrations/notifier.ts';
import type { Logger } from '../observability/logger.ts';
import { backoffDelay } from './backoff.ts';
import { outboxRepository, type ClaimedDelivery } from './outbox.repository.ts';

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
 */
export class OutboxRelay {
  private readonly bySink: Map<string, Notifier>;
  private timer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private readonly inflight = new AbortController();

  constructor(private readonly deps: OutboxRelayDeps) {
    this.bySink = new Map(deps.notifiers.map((n) => [n.name, n]));
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

  /** One turn: claim, deliver, record. Returns how many deliveries it handled. */
  async runOnce(): Promise<number> {
    const { options } = this.deps;
    const token = randomUUID();
    const claimed = await outboxRepository.claim(this.deps.pool, {
      sinks: this.sinks,
      limit: options.batchSize,
      leaseMs: options.leaseMs,
      token,
      claimedBy: this.deps.instanceId,
    });
    await Promise.all(claimed.map((d) => this.deliverOne(d)));
    return claimed.length;
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
    try {
      handled = await this.runOnce();
    } catch (err) {
      this.deps.log.error({ err }, 'outbox relay turn failed');
    }
    // A full batch means more may be due right now.
    this.schedule(handled >= this.deps.options.batchSize ? 0 : this.deps.options.pollIntervalMs);
  }

  private async deliverOne(d: ClaimedDelivery): Promise<void> {
    const { log, pool, options } = this.deps;
    const notifier = this.bySink.get(d.sink);
    if (!notifier) return;
    // Stop well before the lease ends, so no other relay can have claimed it meanwhile.
    const signal = AbortSignal.any([this.inflight.signal, AbortSignal.timeout(Math.floor(options.leaseMs / 2))]);
    const fields = { eventId: d.eventId, type: d.event.type, sink: d.sink, attempt: d.attempt };
    try {
      await notifier.deliver(d.event, { attempt: d.attempt, signal });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      // An unreachable sink is an outage: retried for as long as it lasts, never counted towards dead.
      const counts = !(err instanceof DeliveryFailed && err.unreachable);
      const backoff = backoffDelay(d.attempt, { baseMs: options.backoffBaseMs, maxMs: options.backoffMaxMs });
      // A sink's Retry-After is honoured (up to an hour), never sooner than our own backoff.
      const asked = err instanceof DeliveryFailed ? err.retryAfterMs : undefined;
      const retryInMs = asked === undefined ? backoff : Math.max(backoff, Math.min(asked, 3_600_000));
      const state = await outboxRepository
        .markFailed(pool, d, { error, retryInMs, counts, maxFailures: options.maxAttempts })
        .catch((e: unknown) => {
          log.error({ err: e, ...fields }, 'could not record a failed delivery (the lease will expire)');
          return null;
        });
      if (state === 'dead') log.error({ ...fields, error }, 'event delivery failed for good: parked as dead');
      else log.warn({ ...fields, error, retryInMs, counts, state }, 'event delivery failed; will retry');
      return;
    }
    const kept = await outboxRepository.markDelivered(pool, d).catch((e: unknown) => {
      log.error({ err: e, ...fields }, 'delivered, but could not record it (it will be delivered again)');
      return false;
    });
    log.debug({ ...fields, kept }, 'event delivered');
  }
}
