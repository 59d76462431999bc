import type { Request, RequestHandler, Response } from 'express';
import type { Actor } from './actor.ts';
import { DomainError } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import { ExpiredTokenError, InvalidTokenError, IssuerUnavailableError, type TokenVerifier } from './jwt.verifier.ts';

const REALM = 'xray';

/** RFC 7235 quoted-string: escape backslash and quote; control characters become spaces. */
const quoted = (s: string): string => {
  const printable = [...s].map((c) => (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f ? ' ' : c)).join('');
  return `"${printable.replace(/[\\"]/g, '\\$&')}"`;
};

function challenge(res: Response, error?: { code: 'invalid_token'; description: string }): void {
  const params = [`realm=${quoted(REALM)}`];
  if (error) params.push(`error=${quoted(error.code)}`, `error_description=${quoted(error.description)}`);
  res.set('WWW-Authenticate', `Bearer ${params.join(', ')}`);
}

/**
 * Requires `Authorization: Bearer <access token>` (or `DPoP <access token>`, RFC 9449: its proof
 * is checked by the DPoP guard that runs next) and sets req.actor and req.accessToken. Only the header is read:
 * tokens in query strings end up in logs and browser history.
 * - no credentials → 401 with a bare challenge (RFC 6750 §3.1: no error code)
 * - a token that does not verify → 401 with error="invalid_token" and why (problem code
 *   `token_expired` for a genuine one past its exp, `unauthenticated` otherwise)
 * - the issuer cannot be reached → 503 (the token may be fine; try again)
 */
export function authenticate(verifier: TokenVerifier, log: Logger): RequestHandler {
  return async (req, res, next) => {
    const header = req.headers.authorization;
    const match = header ? /^(Bearer|DPoP)[ ]+([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(header) : null;
    if (!header || !/^(Bearer|DPoP)(\s|$)/i.test(header)) {
      challenge(res);
      next(new DomainError('unauthenticated', 'Send an access token: Authorization: Bearer <token>.'));
      return;
    }
    const [, scheme, token] = match ?? [];
    if (!scheme || !token) {
      const description = 'The Authorization header is not a well-formed bearer token.';
      challenge(res, { code: 'invalid_token', description });
      next(new DomainError('unauthenticated', description));
      return;
    }
    try {
      req.actor = await verifier.verify(token);
      req.accessToken = { scheme: scheme.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer', token };
      next();
    } catch (err) {
      if (err instanceof InvalidTokenError) {
        log.info({ reason: err.description, cause: String(err.cause) }, 'access token refused');
        challenge(res, { code: 'invalid_token', description: err.description });
        // Its own code: a client refreshes an expired token, and needs a person for any other.
        next(new DomainError(err instanceof ExpiredTokenError ? 'token_expired' : 'unauthenticated', err.description));
      } else if (err instanceof IssuerUnavailableError) {
        log.warn({ err }, 'cannot verify access tokens: identity provider unavailable');
        res.set('Retry-After', '5');
        next(new DomainError('unavailable', err.message, undefined, { cause: err }));
      } else {
        next(err);
      }
    }
  };
}

/** The actor authenticate() set; a route reached without one answers 401. */
export function actorOf(req: Request): Actor {
  if (!req.actor) throw new DomainError('unauthenticated', 'Sign in to use this API.');
  return req.actor;
}
