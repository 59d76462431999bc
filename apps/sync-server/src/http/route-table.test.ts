import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { Router } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { byFirstSegment, mountedRoutesOf } from './route-table.ts';

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function serve(app: express.Express): Promise<string> {
  const server = http.createServer(app).listen(0, '127.0.0.1');
  servers.push(server);
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('byFirstSegment', () => {
  it('lets in only requests whose first segment one of its routes starts with, in any case', async () => {
    const entered: string[] = [];
    const router = Router();
    router.use((req, _res, next) => {
      entered.push(req.path);
      next();
    });
    router.get('/xrays/:id', (req, res) => {
      res.send(`xray ${req.params.id}`);
    });
    router.get('/changes', (_req, res) => {
      res.send('changes');
    });
    const app = express();
    app.use(byFirstSegment(router));
    app.use((req, res) => {
      res.status(404).send(`fallback ${req.path}`);
    });
    const url = await serve(app);
    const text = async (p: string) => (await fetch(`${url}${p}`)).text();

    expect(await text('/xrays/1')).toBe('xray 1');
    expect(await text('/XRays/2/')).toBe('xray 2');
    expect(await text('/changes')).toBe('changes');
    // In the router's segments but no route of it: through the router to what follows, as before.
    expect(await text('/xrays')).toBe('fallback /xrays');
    // Outside its segments: never entered.
    expect(await text('/audit')).toBe('fallback /audit');
    expect(await text('/xraysx/1')).toBe('fallback /xraysx/1');
    expect(await text('/')).toBe('fallback /');
    expect(entered).toEqual(['/xrays/1', '/XRays/2/', '/changes', '/xrays']);
  });

  it('keeps the routes visible to mountedRoutesOf, nested routers included', () => {
    const inner = Router();
    inner.get('/uploads/:id', (_req, res) => res.end());
    const outer = Router();
    outer.use(inner);
    const app = express();
    app.use(byFirstSegment(outer));
    expect(mountedRoutesOf(app)).toEqual(['GET /uploads/{id}']);
  });

  it('refuses a router with a route that starts with a parameter (it would match any segment)', () => {
    const router = Router();
    router.get('/:anything', (_req, res) => res.end());
    expect(() => byFirstSegment(router)).toThrow(/starts with a parameter/);
  });
});
