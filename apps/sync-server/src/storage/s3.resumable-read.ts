import { Readable } from 'node:stream';

/**
 * When a client-paced read left unread lets go of its S3 response. A client that stops reading
 * holds its socket; one that reads slowly looks much the same from here (the kernel asks for more
 * only once a third of the socket's send buffer is free: at 1 MB/s, every second or two), and
 * each reopen throws away what the dropped response had in flight. So a read lets go quickly only
 * while other reads wait for a connection of its pool, and otherwise only after a long pause.
 */
export interface ReleasePolicy {
  /** Unread this long while other reads wait for a connection: let go. */
  whenPressedMs: number;
  /** Unread this long: let go in any case. */
  idleMs: number;
  /** Whether reads are waiting for a connection of this pool (checked only once a read is unread). */
  pressed: () => boolean;
}

export const RELEASE_UNREAD_WHEN_PRESSED_MS = 1_000;
export const RELEASE_UNREAD_IDLE_MS = 10_000;

export interface ResumableReadSource {
  /** The first response's body: bytes [start, end] of the object. */
  body: Readable;
  start: number;
  /** Inclusive. */
  end: number;
  /**
   * A body for bytes [from, end] of the very object the first response came from; rejects when
   * the object changed or is gone (it must never hand out bytes of another object).
   */
  reopen(from: number, signal: AbortSignal): Promise<Readable>;
}

const ignore = () => undefined;

/**
 * Bytes [start, end] of a stored object, streamed at its consumer's pace, that lets go of the
 * response behind it (and so of its socket) once the consumer has read nothing for a while
 * (ReleasePolicy), and reopens the object at the next byte when the consumer reads again. The
 * consumer sees one continuous stream. Memory: only what this stream had already buffered when
 * it let go (what the dropped response held is read again). Emits 'released' each time it lets go.
 */
export class ResumableRead extends Readable {
  /** The response being read; undefined once let go (or while reopening). */
  #body: Readable | undefined;
  /** Offset of the next byte to deliver. */
  #next: number;
  readonly #end: number;
  /** The consumer wants more than was pushed (so nothing counts as unread). */
  #wanted = false;
  /** When the consumer last stopped taking (push said "enough"), performance.now(). */
  #stoppedAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #reopening: AbortController | undefined;

  constructor(
    private readonly source: ResumableReadSource,
    private readonly policy: ReleasePolicy,
  ) {
    super();
    this.#next = source.start;
    this.#end = source.end;
    this.#attach(source.body);
    this.#stopWanting(); // not read yet: the clock runs from now
  }

  override _read(): void {
    this.#wanted = true;
    if (this.#body) this.#body.resume();
    else if (!this.#reopening) void this.#reopen();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#reopening?.abort();
    this.#detach()?.destroy();
    callback(err);
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#next += chunk.length;
    if (!this.push(chunk)) this.#stopWanting();
  };

  readonly #onEnd = (): void => {
    this.#detach();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#next !== this.#end + 1) {
      this.destroy(new Error(`The object's response ended at byte ${this.#next} of ${this.#end + 1}`));
    } else this.push(null);
  };

  readonly #onError = (err: Error): void => {
    this.destroy(err);
  };

  #attach(body: Readable): void {
    this.#body = body;
    body.on('data', this.#onData);
    body.once('end', this.#onEnd);
    body.once('error', this.#onError);
    if (!this.#wanted) body.pause();
  }

  /** Stops listening to the current response (without destroying it) and returns it. */
  #detach(): Readable | undefined {
    const body = this.#body;
    this.#body = undefined;
    if (!body) return undefined;
    body.off('data', this.#onData);
    body.off('end', this.#onEnd);
    body.off('error', this.#onError);
    body.on('error', ignore); // a response torn down from here on is nobody's error
    return body;
  }

  #stopWanting(): void {
    this.#wanted = false;
    this.#body?.pause();
    this.#stoppedAt = performance.now();
    // One timer at a time, checked when it fires: a steady reader costs no timer per chunk.
    this.#timer ??= setTimeout(this.#onTimer, this.policy.whenPressedMs).unref();
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    if (this.#wanted || !this.#body || this.destroyed) return;
    const { whenPressedMs, idleMs, pressed } = this.policy;
    const unread = performance.now() - this.#stoppedAt;
    if (unread < idleMs && (unread < whenPressedMs || !pressed())) {
      // Looked at again once it could be let go: pressed from now on, or idle long enough.
      const wait = unread < whenPressedMs ? whenPressedMs - unread : Math.min(whenPressedMs, idleMs - unread);
      this.#timer = setTimeout(this.#onTimer, wait).unref();
      return;
    }
    // What the response still held is dropped: #next counts only bytes pushed, so it is read again.
    this.#detach()?.destroy();
    this.emit('released');
  };

  async #reopen(): Promise<void> {
    if (this.#next > this.#end) {
      this.push(null); // everything was delivered before the response's end was seen
      return;
    }
    const reopening = new AbortController();
    this.#reopening = reopening;
    try {
      const body = await this.source.reopen(this.#next, reopening.signal);
      if (this.destroyed) body.destroy();
      else this.#attach(body);
    } catch (err) {
      this.destroy(err as Error);
    } finally {
      this.#reopening = undefined;
    }
  }
}
