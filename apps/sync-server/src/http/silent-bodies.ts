import type { Request, RequestHandler } from 'express';
import { UPLOAD_PROBLEM_CODES } from '@xray/shared';
import { DomainError } from '../errors.ts';

const silent = new WeakSet<object>();

/**
 * Ends any request whose body stops arriving for `idleMs`, whoever sends it and wherever to (an
 * upload's PATCH holds a lock and a database connection; a refused or anonymous one still holds a
 * socket). Once the body is in, silence is the server at work, not the client stalling, and the
 * timer is off. Installed before authentication and routing, so no path escapes it.
 */
export function cutSilentBodies(idleMs: number): RequestHandler {
  return (req, res, next) => {
    const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    if (!hasBody || req.complete) return next();
    req.setTimeout(idleMs, () => {
      if (req.complete) return;
      silent.add(req);
      req.destroy(new DomainError(UPLOAD_PROBLEM_CODES.idle, 'The client sent nothing for too long.'));
    });
    req.once('end', () => {
      const socket = req.socket as (typeof req.socket & { server?: { keepAliveTimeout?: number } }) | undefined;
      // Node sets the keep-alive timeout itself once the answer is out; until then, no timer. After
      // a refusal the body was only being discarded: back to the keep-alive timeout.
      socket?.setTimeout(res.writableFinished ? (socket.server?.keepAliveTimeout ?? 5_000) : 0);
    });
    // Without a listener, a socket timeout that fires after the body is complete would destroy it.
    res.on('timeout', () => undefined);
    // A refusal answered before its body arrived: Node switches the socket to the keep-alive
    // timeout when the answer is sent, but the client is still meant to be sending; keep watching.
    res.once('finish', () => {
      if (!req.complete) req.socket?.setTimeout(idleMs);
    });
    next();
  };
}

/** Whether this request was ended because its body stalled. */
export const wentSilent = (req: Request): boolean => silent.has(req);
