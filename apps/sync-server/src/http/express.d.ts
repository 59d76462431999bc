import type { Actor } from '../auth/actor.ts';

declare global {
  namespace Express {
    interface Request {
      /** Set by the auth middleware for every authenticated route. */
      actor?: Actor;
      /** The verified access token and the scheme it came in (set with actor). */
      accessToken?: { scheme: 'Bearer' | 'DPoP'; token: string };
      /** The public key this request's DPoP proof was signed with, and its thumbprint (RFC 7638). */
      dpopKey?: { jkt: string; jwk: import('jose').JWK };
      /** The enrolled device whose DPoP key signed this request's proof, if any. */
      device?: { id: string; jkt: string };
      /** This route serves a revoked device too (its wipe report). */
      allowRevokedDevice?: boolean;
    }
  }
}
export {};
