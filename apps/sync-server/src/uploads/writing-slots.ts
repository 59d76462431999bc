import type { Response } from 'express';
import { UPLOAD_PROBLEM_CODES } from '@xray/shared';
import { DomainError } from '../errors.ts';

/** Seconds a client told "too many at once" should wait: about one 8 MiB chunk on a slow link. */
const RETRY_AFTER_S = 5;

/**
 * Guards the upload-lock pool against greedy clients. Every upload request takes its upload's
 * lock, and so a database connection, for as long as it runs (a PATCH: as long as its body takes;
 * a HEAD or DELETE: while it waits for a busy lock): one user may have only `maxPerUser` of them
 * at once on this instance. (A body that stalls is cut off by http/silent-bodies.ts.)
 */
export class WritingSlots {
  readonly #held = new Map<string, number>();

  constructor(private readonly maxPerUser: number) {}

  /** Takes one of the user's slots until the response is done; throws 429 when they are all taken. */
  take(res: Response, sub: string): void {
    const n = this.#held.get(sub) ?? 0;
    if (n >= this.maxPerUser) {
      throw new DomainError(
        UPLOAD_PROBLEM_CODES.tooMany,
        `You already have ${n} upload requests running here, the most allowed; send this one when one of them ends.`,
        undefined,
        { retryAfterS: RETRY_AFTER_S },
      );
    }
    this.#held.set(sub, n + 1);
    res.once('close', () => {
      const left = (this.#held.get(sub) ?? 1) - 1;
      if (left > 0) this.#held.set(sub, left);
      else this.#held.delete(sub);
    });
  }
}
