// Single-X-ray reads that arrive together are fetched from PostgreSQL together (xray.loader.ts):
// each caller must still get exactly its own X-ray, a missing one stays a 404, and a client sees
// its own write at once.
import { randomUUID } from 'node:crypto';
import { makePng } from '@xray/testkit';
import { XraySchema } from '@xray/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordAudit, systemContext } from '../src/audit/audit.service.ts';
import { verifyAuditChain } from '../src/audit/audit.verifier.ts';
import { createXrayLoader } from '../src/xrays/xray.loader.ts';
import type { Pool } from '../src/db/pool.ts';
import { blobOf, headerActor, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';

const PARAMEDIC = 'para-batch; paramedic';
const DOCTOR = 'doc-batch; doctor';

describe('batched single-X-ray reads', () => {
  let server: TestServer;
  const stored: { id: string; patientId: string }[] = [];

  beforeAll(async () => {
    server = await startTestServer('fs', {}, { authenticate: headerActor });
    for (let i = 0; i < 6; i++) {
      const patientId = `P-BATCH-${i}-${randomUUID().slice(0, 6)}`;
      const res = await postXray(server.url, validMetadata({ patientId }), blobOf(makePng({ seed: 900 + i })), {
        'X-Test-Actor': PARAMEDIC,
      });
      expect(res.status).toBe(201);
      stored.push({ id: XraySchema.parse(await res.json()).id, patientId });
    }
  });
  afterAll(async () => {
    await server?.close();
  });

  const get = (id: string) => fetch(`${server.url}/xrays/${id}`, { headers: { 'X-Test-Actor': DOCTOR } });

  it('many reads at once, of different X-rays and missing ones, each answered with its own', async () => {
    const asked = Array.from({ length: 120 }, (_, i) => {
      const x = stored[i % stored.length]!;
      // Every fifth a missing id; every seventh the same id in upper case (a UUID is case-blind).
      if (i % 5 === 0) return { id: randomUUID(), expect: null };
      return { id: i % 7 === 0 ? x.id.toUpperCase() : x.id, expect: x };
    });
    const answers = await Promise.all(
      asked.map(async (a) => {
        const res = await get(a.id);
        return { a, status: res.status, body: (await res.json()) as unknown };
      }),
    );
    for (const { a, status, body } of answers) {
      if (!a.expect) {
        expect(status).toBe(404);
        continue;
      }
      expect(status).toBe(200);
      expect(XraySchema.parse(body)).toMatchObject({ id: a.expect.id, patientId: a.expect.patientId });
    }
  });

  it('a read right after a change sees it, while other reads keep the batch busy', async () => {
    const target = stored[0]!;
    const noise = Array.from({ length: 40 }, (_, i) => get(stored[(i % 5) + 1]!.id).then((r) => r.arrayBuffer()));
    for (let n = 0; n < 5; n++) {
      const notes = `seen ${n} ${randomUUID()}`;
      const patched = await fetch(`${server.url}/xrays/${target.id}`, {
        method: 'PATCH',
        headers: { 'X-Test-Actor': DOCTOR, 'Content-Type': 'application/json' },
        body: JSON.stringify({ notes }),
      });
      expect(patched.status, await patched.clone().text()).toBe(200);
      const after = XraySchema.parse(await (await get(target.id)).json());
      expect(after.notes).toBe(notes);
    }
    await Promise.all(noise);
  });

  it('reads that wait for one in flight go to the database as one statement', async () => {
    const statements: unknown[] = [];
    const counting = {
      query: (...args: Parameters<Pool['query']>) => {
        statements.push(args[0]);
        return (server.pool.query as (...a: unknown[]) => unknown)(...args);
      },
    } as unknown as Pool;
    const load = createXrayLoader(counting);
    const ids = stored.map((x) => x.id);
    const first = load(ids[0]!);
    // Sent by now (a batch goes out at the end of the loop's turn); the rest queue behind it and share one statement.
    await new Promise((resolve) => setImmediate(resolve));
    const rest = ids.slice(1).map((id) => load(id));
    const got = await Promise.all([first, ...rest]);
    expect(got.map((x) => x?.patientId)).toEqual(stored.map((x) => x.patientId));
    expect(statements).toHaveLength(2);
    expect(await load(randomUUID())).toBeNull();
  });

  /** A pool that passes every statement on to the server's and keeps its text. */
  function counting(): { pool: Pool; statements: string[] } {
    const statements: string[] = [];
    const pool = {
      query: (...args: Parameters<Pool['query']>) => {
        const q = args[0] as unknown;
        statements.push(typeof q === 'string' ? q : (q as { text: string }).text);
        return (server.pool.query as (...a: unknown[]) => unknown)(...args);
      },
    } as unknown as Pool;
    return { pool, statements };
  }

  /**
   * Calls `f` once for each item from a callback of its own in one turn of the event loop, as
   * requests from different sockets are handled: each immediate's callback is followed by the
   * process.nextTick queue, as each socket's is, and all of them run in the same check phase
   * (timers would not do: each setTimeout reads the clock, and two on either side of a millisecond
   * fire in different turns).
   */
  function inCallbacksOfOneTurn<T, R>(items: T[], f: (item: T) => Promise<R>): Promise<R[]> {
    return new Promise((resolve) => {
      const started: Promise<R>[] = [];
      for (const item of items)
        setImmediate(() => {
          started.push(f(item));
          if (started.length === items.length) resolve(Promise.all(started));
        });
    });
  }

  it('reads that arrive in callbacks of their own in one turn of the event loop go as one statement, not the first alone', async () => {
    const { pool, statements } = counting();
    const load = createXrayLoader(pool);
    const got = await inCallbacksOfOneTurn(stored, (x) => load(x.id));
    expect(got.map((x) => x?.patientId)).toEqual(stored.map((x) => x.patientId));
    expect(statements).toHaveLength(1);
  });

  it('read events recorded in callbacks of their own in one turn are appended as one statement, each chained', async () => {
    const { pool, statements } = counting();
    const requestIds = stored.map(() => randomUUID());
    const records = await inCallbacksOfOneTurn(requestIds, (requestId) =>
      recordAudit(pool, {
        context: { ...systemContext({ sub: 'doc-batch', roles: ['doctor'] }), requestId },
        action: 'xray.read',
        outcome: 'success',
      }),
    );
    expect(statements.filter((q) => q.includes('audit_append'))).toHaveLength(1);
    expect(records.map((r) => r.requestId)).toEqual(requestIds);
    // One batch, in the order they came, each linked to the one before it.
    records.slice(1).forEach((r, i) => expect(r.prevHash).toBe(records[i]!.hash));
    expect((await verifyAuditChain(server.pool)).ok).toBe(true);
  });
});
