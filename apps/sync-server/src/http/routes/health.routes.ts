import type { Router } from 'express';
import { z } from 'zod';
import type { Pool } from '../../db/pool.ts';
import type { ObjectStore } from '../../storage/index.ts';
import { jsonResponse } from '../openapi.parts.ts';
import { defineOperations, RouteTable } from '../route-table.ts';

const LivenessSchema = z.object({ status: z.literal('ok') }).meta({ id: 'Liveness' });
const ReadinessSchema = z
  .object({
    status: z.enum(['ok', 'unavailable']),
    /** `ok`, or `failed: <why>`, per dependency: database, storage, auth, keys. */
    checks: z.record(z.string(), z.string()).meta({
      description:
        '`ok` or `failed: <why>` per dependency (`database`, `storage`, and auth and keys in a full server).',
    }),
  })
  .meta({ id: 'Readiness' });

/**
 * Probes. Prometheus metrics are not here: they are served on their own listener and port
 * (observability/metrics.http.ts, METRICS_PORT), for the scraper, not for API clients.
 */
export const healthOperations = defineOperations({
  getLiveness: {
    method: 'get',
    path: '/healthz',
    tags: ['operations'],
    summary: 'Liveness: the process answers',
    access: 'public',
    responses: { 200: jsonResponse('The process is alive', LivenessSchema) },
  },
  getReadiness: {
    method: 'get',
    path: '/readyz',
    tags: ['operations'],
    summary: 'Readiness: the database, object storage, the OIDC issuer and the keys are usable',
    access: 'public',
    responses: {
      200: jsonResponse('Ready to serve X-rays', ReadinessSchema),
      503: jsonResponse('Not ready: `checks` names what failed', ReadinessSchema),
    },
  },
});

/** Liveness and readiness; Prometheus metrics are served on their own listener (observability/metrics.http.ts). */
export function healthRoutes(deps: {
  pool: Pool;
  store: ObjectStore;
  readinessChecks?: Record<string, () => Promise<void>>;
}): Router {
  const routes = new RouteTable(healthOperations);
  routes.on('getLiveness', (_req, res) => {
    res.json({ status: 'ok' });
  });
  /** Ready = can serve X-rays: the database answers and the object store is reachable. */
  routes.on('getReadiness', async (_req, res) => {
    const extra = Object.entries(deps.readinessChecks ?? {});
    const checks = await Promise.allSettled([
      deps.pool.query('SELECT 1'),
      deps.store.check(),
      ...extra.map(([, check]) => check()),
    ]);
    const [db, storage, ...rest] = checks.map((c) =>
      c.status === 'fulfilled' ? 'ok' : `failed: ${String((c.reason as Error)?.message ?? c.reason)}`,
    );
    const ok = checks.every((c) => c.status === 'fulfilled');
    const named = Object.fromEntries(extra.map(([name], i) => [name, rest[i]]));
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', checks: { database: db, storage, ...named } });
  });
  return routes.router();
}
