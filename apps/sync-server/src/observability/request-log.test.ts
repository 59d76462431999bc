import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import express from 'express';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { requestLog } from './request-log.ts';

interface Line {
  level: number;
  msg: string;
  reqId?: string;
  req?: Record<string, unknown>;
  res?: { statusCode: number | null };
  responseTime?: number;
  err?: { message: string };
  [k: string]: unknown;
}

function capture() {
  const lines: Line[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Line);
      done();
    },
  });
  return { lines, log: pino({ level: 'info' }, stream) };
}

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function serve(app: express.Express): Promise<string> {
  const server = http.createServer(app);
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * Waits (up to 10 s) until the log has `n` lines (the line is written when the answer's socket side
 * closes); the assertions after it decide.
 */
async function linesOf(lines: Line[], n: number): Promise<Line[]> {
  for (let i = 0; i < 2000 && lines.length < n; i++) await new Promise((r) => setTimeout(r, 5));
  return lines;
}

describe('requestLog', () => {
  it('writes one line per answered request, without headers, naming its id, status and time', async () => {
    const { lines, log } = capture();
    const app = express();
    app.use(requestLog(app, log));
    app.get('/xrays/:id', (_req, res) => {
      res.json({ ok: true });
    });
    const url = await serve(app);
    const res = await fetch(`${url}/xrays/1?x=2`, {
      headers: { Authorization: 'Bearer secret-token', 'User-Agent': 'ambulance/1', 'X-Request-Id': 'abc.123' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('abc.123');
    const [line] = await linesOf(lines, 1);
    expect(line).toMatchObject({
      level: 30,
      msg: 'request completed',
      reqId: 'abc.123',
      req: { id: 'abc.123', method: 'GET', url: '/xrays/1?x=2', userAgent: 'ambulance/1' },
      res: { statusCode: 200 },
    });
    expect(typeof line!.req!.remoteAddress).toBe('string');
    expect(line!.responseTime).toBeGreaterThanOrEqual(0);
    expect(JSON.stringify(lines)).not.toContain('secret-token');
    expect(lines).toHaveLength(1);
  });

  it('gives a request without a well-formed X-Request-Id a new UUID, the same in the header and the line', async () => {
    const { lines, log } = capture();
    const app = express();
    app.use(requestLog(app, log));
    app.use((_req, res) => {
      res.status(404).end();
    });
    const url = await serve(app);
    const res = await fetch(`${url}/nowhere`, { headers: { 'X-Request-Id': 'bad id with spaces' } });
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const [line] = await linesOf(lines, 1);
    expect(line).toMatchObject({ reqId: id, req: { id }, res: { statusCode: 404 }, msg: 'request completed' });
  });

  it('says "request errored" with the status for a 5xx, and "request aborted" for a client that left', async () => {
    const { lines, log } = capture();
    const app = express();
    app.use(requestLog(app, log));
    app.get('/fails', (_req, res) => {
      res.status(503).end();
    });
    let left!: () => void;
    const gone = new Promise<void>((r) => (left = r));
    let arrived!: () => void;
    const inHandler = new Promise<void>((r) => (arrived = r));
    app.get('/slow', (req) => {
      req.on('close', left);
      arrived();
    });
    const url = await serve(app);
    await fetch(`${url}/fails`);
    const abort = new AbortController();
    const slow = fetch(`${url}/slow`, { signal: abort.signal }).catch(() => undefined);
    // The client leaves once the server is handling its request (not before it has arrived), a
    // moment later (aborted in the same instant, the connection stayed open here for 4 s more).
    await inHandler;
    await new Promise((r) => setTimeout(r, 20));
    abort.abort();
    await slow;
    await gone;
    await linesOf(lines, 2);
    expect(lines.find((l) => l.req?.url === '/fails')).toMatchObject({
      msg: 'request errored',
      res: { statusCode: 503 },
      err: { message: 'failed with status code 503' },
    });
    expect(lines.find((l) => l.req?.url === '/slow')).toMatchObject({
      msg: 'request aborted',
      res: { statusCode: null },
    });
  });

  it('leaves out ignored paths, and gives routes a logger that names the request only when they ask', async () => {
    const { lines, log } = capture();
    const app = express();
    app.use(requestLog(app, log, { ignore: (u) => u === '/healthz' }));
    app.get('/healthz', (_req, res) => {
      res.end('ok');
    });
    app.get('/logs', (req, res) => {
      req.log.warn({ detail: 1 }, 'route said something');
      res.end();
    });
    const url = await serve(app);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const res = await fetch(`${url}/logs`, { headers: { 'X-Request-Id': 'r-1' } });
    expect(res.status).toBe(200);
    await linesOf(lines, 2);
    expect(lines.map((l) => l.msg)).toEqual(['route said something', 'request completed']);
    expect(lines[0]).toMatchObject({ level: 40, reqId: 'r-1', detail: 1 });
    expect(lines.some((l) => l.req?.url === '/healthz')).toBe(false);
  });
});
