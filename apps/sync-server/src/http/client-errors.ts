import type { Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/** Node's own answers to requests its parser cannot take (what it sends without a listener). */
const ANSWER: Record<string, string> = {
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: '413 Payload Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
};

/**
 * A client whose side of the connection ends in the middle of a body (a cell handover, a proxy
 * giving up) gets no answer: Node's `400 Bad Request` there reads to an uploader as a final
 * refusal of its X-ray, while the truth is a network failure it should resume from. Other parser
 * errors keep Node's answers, and as Node does, none is written into a response already under
 * way on the connection (a download streaming while the next, pipelined request is malformed).
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // The response the connection is sending, if any (Node's own clientError default reads it too).
    const inFlight = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
    if (
      err.code === 'HPE_INVALID_EOF_STATE' ||
      err.code === 'ECONNRESET' ||
      !socket.writable ||
      inFlight?.headersSent
    ) {
      socket.destroy();
      return;
    }
    const status = ANSWER[err.code ?? ''] ?? '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
  });
}
