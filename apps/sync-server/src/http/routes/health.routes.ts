import { Router } from 'express';
import type { Pool } from '../../db/pool.ts';
import type { ObjectStore } from '../../storage/index.ts';

/** Liveness and readiness; Prometheus metrics are served on their own listener (observability/metrics.http.ts). */
export function healthRoutes(deps: {
  pool: Pool;
  store: ObjectStore;
  readinessChecks?: Record<string, () => Promise<void>>;
}): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  /** Ready = can serve X-rays: the database answers and the object store is reachable. */
  router.get('/readyz', async (_req, res) => {
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
  return router;
}
