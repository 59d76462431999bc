import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { answerClientErrors } from './client-errors.ts';

/** What a raw client reads back until the server closes the connection. */
async function exchange(server: Server, send: (socket: net.Socket) => void): Promise<string> {
  const { port } = server.address() as net.AddressInfo;
  const socket = net.connect(port, '127.0.0.1', () => send(socket));
  let got = '';
  socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
  socket.on('error', () => undefined);
  await once(socket, 'close');
  return got;
}

describe("answers to requests Node's parser refuses", () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
  });

  async function listen(handler: Parameters<typeof createServer>[1]): Promise<Server> {
    server = createServer(handler);
    answerClientErrors(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return server;
  }

  it('writes nothing into a response already under way (a malformed pipelined request while a body streams)', async () => {
    const s = await listen((_req, res) => {
      res.writeHead(200, { 'Content-Length': '20' });
      res.write('0123456789');
      setTimeout(() => res.end('abcdefghij'), 300);
    });
    const got = await exchange(s, (socket) => {
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      setTimeout(() => socket.write('NOT HTTP\r\n\r\n'), 100);
    });
    expect(got).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(got).not.toContain('400 Bad Request');
  });

  /** The problem in a raw answer's body. */
  const problemOf = (got: string) => JSON.parse(got.slice(got.indexOf('\r\n\r\n') + 4)) as { code: string };

  it('headers past 16 KiB: 431 as problem+json (headers_too_large), one log line, connection closed', async () => {
    server = createServer(() => {
      throw new Error('never reached');
    });
    const logged: unknown[] = [];
    answerClientErrors(server, { info: (o: unknown, msg: string) => logged.push([o, msg]) } as never);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const got = await exchange(server, (socket) =>
      socket.write(`GET /xrays HTTP/1.1\r\nHost: x\r\nAccept: ${'a'.repeat(20_000)}\r\n\r\n`),
    );
    expect(got).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    expect(got).toContain('Content-Type: application/problem+json');
    expect(problemOf(got)).toMatchObject({ status: 431, code: 'headers_too_large' });
    expect(logged).toEqual([
      [{ code: 'headers_too_large', parserError: 'HPE_HEADER_OVERFLOW' }, 'request refused before it could be read'],
    ]);
  });

  it('a request that is not HTTP: 400 as problem+json (bad_request)', async () => {
    const s = await listen(() => undefined);
    const got = await exchange(s, (socket) => socket.write('NOT HTTP AT ALL\r\n\r\n'));
    expect(got).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(problemOf(got)).toMatchObject({ status: 400, code: 'bad_request' });
  });

  it("keeps Node's 413 for oversized chunk extensions, as problem+json", async () => {
    const s = await listen((req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    const got = await exchange(s, (socket) =>
      socket.write(
        `POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;${'a'.repeat(20_000)}\r\nhello\r\n0\r\n\r\n`,
      ),
    );
    expect(got).toMatch(/^HTTP\/1\.1 413 Payload Too Large/);
    expect(problemOf(got)).toMatchObject({ status: 413, code: 'payload_too_large' });
  });
});
