import type { RequestHandler } from 'express';
import { ROLES } from '@xray/shared';
import { ConfigError, type AuthConfig } from '../config/config.ts';
import type { Logger } from '../observability/logger.ts';
import { authenticate } from './authenticate.middleware.ts';
import { JwtVerifier } from './jwt.verifier.ts';

export interface Authentication {
  /** Sets req.actor or answers 401/503; mounted before every API route. */
  authenticate: RequestHandler;
  /** Readiness: throws while tokens cannot be verified (issuer not discovered yet). */
  check(): Promise<void>;
  stop(): void;
  /**
   * Settles when the issuer is discovered, or after the start's wait for it (then the server is
   * not ready until it is): the server prepares its database meanwhile and listens after it.
   */
  started: Promise<void>;
}

/** Authentication by a handler of its own, with no issuer to wait for: always ready. */
export const issuerless = (handler: RequestHandler): Authentication => ({
  authenticate: handler,
  check: async () => undefined,
  stop: () => undefined,
  started: Promise.resolve(),
});

/** AUTH_DISABLED (development and tests only, refused in production): every request is one local user. */
const localDeveloper: RequestHandler = (req, _res, next) => {
  req.actor = { sub: 'local-dev', name: 'Local developer', roles: [...ROLES] };
  next();
};

/**
 * Builds authentication from config: bearer JWTs from OIDC_ISSUER, or, only when the config says
 * AUTH_DISABLED=true, the local developer. No issuer and not disabled is a configuration error:
 * there is no silent fallback to "everyone is admin".
 */
export async function createAuthentication(config: AuthConfig, log: Logger): Promise<Authentication> {
  if (config.disabled) {
    log.warn('AUTH_DISABLED=true: every request acts as the local developer with every role');
    return issuerless(localDeveloper);
  }
  if (!config.issuer)
    throw new ConfigError(
      'Invalid configuration:\n  OIDC_ISSUER: not set (in development `npm start` runs a dev issuer; for tests without tokens set AUTH_DISABLED=true)',
    );
  const verifier = new JwtVerifier({ ...config, issuer: config.issuer }, log);
  return {
    authenticate: authenticate(verifier, log),
    check: () => verifier.check(),
    stop: () => verifier.stop(),
    started: verifier.start(),
  };
}
