import { randomUUID } from 'node:crypto';
import type { Express, RequestHandler } from 'express';
import type { Logger } from './logger.ts';

declare module 'node:http' {
  interface IncomingMessage {
    /** The request's id: the client's X-Request-Id when well-formed, else a new UUID. */
    id: string;
    /** A logger that names the request (`reqId`), made when first asked for. */
    log: Logger;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;
const CHILD = Symbol('request logger');

/**
 * One log line per request, written when its answer is done (or the client is gone), with what
 * an operator looks for; headers (tokens!) stay out. The shape is pino-http's (`reqId`, `req`,
 * `res`, `responseTime`, "request completed" / "request aborted" / "request errored"), but no
 * child logger is made unless a route asks for `req.log`: pino-http made two per request and
 * serialised the request into each, a tenth of a metadata read's CPU.
 */
export function requestLog(
  app: Express,
  log: Logger,
  opts: { ignore?: (url: string) => boolean } = {},
): RequestHandler {
  // On the app's request prototype, once: a property defined on each request would cost more
  // than the logger it saves (and turn the request into a slower dictionary-mode object).
  Object.defineProperty(app.request, 'log', {
    configurable: true,
    get(this: Record<typeof CHILD, Logger | undefined> & { id: string }): Logger {
      return (this[CHILD] ??= log.child({ reqId: this.id }));
    },
  });
  return (req, res, next) => {
    const start = Date.now();
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    req.id = id;
    res.setHeader('X-Request-Id', id);
    if (opts.ignore?.(req.url)) return next();
    // 'close' follows 'finish' when the answer went out, and comes alone when the client left first.
    res.once('close', () => {
      if (!log.isLevelEnabled('info')) return;
      const line = {
        reqId: id,
        req: {
          id,
          method: req.method,
          url: req.originalUrl,
          remoteAddress: req.socket.remoteAddress,
          userAgent: req.headers['user-agent'],
        },
        // No status was sent to a client that left first (pino-http's line said null too).
        res: { statusCode: res.headersSent ? res.statusCode : null },
        responseTime: Date.now() - start,
      };
      if (res.statusCode >= 500) {
        log.info({ ...line, err: new Error(`failed with status code ${res.statusCode}`) }, 'request errored');
      } else {
        log.info(line, !req.readableAborted && res.writableEnded ? 'request completed' : 'request aborted');
      }
    });
    next();
  };
}
