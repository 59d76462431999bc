import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import type { ServerResponse } from 'node:http';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { pipelinedInTurn } from './pipelined-requests.ts';

/**
 * Attack: HTTP/1.1 requests pipelined behind one that is never answered, then the connection
 * closed. Node ran their handlers at once and never closed their answers (they had no socket),
 * so every open-answer tracker (the server's, the stall cutter's, a user's streaming slots)
 * kept them for good.
 */
describe('attack: pipelined requests on a connection that closes', () => {
  const servers: { close: () => void }[] = [];
  afterEach(() => servers.splice(0).forEach((s) => s.close()));

  it('run one at a time, and those never reached are closed, not kept open', async () => {
    const app = express();
    app.use(pipelinedInTurn);
    const ran: string[] = [];
    // The first answer never ends: what is pipelined behind it waits.
    app.get('/hang', (req) => ran.push(req.url));
    app.get('/next', (req, res) => {
      ran.push(req.url);
      res.end('next');
    });
    const server = app.listen(0);
    servers.push(server);
    await once(server, 'listening');
    const open = new Set<ServerResponse>();
    server.on('request', (_req, res: ServerResponse) => {
      open.add(res);
      res.once('close', () => open.delete(res));
    });

    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GET /hang HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n');
    while (open.size < 2) await once(server, 'request');
    // Both arrived; only the first ran.
    await new Promise((resolve) => setImmediate(resolve));
    expect(ran).toEqual(['/hang']);

    socket.destroy();
    const closed = [...open].map((res) => once(res, 'close'));
    await Promise.all(closed);
    expect(open.size).toBe(0);
    expect(ran).toEqual(['/hang']);
  });
});
