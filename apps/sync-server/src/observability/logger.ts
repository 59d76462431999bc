import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * `json`: one object per line, for log collectors and the tests that read them. `pretty`: text for
 * a person at a terminal (`npm start`), formatted by pino-pretty in a worker thread so the request
 * path does no formatting; config allows it in development only. `fd`: 1 (stdout) for the server;
 * 2 (stderr) for a command whose stdout is its report.
 */
export function createLogger(level: string, format: 'json' | 'pretty' = 'json', fd: 1 | 2 = 1): Logger {
  return pino(
    {
      level,
      base: { service: 'sync-server' },
      redact: ['req.headers.authorization', 'req.headers.cookie'],
    },
    format === 'pretty' ? prettyTransport(fd) : jsonLines(fd),
  );
}

function jsonLines(fd: 1 | 2): DestinationStream {
  // Asynchronous: a write per request line on the request path cost more than the request's
  // own query. pino flushes what is buffered when the process exits.
  return pino.destination({ dest: fd, sync: false });
}

function prettyTransport(fd: 1 | 2): DestinationStream {
  return pino.transport({
    target: createRequire(import.meta.url).resolve('pino-pretty'),
    options: {
      destination: fd,
      colorize: (fd === 1 ? process.stdout : process.stderr).isTTY === true,
      translateTime: 'SYS:HH:MM:ss.l',
      // A request line reads as one line; its ids and headers stay in the JSON format.
      ignore: 'pid,hostname,service,reqId,req,res,responseTime',
      messageFormat:
        '{msg}{if req.method} {req.method} {req.url}{end}{if res.statusCode} {res.statusCode}{end}{if responseTime} ({responseTime} ms){end}',
    },
  });
}
