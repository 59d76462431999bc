import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from '../observability/logger.ts';
import { cutStalledResponses } from './stalled-responses.ts';

/**
 * Attack on cutStalledResponses from the legitimate side: what it must never cut (a handler busy
 * before its first byte, HEAD, 304, keep-alive connections idle between requests) and what it must
 * not keep (one entry per finished response; its sweeper ends when nothing is open).
 */
const IDLE_MS = 1000;

describe('attack: cutStalledResponses and legitimate traffic', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    server?.close();
    vi.restoreAllMocks();
  });

  async function serve() {
    const warn = vi.fn();
    const log = { warn, info: vi.fn(), error: vi.fn(), debug: vi.fn() } as unknown as Logger;
    const app = express();
    app.use(cutStalledResponses(IDLE_MS, log));
    // A render: busy 2.5 × the timeout before its first byte, then a 4 MiB answer.
    app.get('/slow', (_req, res) => void setTimeout(() => res.send(Buffer.alloc(4 * 1024 * 1024, 1)), 2.5 * IDLE_MS));
    app.get('/etag', (req, res) =>
      req.get('if-none-match') === '"a"' ? res.status(304).end() : res.set('ETag', '"a"').send('x'),
    );
    app.all('/small', (_req, res) => res.send('ok'));
    server = createServer(app);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, warn };
  }

  it('a handler busy before its first byte, HEAD and 304 are not cut; idle keep-alive connections are left alone', async () => {
    const { url, warn } = await serve();
    const slow = await fetch(`${url}/slow`);
    expect(slow.status).toBe(200);
    expect((await slow.arrayBuffer()).byteLength).toBe(4 * 1024 * 1024);
    expect((await fetch(`${url}/small`, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(`${url}/etag`, { headers: { 'If-None-Match': '"a"' } })).status).toBe(304);
    // One keep-alive socket, idle 2.5 × the timeout between two requests: both answered on it.
    const { port } = new URL(url);
    const agent = new (await import('node:http')).Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<{ status: number; socket: unknown }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/small', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, socket: req.socket }));
        });
        req.on('error', reject);
        req.end();
      });
    const a = await get();
    await new Promise((r) => setTimeout(r, 2.5 * IDLE_MS));
    const b = await get();
    agent.destroy();
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(b.socket).toBe(a.socket);
    expect(warn).not.toHaveBeenCalled();
  }, 20_000);

  it('keeps nothing of 5,000 finished responses: its sweeper stops once they are done', async () => {
    const setSpy = vi.spyOn(globalThis, 'setInterval');
    const clearSpy = vi.spyOn(globalThis, 'clearInterval');
    const { url } = await serve();
    for (let i = 0; i < 50; i++)
      await Promise.all(Array.from({ length: 100 }, () => fetch(`${url}/small`).then((r) => r.text())));
    // The sweep (every second) clears its interval only when no response is open any more.
    await new Promise((r) => setTimeout(r, 1500));
    const sweepers = setSpy.mock.results.filter((r) => r.type === 'return').map((r) => r.value as unknown);
    expect(sweepers.length).toBeGreaterThan(0);
    const cleared = clearSpy.mock.calls.map((c) => c[0] as unknown);
    expect(sweepers.every((s) => cleared.includes(s))).toBe(true);
  }, 30_000);
});
