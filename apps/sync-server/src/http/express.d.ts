import type { Actor } from '../auth/actor.ts';

declare global {
  namespace Express {
    interface Request {
      /** Set by the auth middleware for every authenticated route. */
      actor?: Actor;
    }
  }
}
export {};
