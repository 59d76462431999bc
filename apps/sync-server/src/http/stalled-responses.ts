import type { ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import type { Logger } from '../observability/logger.ts';

/** How often open responses are looked at: a stall is cut between `idleMs` and `idleMs` + this. */
const SWEEP_MS = 1_000;

/**
 * Cuts off any response the client stops reading for `idleMs`, whoever asked and whatever route
 * answers. A download streams with backpressure (nothing is buffered ahead of the client), so a
 * reader that stalls holds what feeds it: a read of the object store (on S3 one of the client's
 * sockets, 50 by default, shared with every other read and upload), a file handle, decryption
 * state. Without this, a few dozen unread responses, from one signed-in user or from clients
 * whose network vanished without a FIN, would stall every other store read. "Stalled" means
 * Node's send buffer stays full (`writableNeedDrain`) and the kernel takes not one more byte of
 * it (the client reads nothing) the whole time: a slow reader that reads anything within
 * `idleMs` is never cut, and a handler still working (a render, a query) before its first byte
 * is not stalled. Installed before every route, as cutSilentBodies is for
 * request bodies.
 */
export function cutStalledResponses(idleMs: number, log: Logger): RequestHandler {
  /**
   * Open responses: what was asked; while the send buffer is full, the bytes the kernel had taken
   * at the last sweep and since when that count has not moved.
   */
  const open = new Map<ServerResponse, { url: string; sent: number; since: number | undefined }>();
  let sweeper: NodeJS.Timeout | undefined;

  const sweep = () => {
    const now = Date.now();
    for (const [res, seen] of open) {
      const socket = res.socket;
      if (!socket || !res.writableNeedDrain) {
        seen.since = undefined;
        continue;
      }
      // Bytes handed to the kernel (the rest waits in Node's buffer): they move only as the client reads.
      const sent = socket.bytesWritten - socket.writableLength;
      if (seen.since === undefined || sent !== seen.sent) {
        seen.sent = sent;
        seen.since = now;
      } else if (now - seen.since >= idleMs) {
        open.delete(res);
        log.warn({ url: seen.url, idleMs }, 'response cut off: the client stopped reading');
        // The pipeline feeding it fails and releases its source (the store read, the file).
        res.destroy();
      }
    }
    if (open.size === 0 && sweeper) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  };

  return (req, res, next) => {
    open.set(res, { url: req.originalUrl, sent: 0, since: undefined });
    res.once('close', () => open.delete(res));
    sweeper ??= setInterval(sweep, SWEEP_MS).unref();
    next();
  };
}
