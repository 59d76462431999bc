import { STATUS_CODES, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { DomainError, ERRORS, type ErrorCode } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import { toProblem } from './problem.ts';

/** The answers to requests Node's parser cannot take (Node's own statuses), as problem+json. */
const ANSWER: Record<string, { code: ErrorCode; detail: string }> = {
  HPE_HEADER_OVERFLOW: {
    code: 'headers_too_large',
    detail: 'The request line and headers pass 16 KiB, more than this server reads; send fewer or shorter headers.',
  },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: {
    code: 'payload_too_large',
    detail: 'The chunked body carries more chunk extensions than this server reads.',
  },
  ERR_HTTP_REQUEST_TIMEOUT: { code: 'request_timeout', detail: 'The request did not arrive in time.' },
};
const MALFORMED = { code: 'bad_request', detail: 'The request is not HTTP/1.1 this server can read.' } as const;

/** A whole answer written on the raw socket: the status, the problem, and the connection closed. */
function rawProblem(code: ErrorCode, detail: string): string {
  const body = JSON.stringify(toProblem(new DomainError(code, detail)));
  const { status } = ERRORS[code];
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
    `Content-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
    `X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`
  );
}

/**
 * A client whose side of the connection ends in the middle of a body (a cell handover, a proxy
 * giving up) gets no answer: Node's `400 Bad Request` there reads to an uploader as a final
 * refusal of its X-ray, while the truth is a network failure it should resume from. Other parser
 * errors get Node's statuses as problem+json, so a client (and the log) can tell a header too large
 * from a malformed request. None is written in place of an answer still owed on the connection:
 * a pipelined request refused behind one read whole lets that one's answer finish, then closes.
 */
export function answerClientErrors(server: Server, log?: Logger): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // The response the connection is sending, if any (Node's own clientError default reads it too).
    const inFlight = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
    if (
      err.code === 'HPE_INVALID_EOF_STATE' ||
      err.code === 'ECONNRESET' ||
      !socket.writable ||
      (inFlight?.headersSent && !inFlight.req?.complete)
    ) {
      socket.destroy();
      return;
    }
    const { code, detail } = ANSWER[err.code ?? ''] ?? MALFORMED;
    // No route, user or audit yet: the request was never read. A line says why it was refused.
    log?.info({ code, parserError: err.code }, 'request refused before it could be read');
    if (inFlight?.req?.complete && !inFlight.writableFinished) {
      // The request being answered was read whole: the refused one is a later, pipelined one. An
      // answer now would be read as that request's (an upload being stored read as refused), so
      // its answer goes out whole, then the connection closes with none for the refused one.
      inFlight.once('finish', () => socket.end());
      return;
    }
    socket.end(rawProblem(code, detail));
  });
}
