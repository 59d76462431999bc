import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      base: { service: 'sync-server' },
      redact: ['req.headers.authorization', 'req.headers.cookie'],
    },
    // Asynchronous: a write per request line on the request path cost more than the request's
    // own query. pino flushes what is buffered when the process exits.
    pino.destination({ dest: 1, sync: false }),
  );
}
