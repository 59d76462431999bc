/**
 * What one relay has seen of each sink lately: failures in a row since its last success. Two or
 * more is an outage (one failure between successes is that event's problem, not the sink's).
 * During an outage one waiting delivery at a time probes the sink at least every
 * `probeIntervalMs` (the others wait out their own backoff); the first success after an outage
 * says the sink is back, and whatever waited for it should go at once (OutboxRelay).
 *
 * In memory, per instance: it only makes recovery prompt. Correctness (at least once, in order,
 * dead after `maxAttempts`) stays with the outbox rows.
 */
export class SinkOutages {
  readonly #sinks = new Map<string, { inARow: number; probeUntil: number }>();

  constructor(
    private readonly probeIntervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * A delivery to `sink` failed; `unreachable`: the sink was not there (refused, 502/503/429),
   * never counted towards dead. Returns the longest this delivery may wait when it is the one to
   * probe the sink, else undefined (its own backoff applies).
   */
  failed(sink: string, unreachable: boolean): number | undefined {
    const s = this.#sinks.get(sink) ?? { inARow: 0, probeUntil: 0 };
    s.inARow++;
    this.#sinks.set(sink, s);
    // Only an unreachable sink is probed faster: such failures never make an event dead.
    if (!unreachable || s.inARow < 2 || s.probeUntil > this.now()) return undefined;
    s.probeUntil = this.now() + this.probeIntervalMs;
    return this.probeIntervalMs;
  }

  /** A delivery to `sink` succeeded: true when that ends an outage (what waits for the sink may go now). */
  succeeded(sink: string): boolean {
    const wasDown = (this.#sinks.get(sink)?.inARow ?? 0) >= 2;
    this.#sinks.delete(sink);
    return wasDown;
  }
}
