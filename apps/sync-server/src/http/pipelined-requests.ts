import type { RequestHandler } from 'express';

/**
 * HTTP/1.1 pipelining: a client may send its next requests on a connection before reading the
 * answer it waits for. Node runs every such request's handler at once, but an answer queued
 * behind another has no socket yet, so it never hears that the connection closed: no `close`,
 * never cut as stalled (stalled-responses.ts). A download streaming into one would hold its store
 * read and its user's streaming slot (download-slots.ts) for good. So each such request waits
 * here, having done nothing, until its answer's turn comes (Node hands it the socket), and is
 * dropped if the connection closes first. Answers are sent in order anyway; no browser pipelines.
 */
export const pipelinedInTurn: RequestHandler = (req, res, next) => {
  if (res.socket) return next();
  const turn = () => {
    req.off('close', gone);
    next();
  };
  // Its connection closed (Node destroys the requests it had not answered): nothing was done. The
  // answer is closed as Node closes those it sent, so whatever tracks open answers lets it go.
  const gone = () => {
    res.off('socket', turn);
    res.destroy();
    res.emit('close');
  };
  res.once('socket', turn);
  req.once('close', gone);
};
