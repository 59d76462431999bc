import type { Pool } from '../src/db/pool.ts';
import { backfillDicomIndex, type BackfillReport } from '../src/dicomweb/dicom-index.backfill.ts';
import type { OutboxWriter } from '../src/events/outbox.repository.ts';
import { createMetrics } from '../src/observability/metrics.ts';
import { createXrayService } from '../src/xrays/xray.service.ts';
import type { TestServer } from './harness.ts';

/**
 * `xray-admin dicom-index`'s backfill over a test server's database, store and keys, as the
 * command builds it. `pool` replaces the server's for the backfill's own statements; `beforeGet`
 * and `beforeRead` run before it reads an X-ray's row and before it reads its header's first bytes.
 * `appended`: the outbox events it wrote.
 */
export async function backfillOn(
  server: TestServer,
  hooks: {
    pool?: Pool;
    beforeGet?: (id: string) => unknown;
    beforeRead?: (id: string) => unknown;
  } = {},
): Promise<{ report: BackfillReport; appended: unknown[] }> {
  const appended: unknown[] = [];
  const outbox = {
    append: (_tx: unknown, event: unknown) => {
      appended.push(event);
      return Promise.resolve();
    },
    scrubXray: () => Promise.resolve(0),
  } as unknown as OutboxWriter;
  const xrays = createXrayService({
    pool: server.pool,
    store: server.store,
    keys: server.keys,
    log: server.log,
    metrics: createMetrics(),
    links: { enabled: false, verify: () => Promise.resolve({ status: 'unchecked' }) },
    outbox,
  });
  const report = await backfillDicomIndex({
    pool: hooks.pool ?? server.pool,
    get: async (id) => {
      await hooks.beforeGet?.(id);
      return xrays.get(id);
    },
    openContent: async (x, range) => {
      if (range?.start === 0) await hooks.beforeRead?.(x.id);
      return xrays.openContent(x, range);
    },
    outbox,
  });
  return { report, appended };
}
