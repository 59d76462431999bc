import type { Response } from 'express';
import { DomainError } from '../errors.ts';

/** Seconds a client refused here should wait: a full line means several answers are still being read. */
const RETRY_AFTER_S = 5;

/** What became of one request for a slot (`xray_download_slots_total`'s outcome). */
export type DownloadSlotOutcome = 'at_once' | 'waited' | 'queue_full' | 'timed_out' | 'left';

export interface DownloadSlotSettings {
  /** Answers one user may have streaming at once. */
  perUser: number;
  /** Of that user's requests beyond those, how many may wait their turn. */
  queuePerUser: number;
  /** The longest one waits before it is refused. */
  maxWaitMs: number;
}

/** One request in a user's line: handed a slot, or sent away. */
interface Waiter {
  res: Response;
  grant: () => void;
  /** Its client went away: out of the line, refused as `client_closed`. */
  leave: () => void;
}

interface UserSlots {
  active: number;
  /** First in, first served. */
  waiting: Waiter[];
}

const tooMany = (message: string, details: Record<string, unknown>) =>
  new DomainError('too_many_downloads', message, undefined, { retryAfterS: RETRY_AFTER_S, auditDetails: details });

const clientLeft = () =>
  new DomainError('client_closed', 'The client closed the connection while its download waited for its turn.');

/**
 * Each user's share of the object store's reads. An answer that streams stored bytes holds a store
 * read (on S3 one of the SDK's sockets) for as long as its client takes to read it, so one user
 * who opens many and reads none would make every other user's reads wait. Each user may have
 * `perUser` such answers at once on this instance; more wait in that user's line, in order,
 * without having opened anything (a viewer loading a series' frames at once is served, just not
 * all in parallel), and are refused with 429 `too_many_downloads` only when the line is full or
 * after `maxWaitMs` in it. A slot is held until the response closes: finished, aborted by its
 * client, or cut as stalled (http/stalled-responses.ts). A client that goes away while waiting
 * leaves the line at once.
 */
export class DownloadSlots {
  readonly #users = new Map<string, UserSlots>();

  constructor(
    private readonly settings: DownloadSlotSettings,
    private readonly counted: (outcome: DownloadSlotOutcome) => void = () => undefined,
  ) {}

  /** The user's answers streaming and waiting (tests). */
  load(sub: string): { active: number; waiting: number } {
    const user = this.#users.get(sub);
    return { active: user?.active ?? 0, waiting: user?.waiting.length ?? 0 };
  }

  /**
   * Resolves once one of the user's slots is this response's, held until it closes. Call it after
   * the policy allowed the read and before the store is opened, holding no database connection.
   */
  async take(res: Response, sub: string): Promise<void> {
    if (res.destroyed) throw clientLeft();
    // One close listener of ours at a time (waiting, then holding), beside those a streaming
    // pipeline adds: a download's response already has Node's default of 10 without it.
    res.setMaxListeners(res.getMaxListeners() + 1);
    let user = this.#users.get(sub);
    if (!user) {
      user = { active: 0, waiting: [] };
      this.#users.set(sub, user);
    }
    const { perUser, queuePerUser, maxWaitMs } = this.settings;
    if (user.active < perUser) {
      user.active++;
      this.#holdUntilClosed(res, sub, user);
      this.counted('at_once');
      return;
    }
    if (user.waiting.length >= queuePerUser) {
      this.counted('queue_full');
      throw tooMany(
        `You already have ${user.active} downloads streaming here and ${user.waiting.length} more waiting, the most allowed; try again when some of them have finished.`,
        { streaming: user.active, waiting: user.waiting.length },
      );
    }
    const line = user;
    const since = Date.now();
    await new Promise<void>((resolve, reject) => {
      const out = () => {
        clearTimeout(timer);
        res.off('close', waiter.leave);
        const at = line.waiting.indexOf(waiter);
        if (at >= 0) line.waiting.splice(at, 1);
        this.#forgetIfIdle(sub, line);
      };
      const waiter: Waiter = {
        res,
        grant: () => {
          clearTimeout(timer);
          res.off('close', waiter.leave);
          this.#holdUntilClosed(res, sub, line);
          this.counted('waited');
          resolve();
        },
        leave: () => {
          out();
          this.counted('left');
          reject(clientLeft());
        },
      };
      const timer = setTimeout(() => {
        out();
        this.counted('timed_out');
        reject(
          tooMany(
            `This download waited ${Math.round(maxWaitMs / 1000)} s for one of your ${perUser} downloads streaming here to finish; try again when some of them have finished.`,
            { streaming: line.active, waitedMs: Date.now() - since },
          ),
        );
      }, maxWaitMs);
      res.once('close', waiter.leave);
      line.waiting.push(waiter);
    });
  }

  /** On close, the slot goes to the first in line still there (it stays counted), or is given back. */
  #holdUntilClosed(res: Response, sub: string, user: UserSlots): void {
    res.once('close', () => {
      for (let next = user.waiting.shift(); next; next = user.waiting.shift()) {
        // Gone, its close not yet heard: it leaves now rather than open a read for nobody.
        if (next.res.destroyed) {
          next.leave();
          continue;
        }
        next.grant();
        return;
      }
      user.active--;
      this.#forgetIfIdle(sub, user);
    });
  }

  #forgetIfIdle(sub: string, user: UserSlots): void {
    if (user.active === 0 && user.waiting.length === 0 && this.#users.get(sub) === user) this.#users.delete(sub);
  }
}
