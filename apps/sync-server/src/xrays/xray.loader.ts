import DataLoader from 'dataloader';
import type { Pool } from '../db/pool.ts';
import { xrayRepository, type XrayRecord } from './xray.repository.ts';

/**
 * Single-X-ray reads (GET, download, preview, DICOMweb) that arrive while one is in flight go to
 * PostgreSQL together, as one `id = ANY(...)` statement: under load a metadata read otherwise
 * costs a statement, a round trip and a socket write of its own. When nothing is in flight a read
 * goes at the end of the event loop's turn (setImmediate), with every read that arrived in that
 * turn: requests from different sockets are parsed in callbacks of their own, and a batch sent
 * after the first one's callback (process.nextTick) took that read alone and made the others wait
 * for its round trip. Nothing is cached: every read starts after its request arrived, so a client
 * sees the result of its own earlier write.
 */
/** How long a batch waits for the one in flight before it goes anyway (a batch takes ~1–5 ms). */
const MAX_WAIT_MS = 50;

export function createXrayLoader(pool: Pool): (id: string) => Promise<XrayRecord | null> {
  let inFlight: Promise<unknown> | null = null;
  const loader = new DataLoader<string, XrayRecord | null>(
    (ids) => {
      const batch = xrayRepository.findManyById(pool, ids).then((rows) => {
        const byId = new Map(rows.map((x) => [x.id, x]));
        return ids.map((id) => byId.get(id) ?? null);
      });
      const settled = batch.then(
        () => undefined,
        () => undefined,
      );
      inFlight = settled;
      void settled.then(() => {
        if (inFlight === settled) inFlight = null;
      });
      return batch;
    },
    {
      cache: false,
      maxBatchSize: 200,
      // The next batch waits for the one in flight (as the audit batcher does): one statement for
      // all that arrived meanwhile, instead of one per event-loop tick. But not longer than
      // MAX_WAIT_MS: behind a statement that hangs until its timeout, a read would otherwise wait
      // out that timeout and then its own, past what the database settings promise.
      batchScheduleFn: (dispatch) => {
        if (!inFlight) return void setImmediate(dispatch);
        let sent = false;
        const once = () => {
          if (sent) return;
          sent = true;
          clearTimeout(timer);
          dispatch();
        };
        const timer = setTimeout(once, MAX_WAIT_MS);
        void inFlight.then(once);
      },
    },
  );
  // PostgreSQL prints UUIDs in lower case; the key must match what comes back.
  return (id) => loader.load(id.toLowerCase());
}
