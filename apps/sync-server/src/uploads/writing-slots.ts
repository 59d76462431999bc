import type { Request, Response } from 'express';
import { UPLOAD_PROBLEM_CODES } from '@xray/shared';
import { DomainError } from '../errors.ts';

/** Seconds a client told "too many at once" should wait: about one 8 MiB chunk on a slow link. */
const RETRY_AFTER_S = 5;

/**
 * Guards the upload-lock pool against slow and greedy clients. A writing request (PATCH, or a
 * creation with a body) holds an upload's lock, and so a database connection, for as long as its
 * body takes: one user may have only `maxPerUser` of them on this instance, and a body that stalls
 * for `idleMs` is cut off (tus keeps what arrived and releases the lock; the client resumes).
 */
export class WritingSlots {
  readonly #writing = new Map<string, number>();
  readonly #silent = new WeakSet<object>();

  constructor(
    private readonly maxPerUser: number,
    private readonly idleMs: number,
  ) {}

  /** Takes one of the user's slots until the response is done; throws 429 when they are all taken. */
  take(req: Request, res: Response, sub: string): void {
    const n = this.#writing.get(sub) ?? 0;
    if (n >= this.maxPerUser) {
      throw new DomainError(
        UPLOAD_PROBLEM_CODES.tooMany,
        `You are already sending ${n} uploads at once here, the most allowed; send this one when one of them ends.`,
        undefined,
        { retryAfterS: RETRY_AFTER_S },
      );
    }
    this.#writing.set(sub, n + 1);
    res.once('close', () => {
      const left = (this.#writing.get(sub) ?? 1) - 1;
      if (left > 0) this.#writing.set(sub, left);
      else this.#writing.delete(sub);
    });
  }

  /**
   * Ends the request when its body stops arriving for `idleMs`. Once the body is in, silence is
   * the server at work (finalize), not the client stalling, and the timer is off.
   */
  cutWhenSilent(req: Request, res: Response): void {
    const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    if (!hasBody || req.complete) return;
    req.setTimeout(this.idleMs, () => {
      if (req.complete) return;
      this.#silent.add(req);
      req.destroy(new DomainError(UPLOAD_PROBLEM_CODES.idle, 'The client sent nothing for too long.'));
    });
    // Node sets the keep-alive timeout itself once the answer is out; until then, no timer.
    req.once('end', () => {
      const socket = req.socket as (typeof req.socket & { server?: { keepAliveTimeout?: number } }) | undefined;
      // After a refusal the body was only being discarded: back to the keep-alive timeout.
      socket?.setTimeout(res.writableFinished ? (socket.server?.keepAliveTimeout ?? 5_000) : 0);
    });
    // Without a listener, a socket timeout that fires after the body is complete would destroy it.
    res.on('timeout', () => undefined);
    // A refusal answered before its body arrived: Node switches the socket to the keep-alive
    // timeout when the answer is sent, but the client is still meant to be sending; keep watching.
    res.once('finish', () => {
      if (!req.complete) req.socket?.setTimeout(this.idleMs);
    });
  }

  /** Whether the door ended this request because its body stalled. */
  wentSilent(req: object): boolean {
    return this.#silent.has(req);
  }
}
