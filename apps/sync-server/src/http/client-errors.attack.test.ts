import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import net from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { answerClientErrors } from './client-errors.ts';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
});

it('a malformed request pipelined behind one still being handled is not answered as if it were that one', async () => {
  let arrived!: () => void;
  const handling = new Promise<void>((r) => (arrived = r));
  // The first request (think: an upload being stored) is whole; its answer is not written yet.
  server = createServer((_req, res) => {
    arrived();
    server!.once('clientError', () => setImmediate(() => res.end('stored')));
  });
  answerClientErrors(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const socket = net.connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  let got = '';
  socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
  socket.on('error', () => undefined);
  await handling;
  socket.write('NOT HTTP\r\n\r\n');
  await once(socket, 'close');
  // The first answer a client reads is the first request's: never the second's refusal in its place.
  expect(got).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nstored$/);
  expect(got).not.toContain(' 400 ');
});
