import type { IncomingMessage } from 'node:http';
import type { ErrorRequestHandler, Request, Response } from 'express';
import type { Problem } from '@xray/shared';
import { DomainError, ERRORS, isDomainError, type ErrorCode } from '../errors.ts';
import { dataExceptionOf, isDatabaseUnavailable } from '../db/pool.ts';
import type { Logger } from '../observability/logger.ts';

const TYPE_BASE = 'https://xray-service.dev/problems/';
/** Seconds a client should wait before retrying a 503. */
const RETRY_AFTER_S = 5;

export function toProblem(err: DomainError, instance?: string): Problem {
  const { status, title } = ERRORS[err.code];
  return {
    type: TYPE_BASE + err.code.replaceAll('_', '-'),
    title,
    status,
    code: err.code,
    detail: err.message,
    ...(instance ? { instance } : {}),
    ...(err.fields?.length ? { errors: err.fields } : {}),
  };
}

/** How much of an unwanted request body we read and discard so the client gets to see our answer. */
const DISCARD_LIMIT_BYTES = 64 * 1024 * 1024;

/**
 * The client may still be sending a body we will not use. Most clients only read the response
 * once they finish sending, so closing at once would show them a broken pipe instead of the
 * problem. Read and discard up to a limit, then drop the connection.
 */
function discardRestOfBody(req: Request): void {
  if (req.complete || req.readableEnded) return;
  req.unpipe();
  let discarded = 0;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > DISCARD_LIMIT_BYTES) req.socket.destroy();
  });
  req.resume();
}

export function sendProblem(req: Request, res: Response, err: DomainError): void {
  const problem = toProblem(err, req.originalUrl);
  // For the metrics (xray_ingest_rejected_total's code label).
  res.locals.problemCode = err.code;
  discardRestOfBody(req);
  const send = () => {
    // Whatever a route had set before it failed: a problem may name patient data and is never cached.
    res.set('Cache-Control', 'no-store');
    // A dependency that is down now is usually back in seconds: tell clients when to try again.
    if (err.retryAfterS !== undefined) res.set('Retry-After', String(err.retryAfterS));
    else if (problem.status === 503 && !res.get('Retry-After')) res.set('Retry-After', String(RETRY_AFTER_S));
    res.status(problem.status).type('application/problem+json').json(problem);
  };
  // Every denial (401/403) and failed audited action is recorded before the client hears of it.
  if (!req.audit) return send();
  void req.audit
    .problem(err)
    .then(send)
    .catch((e: unknown) => req.log.error({ err: e }, 'could not send the problem response'));
}

/** An outgoing connection that could not be opened (the database, object storage). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

const unavailable = (what: string, cause: unknown) =>
  new DomainError('unavailable', `${what}; nothing was done. Try again shortly.`, undefined, { cause });

/**
 * Whether the client's side of the request is gone (it reset or closed the connection). A reset
 * the server met on one of its own connections (PostgreSQL restarting, the object store) is not
 * the client's doing: that client is still waiting, and must hear "try again", not "you left".
 */
const clientGone = (req: IncomingMessage | undefined): boolean =>
  req === undefined || req.readableAborted || req.socket.destroyed;

/** Turns anything thrown into an HTTP status, in one place (`req`: the request it was thrown for). */
export function classify(err: unknown, req?: IncomingMessage): DomainError {
  if (isDomainError(err)) return err;
  const e = err as { type?: string; status?: number; statusCode?: number; name?: string; message?: string };
  if (e?.type === 'entity.parse.failed') return new DomainError('bad_request', 'The body is not valid JSON.');
  if (e?.type === 'entity.too.large') return new DomainError('payload_too_large', 'The body is too large.');
  if (e?.name === 'ObjectNotFoundError') return new DomainError('not_found', 'The stored object is missing.');
  // A download left unread let go of its store read, and its X-ray was deleted before it read on:
  // a race of two users, not a fault (one replaced in place is: write-once keys, logged as an error).
  if (e?.name === 'ObjectChangedError' && (err as { gone?: boolean }).gone)
    return new DomainError('not_found', 'The X-ray was deleted while it was being read.');
  if (isDatabaseUnavailable(err)) return unavailable('The database is unavailable', err);
  const sqlState = dataExceptionOf(err);
  if (sqlState) {
    // The input's fault, not the server's: a 400, never a 500. The database's own message may
    // quote the value, so only its SQLSTATE is passed on.
    return new DomainError(
      'bad_request',
      `A value in the request cannot be stored or compared (SQLSTATE ${sqlState}).`,
      undefined,
      { cause: err },
    );
  }
  const code = `${(err as { code?: string })?.code ?? ''}`;
  if (UNREACHABLE.has(code)) return unavailable('A service the server depends on cannot be reached', err);
  if (code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || e?.message === 'Unexpected end of form') {
    if (!clientGone(req)) return unavailable('A connection the server depends on was reset', err);
    return new DomainError('client_closed', 'The upload ended before it was complete; nothing was stored.', undefined, {
      cause: err,
    });
  }
  const status = e?.status ?? e?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const known = (Object.keys(ERRORS) as ErrorCode[]).find((k) => ERRORS[k].status === status) ?? 'bad_request';
    return new DomainError(known, e?.message ?? 'Bad request');
  }
  return new DomainError('internal', 'Something went wrong on the server; the request was not completed.', undefined, {
    cause: err,
  });
}

export function problemHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const domain = classify(err, req);
    if (domain.code === 'internal' || domain.code === 'storage_failed')
      log.error({ err, url: req.originalUrl }, 'request failed');
    else log.info({ code: domain.code, url: req.originalUrl, detail: domain.message }, 'request refused');
    if (res.headersSent) {
      // Mid-stream (a download): the only honest signal left is to cut the connection.
      res.destroy(err instanceof Error ? err : undefined);
      return;
    }
    sendProblem(req, res, domain);
  };
}
