import { DomainError } from '../errors.ts';

/**
 * Decoding holds a whole X-ray and its pixels in memory, so only a few renders run at once
 * (RENDER_CONCURRENCY); a few more wait their turn (RENDER_QUEUE_LIMIT), and past that a request
 * is refused at once with 503 and Retry-After rather than piling up memory or latency.
 */
export class RenderSlots {
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(
    private readonly concurrency: number,
    private readonly queueLimit: number,
    private readonly retryAfterS = 2,
  ) {}

  /** Renders running and waiting (metrics, tests). */
  get load(): { active: number; waiting: number } {
    return { active: this.#active, waiting: this.#waiting.length };
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#active >= this.concurrency) {
      if (this.#waiting.length >= this.queueLimit)
        throw new DomainError(
          'render_busy',
          `Every render slot is busy (${this.concurrency} running, ${this.queueLimit} waiting); try again shortly.`,
          undefined,
          { retryAfterS: this.retryAfterS },
        );
      // The slot is handed over by the one finishing (#active stays counted), so none is taken twice.
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#active++;
    }
    try {
      return await work();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active--;
    }
  }
}
