import type { RequestHandler } from 'express';
import { DomainError } from '../errors.ts';
import { sendProblem } from './problem.ts';

/** The methods declared for a request path, or undefined when nothing is declared there. */
export type MethodsAt = (path: string) => readonly string[] | undefined;

/**
 * 405 for a known path asked with a method it does not take (RFC 9110 §15.5.6), with `Allow`
 * listing the ones it does, as problem+json; a path nothing declares falls through (404).
 * Installed after every route: one mechanism for the whole API, the methods read from the route
 * declarations (the same ones the router mounts and the OpenAPI document shows). Recorded as a
 * denial (`method`) when someone signed in asked; an anonymous request (a public path) is only
 * logged, so it cannot fill the audit trail.
 */
export function methodNotAllowed(methodsAt: MethodsAt): RequestHandler {
  return (req, res, next) => {
    const allowed = methodsAt(req.path);
    if (!allowed?.length || allowed.includes(req.method)) return next();
    const allow = [...new Set(allowed)].sort().join(', ');
    res.set('Allow', allow);
    sendProblem(
      req,
      res,
      new DomainError(
        'method_not_allowed',
        `${req.method} is not a method of ${req.path}; it takes ${allow}.`,
        undefined,
        req.actor ? { denial: 'method' } : undefined,
      ),
    );
  };
}
