import type { Request, RequestHandler, Response } from 'express';
import type { Config } from '../config/config.ts';
import type { Pool } from '../db/pool.ts';
import { DpopReplayCache } from '../devices/device.repository.ts';
import { DomainError } from '../errors.ts';
import { verifyDpopProof } from './dpop.proof.ts';

/**
 * The URL the client addressed, as its proof's `htu` names it: under PUBLIC_URL when set (a proxy
 * in front, possibly at a path prefix it strips, as the tus `Location` URLs are), else the scheme
 * and host Express sees (which honour TRUST_PROXY only).
 */
export function requestUrlOf(
  req: Pick<Request, 'originalUrl' | 'protocol' | 'host'>,
  publicUrl: string | undefined,
): URL {
  const base = publicUrl ? new URL(publicUrl) : new URL(`${req.protocol}://${req.host}`);
  // Joined as text, so that a path like `//other.host/x` stays a path under our origin.
  const prefix = base.pathname.replace(/\/+$/, '');
  return new URL(`${base.origin}${prefix}${req.originalUrl.startsWith('/') ? '' : '/'}${req.originalUrl}`);
}

function challenge(
  res: Response,
  algorithms: string[],
  error: 'invalid_dpop_proof' | 'invalid_token',
  description: string,
): void {
  const quoted = (s: string) => `"${s.replace(/[\\"]/g, '\\$&').replace(/\p{Cc}/gu, ' ')}"`;
  res.set(
    'WWW-Authenticate',
    `DPoP error=${quoted(error)}, error_description=${quoted(description)}, algs=${quoted(algorithms.join(' '))}`,
  );
}

/**
 * Device-bound tokens (RFC 9449), after the access token verified:
 *
 * - A token bound to a key (`cnf.jkt`) must come as `Authorization: DPoP <token>` with a `DPoP`
 *   proof signed by that key, for this method and URL, fresh (`iat`), for this token (`ath`), and
 *   never seen before (`jti`, remembered in PostgreSQL so a proof replayed to another instance
 *   fails too). A copied token without its key is useless.
 * - A plain bearer token is accepted only while DPOP_BEARER_ALLOWED and only from roles that need
 *   not use DPoP (doctors' systems); edge devices (DPOP_REQUIRED_ROLES) must.
 * - The key of an enrolled device that was revoked is refused with `device_revoked`, on every
 *   instance at once (looked up per request), except on the route where it reports its wipe.
 *
 * Every refusal is a 401 with its own code, counted and audited like any failed authentication.
 */
export function dpopGuard(deps: { config: Config; pool: Pool }): RequestHandler {
  const settings = deps.config.auth.dpop;
  const replays = new DpopReplayCache(deps.pool, settings.iatWindowS);
  const required = new Set(settings.requiredRoles);

  async function check(req: Request, res: Response): Promise<void> {
    const token = req.accessToken;
    const actor = req.actor;
    // No token was read (authentication disabled, or a test's own authentication): nothing to bind.
    if (!token || !actor) return;
    const refuse = (
      code: 'dpop_required' | 'dpop_invalid' | 'dpop_key_mismatch' | 'dpop_replayed' | 'device_revoked',
      message: string,
    ) => {
      challenge(res, settings.algorithms, code === 'device_revoked' ? 'invalid_token' : 'invalid_dpop_proof', message);
      return new DomainError(code, message);
    };
    if (token.scheme === 'Bearer') {
      if (actor.jkt)
        throw refuse(
          'dpop_required',
          'This access token is bound to a device key: send it as "Authorization: DPoP <token>" with a DPoP proof signed by that key.',
        );
      if (!settings.bearerAllowed)
        throw refuse('dpop_required', 'This server accepts only DPoP-bound access tokens (RFC 9449).');
      const edgeRole = actor.roles.find((r) => required.has(r));
      if (edgeRole)
        throw refuse(
          'dpop_required',
          `Devices of the ${edgeRole} role must prove their key with DPoP (RFC 9449); a plain bearer token is refused.`,
        );
      return;
    }
    const header = req.headers.dpop;
    if (typeof header !== 'string' || header.includes(','))
      throw refuse('dpop_required', 'Send exactly one DPoP proof header with "Authorization: DPoP <token>".');
    if (!actor.jkt)
      throw refuse(
        'dpop_invalid',
        'The access token is not bound to a key (no cnf.jkt); send it as a bearer token or get a DPoP-bound one.',
      );
    const proof = await verifyDpopProof(header, {
      method: req.method,
      url: requestUrlOf(req, deps.config.http.publicUrl),
      accessToken: token.token,
      algorithms: settings.algorithms,
      iatWindowS: settings.iatWindowS,
    }).catch((err: unknown) => {
      if (err instanceof DomainError) throw refuse('dpop_invalid', err.message);
      throw err;
    });
    if (proof.jkt !== actor.jkt)
      throw refuse(
        'dpop_key_mismatch',
        'The DPoP proof is signed by another key than the one the access token is bound to.',
      );
    // One statement: the proof id remembered, and the device its key belongs to.
    const { firstUse, device } = await replays.use(proof.jkt, proof.jti, proof.iat);
    if (!firstUse)
      throw refuse('dpop_replayed', 'This DPoP proof was already used (same jti); each request needs a fresh proof.');
    req.dpopKey = { jkt: proof.jkt, jwk: proof.jwk };
    if (!device) return;
    if (device.revoked_at && !req.allowRevokedDevice)
      throw refuse('device_revoked', 'This device has been revoked by an administrator; its data must be wiped.');
    req.device = { id: device.id, jkt: proof.jkt };
  }

  return (req, res, next) => {
    check(req, res).then(() => next(), next);
  };
}

/** Runs `first`, then (when it let the request through) `second`: one authentication step. */
export function inSequence(first: RequestHandler, second: RequestHandler): RequestHandler {
  return (req, res, next) => {
    const done = first(req, res, (err?: unknown) => {
      if (err !== undefined) return next(err);
      second(req, res, next);
    });
    if (done instanceof Promise) done.catch(next);
  };
}
