import { setTimeout as sleep } from 'node:timers/promises';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import { LRUCache } from 'lru-cache';
import { allowInsecureRequests, discovery, None } from 'openid-client';
import { backoffDelay, isRole, type Role } from '@xray/shared';
import type { AuthConfig } from '../config/config.ts';
import type { Logger } from '../observability/logger.ts';
import type { Actor } from './actor.ts';

/** The token is missing its mark: expired, wrong issuer or audience, bad signature… (401 invalid_token). */
export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
  constructor(
    /** Safe to show the client (RFC 6750 error_description). */
    readonly description: string,
    options?: { cause?: unknown },
  ) {
    super(description, options);
  }
}

/**
 * A genuine token (its signature checked, now or when it was first verified) that is past its exp:
 * the client refreshes it (401 token_expired), unlike a token that never was valid.
 */
export class ExpiredTokenError extends InvalidTokenError {
  override name = 'ExpiredTokenError';
}

/** The issuer (discovery or its JWKS) cannot be reached right now: not the client's fault (503). */
export class IssuerUnavailableError extends Error {
  override name = 'IssuerUnavailableError';
}

export interface TokenVerifier {
  /** The actor a bearer token stands for; throws InvalidTokenError or IssuerUnavailableError. */
  verify(token: string): Promise<Actor>;
}

type VerifierSettings = Omit<AuthConfig, 'disabled' | 'issuer' | 'devIssuerPort' | 'failures'> & { issuer: string };

type Discovered = { issuer: string; jwks: ReturnType<typeof createRemoteJWKSet> };

const FIRST_RETRY_MS = 500;
/** Verified tokens remembered (a client sends the same token with every request until it expires). */
const VERIFIED_MAX = 10_000;
/** How long a verified token is trusted without checking its signature again (a key the issuer withdraws stops working within this). */
const VERIFIED_TTL_MS = 60_000;
const MAX_RETRY_MS = 30_000;
const DISCOVERY_TIMEOUT_S = 10;

/** RFC 9068 §2.1 media type of a JWT access token, without and with the `application/` prefix. */
const ACCESS_TOKEN_TYPES = new Set(['at+jwt', 'application/at+jwt']);
const PLAIN_JWT_TYPES = new Set(['jwt', 'application/jwt']);

/**
 * Verifies bearer access tokens against an OIDC issuer. Discovery runs in the background with
 * capped exponential backoff: an issuer that is down at startup makes this instance not ready
 * (/readyz 503, API 503) instead of crashing it in a loop or blocking startup forever; it becomes
 * ready by itself once the issuer answers.
 */
export class JwtVerifier implements TokenVerifier {
  #discovered: Discovered | undefined;
  #lastError = 'discovery has not run yet';
  #stopped = new AbortController();
  #loop: Promise<void> | undefined;
  // The signature check (RSA/ECDSA) is most of the cost of an authenticated read. The key is the
  // exact token text, so only those very bytes hit; exp and nbf are checked again on every hit.
  #verified = new LRUCache<string, { actor: Actor; exp: number; nbf: number | undefined }>({
    max: VERIFIED_MAX,
    ttl: VERIFIED_TTL_MS,
  });

  constructor(
    private readonly settings: VerifierSettings,
    private readonly log: Logger,
  ) {}

  /** Starts discovery; resolves once discovered or after `waitMs`, whichever comes first (retries go on). */
  async start(waitMs = 5_000): Promise<void> {
    this.#loop ??= this.#discoverUntilDone();
    await Promise.race([this.#loop, sleep(waitMs, undefined, { signal: this.#stopped.signal }).catch(() => undefined)]);
    if (!this.#discovered)
      this.log.warn(
        { issuer: this.settings.issuer, reason: this.#lastError },
        'OIDC issuer not reachable yet; not ready until it is (retrying)',
      );
  }

  stop(): void {
    this.#stopped.abort();
  }

  /** For /readyz: throws while the issuer has not been discovered. */
  async check(): Promise<void> {
    if (!this.#discovered) throw new Error(`OIDC issuer ${this.settings.issuer} not discovered: ${this.#lastError}`);
  }

  async #discoverUntilDone(): Promise<void> {
    for (let attempt = 0; !this.#stopped.signal.aborted; attempt++) {
      try {
        this.#discovered = await this.#discover();
        this.log.info({ issuer: this.#discovered.issuer }, 'OIDC issuer discovered');
        return;
      } catch (err) {
        this.#lastError = err instanceof Error ? err.message : String(err);
        const delay = backoffDelay(attempt + 1, { baseMs: FIRST_RETRY_MS, maxMs: MAX_RETRY_MS });
        if (attempt > 0)
          this.log.warn(
            { issuer: this.settings.issuer, reason: this.#lastError, retryInMs: delay },
            'OIDC discovery failed',
          );
        await sleep(delay, undefined, { signal: this.#stopped.signal }).catch(() => undefined);
      }
    }
  }

  async #discover(): Promise<Discovered> {
    const issuerUrl = new URL(this.settings.issuer);
    // Plain HTTP is only reachable here for loopback in production (config guard) or in development.
    const insecure = issuerUrl.protocol === 'http:';
    // We are a resource server, not a client: the client id is never used for a request.
    const oidc = await discovery(issuerUrl, this.settings.audience, undefined, None(), {
      execute: insecure ? [allowInsecureRequests] : [],
      timeout: DISCOVERY_TIMEOUT_S,
    });
    const meta = oidc.serverMetadata();
    if (!meta.jwks_uri) throw new Error('the issuer publishes no jwks_uri');
    const jwksUri = new URL(meta.jwks_uri);
    if (jwksUri.protocol !== 'https:' && !insecure) throw new Error(`jwks_uri ${meta.jwks_uri} is not https`);
    return {
      issuer: meta.issuer,
      // An unknown kid refetches the key set, at most once per cooldown: rotation works without a
      // restart, and a flood of made-up kids cannot turn us into a load generator against the issuer.
      jwks: createRemoteJWKSet(jwksUri, {
        cooldownDuration: this.settings.jwksCooldownS * 1000,
        timeoutDuration: 5_000,
      }),
    };
  }

  async verify(token: string): Promise<Actor> {
    const hit = this.#verified.get(token);
    if (hit) {
      const now = Date.now() / 1000;
      const leeway = this.settings.clockToleranceS;
      if (now - leeway >= hit.exp) {
        this.#verified.delete(token);
        throw new ExpiredTokenError('The access token has expired.');
      }
      if (hit.nbf === undefined || now + leeway >= hit.nbf) return { ...hit.actor, roles: [...hit.actor.roles] };
    }
    const discovered = this.#discovered;
    if (!discovered)
      throw new IssuerUnavailableError(`The identity provider has not been reached yet: ${this.#lastError}`);
    let payload: JWTPayload;
    let typ: unknown;
    try {
      ({
        payload,
        protectedHeader: { typ },
      } = await jwtVerify(token, discovered.jwks, {
        issuer: discovered.issuer,
        audience: this.settings.audience,
        algorithms: this.settings.algorithms,
        clockTolerance: this.settings.clockToleranceS,
        // RFC 9068 §2.2 requires iat; jose checks it is a number, we check it is not in the future.
        requiredClaims: ['exp', 'sub', 'iat'],
      }));
    } catch (err) {
      throw classifyVerificationError(err);
    }
    this.#checkAccessTokenProfile(typ, Number(payload.iat));
    const actor = actorFromClaims(payload, this.settings.rolesClaim);
    // requiredClaims guarantees exp.
    this.#verified.set(token, { actor, exp: Number(payload.exp), nbf: payload.nbf });
    return actor;
  }

  /**
   * What jose leaves to us: the header marks an access token, not another JWT of the same issuer
   * (an ID token, a logout token), and it was not issued in the future — such a token would
   * outlive what its exp seems to promise, or comes from a clock or signer gone wrong.
   */
  #checkAccessTokenProfile(typ: unknown, iat: number): void {
    const type = typeof typ === 'string' ? typ.toLowerCase() : undefined;
    const accepted =
      type !== undefined && (ACCESS_TOKEN_TYPES.has(type) || (this.settings.acceptJwtTyp && PLAIN_JWT_TYPES.has(type)));
    if (!accepted)
      throw new InvalidTokenError(
        `The token is not an access token: its header typ is not at+jwt (RFC 9068)${this.settings.acceptJwtTyp ? ' or JWT' : ''}.`,
      );
    if (iat > Date.now() / 1000 + this.settings.clockToleranceS)
      throw new InvalidTokenError('The access token was issued in the future.');
  }
}

function classifyVerificationError(err: unknown): Error {
  if (err instanceof errors.JWKSTimeout)
    return new IssuerUnavailableError('The identity provider did not answer in time.', { cause: err });
  // jose checks the claims only once the signature verified: an expired token here is a genuine one.
  if (err instanceof errors.JWTExpired) return new ExpiredTokenError('The access token has expired.', { cause: err });
  if (err instanceof errors.JWTClaimValidationFailed) {
    const why: Record<string, string> = {
      nbf: 'The access token is not valid yet.',
      iat: 'The access token has an invalid issue time (iat).',
      iss: 'The access token was issued by an issuer this API does not trust.',
      aud: 'The access token is not meant for this API (audience).',
      exp: 'The access token has no expiry.',
      sub: 'The access token names no subject.',
    };
    const missingIat = err.claim === 'iat' && err.reason === 'missing';
    return new InvalidTokenError(
      missingIat
        ? 'The access token has no issue time (iat).'
        : (why[err.claim] ?? `The access token's "${err.claim}" claim is invalid.`),
      { cause: err },
    );
  }
  if (err instanceof errors.JOSEAlgNotAllowed)
    return new InvalidTokenError('The access token is signed with an algorithm this API does not accept.', {
      cause: err,
    });
  if (err instanceof errors.JWKSNoMatchingKey)
    return new InvalidTokenError('The access token is signed with a key the issuer does not publish.', {
      cause: err,
    });
  if (err instanceof errors.JWSSignatureVerificationFailed)
    return new InvalidTokenError('The access token signature is invalid.', { cause: err });
  if (err instanceof errors.JOSEError) return new InvalidTokenError('The access token is malformed.', { cause: err });
  // Anything else is the key set fetch failing (network, issuer down): not the token's fault.
  return new IssuerUnavailableError('The identity provider could not be reached to check the token.', {
    cause: err,
  });
}

/** Follows a dotted claim path (`realm_access.roles`) through the token's claims. */
function claimAt(claims: unknown, path: string[]): unknown {
  let node = claims;
  for (const key of path) {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return undefined;
    node = Object.getOwnPropertyDescriptor(node, key)?.value;
  }
  return node;
}

/** The roles this service knows, from the configured claim (an array, or a space-separated string). */
export function rolesFromClaims(claims: JWTPayload, path: string[]): Role[] {
  const raw = claimAt(claims, path);
  const values = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(/\s+/) : [];
  return [...new Set(values.filter(isRole))];
}

export function actorFromClaims(claims: JWTPayload, rolesClaim: string[]): Actor {
  const name = typeof claims.name === 'string' ? claims.name : undefined;
  const username = typeof claims.preferred_username === 'string' ? claims.preferred_username : undefined;
  const jkt = claimAt(claims, ['cnf', 'jkt']);
  const clientId = typeof claims.client_id === 'string' ? claims.client_id : claims.azp;
  // requiredClaims guarantees sub.
  return {
    sub: String(claims.sub),
    name: name ?? username ?? null,
    roles: rolesFromClaims(claims, rolesClaim),
    ...(typeof jkt === 'string' ? { jkt } : {}),
    ...(typeof clientId === 'string' ? { clientId } : {}),
  };
}
