// Attack on the batchers that start at the end of the event loop's turn (setImmediate): the X-ray
// loader (xray.loader.ts) and the audit batcher (recordAudit). What a user relies on: each caller
// gets its own X-ray and sees every write answered before it asked (on any instance), nothing of
// an X-ray goes out before its read event is committed, an event that cannot be committed fails
// its request, a steady stream or a hung statement starves no one, and a stop with a batch
// scheduled ends cleanly. These attacks failed; the tests keep them.
import { randomUUID } from 'node:crypto';
import { XraySchema } from '@xray/shared';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { recordAudit, systemContext } from '../src/audit/audit.service.ts';
import { verifyAuditChain } from '../src/audit/audit.verifier.ts';
import { createPool, type Pool } from '../src/db/pool.ts';
import { createXrayLoader } from '../src/xrays/xray.loader.ts';
import { AUDIT_SERVER_ENV, eventsOf, taggedCall } from './audit.support.ts';
import { asOwner, headerActor, startTestServer, storeOwnedXrays, type TestServer } from './harness.ts';

const P1 = 'para-ab-1; paramedic';
const P2 = 'para-ab-2; paramedic';
const DOCTOR = 'doc-ab; doctor';
const ADMIN = 'admin-ab; admin';
const NO_ROLE = 'nobody-ab; ';
const STATEMENT_TIMEOUT_MS = 1_500;
const ENV = { ...AUDIT_SERVER_ENV, DATABASE_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS) };
const LOCK_CHAIN = "SELECT pg_advisory_xact_lock(hashtextextended('xray:audit-chain', 0))";

interface Stored {
  id: string;
  patientId: string;
  owner: string;
}

const ms = (t0: number) => performance.now() - t0;

describe('attack: batches that start at the end of the turn', () => {
  // Two instances on one database, as behind a load balancer.
  let a: TestServer;
  let b: TestServer;
  const stored: Stored[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);

  const call = (server: TestServer, path: string, actor: string | undefined, init: RequestInit = {}) =>
    taggedCall(server.url, path, actor, init, 'ab-');

  /** What `actor` must get for GET /xrays/{x}: status, and the trail's action and outcome. */
  const expected = (actor: string, x: Stored) =>
    actor === NO_ROLE
      ? { status: 403, action: 'access.denied', outcome: 'denied' }
      : actor.includes('paramedic') && x.owner !== actor
        ? { status: 404, action: 'access.denied', outcome: 'denied' }
        : { status: 200, action: 'xray.read', outcome: 'success' };

  beforeAll(async () => {
    a = await startTestServer('fs', ENV, { authenticate: headerActor });
    b = await startTestServer('fs', { ...ENV, DATABASE_URL: a.env.DATABASE_URL! }, { authenticate: headerActor });
    stored.push(...(await storeOwnedXrays(a.url, [P1, P1, P1, P2, P2], { prefix: 'P-AB', seed: 3100 })));
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });
  beforeEach(() => {
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
    expect(unhandled).toEqual([]);
  });

  it('a pool that ends in the turn a read and its event were queued (before the batches ran): each caller gets an error, no event, no hang', async () => {
    const pool = createPool(a.config.db.url!, 2);
    const load = createXrayLoader(pool);
    const requestId = `ab-end-${randomUUID()}`;
    const read = load(stored[0]!.id);
    const event = recordAudit(pool, {
      context: { ...systemContext({ sub: 'doc-ab', roles: ['doctor'] }), requestId },
      action: 'xray.read',
      outcome: 'success',
      xrayId: stored[0]!.id,
    });
    const ended = pool.end();
    const t0 = performance.now();
    const [r, e] = await Promise.allSettled([read, event]);
    expect([r.status, e.status]).toEqual(['rejected', 'rejected']);
    expect(ms(t0)).toBeLessThan(1_000);
    await ended;
    expect(await eventsOf(a.pool, requestId)).toEqual([]);
    // The batcher is not left `running` with nothing to drain: a later event on a live pool still commits.
    const later = `ab-later-${randomUUID()}`;
    await recordAudit(a.pool, {
      context: { ...systemContext(null), requestId: later },
      action: 'xray.read',
      outcome: 'success',
    });
    expect(await eventsOf(a.pool, later)).toHaveLength(1);
  });

  it('an unreachable database: the read and its event are refused at once, both in one turn', async () => {
    const pool = createPool('postgres://nobody:x@127.0.0.1:9/none', 2, { connectTimeoutMs: 500 });
    try {
      const load = createXrayLoader(pool);
      const t0 = performance.now();
      const got = await Promise.allSettled([
        ...stored.map((x) => load(x.id)),
        ...stored.map(() =>
          recordAudit(pool, { context: systemContext(null), action: 'xray.read', outcome: 'success' }),
        ),
      ]);
      expect(got.map((g) => g.status)).toEqual(got.map(() => 'rejected'));
      // One connect failure for the whole batch, not one connect timeout after another.
      expect(ms(t0)).toBeLessThan(1_500);
    } finally {
      await pool.end();
    }
  });

  it('reads across instances while another instance holds the chain lock: nothing is answered before its event commits', async () => {
    const holder = new pg.Client({ connectionString: a.config.db.url! });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(LOCK_CHAIN);
      const actors = [P1, P2, DOCTOR, ADMIN, NO_ROLE];
      const answered: string[] = [];
      let released = false;
      const calls = Array.from({ length: 40 }, (_, i) => {
        const actor = actors[i % actors.length]!;
        const x = stored[i % stored.length]!;
        return call(i % 2 ? a : b, `/xrays/${x.id}`, actor).then((r) => {
          if (r.res.status === 200 && !released) answered.push(`${actor} ${x.id} answered under the lock`);
          return { actor, x, ...r };
        });
      });
      await new Promise((resolve) => setTimeout(resolve, 400));
      released = true;
      await holder.query('COMMIT');
      const answers = await Promise.all(calls);
      expect(answered).toEqual([]);
      const wrong: string[] = [];
      for (const { actor, x, res, requestId, text } of answers) {
        const want = expected(actor, x);
        if (res.status !== want.status) wrong.push(`${actor} ${x.id}: ${res.status} (want ${want.status}) ${text}`);
        if (want.status === 200 && XraySchema.parse(JSON.parse(text)).patientId !== x.patientId)
          wrong.push(`${actor}: got another X-ray`);
        const events = await eventsOf(a.pool, requestId);
        if (events.length !== 1 || events[0]!.action !== want.action || events[0]!.outcome !== want.outcome)
          wrong.push(`${actor} ${x.id}: events ${JSON.stringify(events)}`);
      }
      expect(wrong).toEqual([]);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
    expect(await verifyAuditChain(a.pool, { batchSize: 7 })).toMatchObject({ ok: true });
  });

  it('the chain lock held past the statement timeout: a read whose event fails gets an error, never the X-ray, and leaves no event', async () => {
    const holder = new pg.Client({ connectionString: a.config.db.url! });
    await holder.connect();
    let answers: { res: Response; requestId: string; text: string; x: Stored }[];
    try {
      await holder.query('BEGIN');
      await holder.query(LOCK_CHAIN);
      answers = await Promise.all(
        stored.flatMap((x) =>
          [`/xrays/${x.id}`, `/xrays/${x.id}/download`, `/xrays/${x.id}/preview`].map((p, i) =>
            // Metadata on the other instance; bytes where they are stored.
            call(i === 0 ? b : a, p, DOCTOR).then((r) => ({ ...r, x })),
          ),
        ),
      );
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
    const wrong: string[] = [];
    for (const { res, requestId, text, x } of answers) {
      if (res.status < 500 || !res.headers.get('content-type')?.includes('problem+json') || text.includes(x.patientId))
        wrong.push(`${requestId}: ${res.status} ${res.headers.get('content-type')} ${text.slice(0, 80)}`);
      const events = await eventsOf(a.pool, requestId);
      if (events.some((e) => e.outcome === 'success')) wrong.push(`${requestId}: a success event of a refused read`);
    }
    expect(wrong).toEqual([]);
    // Both batchers recover: the next read is answered and audited.
    const after = await call(b, `/xrays/${stored[0]!.id}`, DOCTOR);
    expect(after.res.status).toBe(200);
    expect(await eventsOf(a.pool, after.requestId)).toHaveLength(1);
    expect(await verifyAuditChain(a.pool, { batchSize: 7 })).toMatchObject({ ok: true });
  });

  it('a read statement that hangs: reads queued behind it go after MAX_WAIT_MS, each with its own X-ray, and a steady stream is not starved', async () => {
    let first = true;
    const hanging = {
      query: (...args: Parameters<Pool['query']>) => {
        if (first) {
          first = false;
          // As a statement stuck until its timeout.
          return new Promise((_, reject) => setTimeout(() => reject(new Error('statement timeout')), 3_000));
        }
        return (a.pool.query as (...q: unknown[]) => unknown)(...args);
      },
    } as unknown as Pool;
    const load = createXrayLoader(hanging);
    const stuck = load(stored[0]!.id).then(
      () => 'answered',
      () => 'failed',
    );
    await new Promise((resolve) => setImmediate(resolve));
    const latencies: number[] = [];
    const wrong: string[] = [];
    const until = performance.now() + 800;
    let n = 0;
    const pending: Promise<void>[] = [];
    while (performance.now() < until) {
      const x = stored[n++ % stored.length]!;
      const t0 = performance.now();
      pending.push(
        load(n % 2 ? x.id : x.id.toUpperCase()).then((got) => {
          latencies.push(ms(t0));
          if (got?.patientId !== x.patientId) wrong.push(`${x.id}: ${got?.id ?? 'null'}`);
        }),
      );
      // A new read every turn of the loop, from a callback of its own.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(pending);
    expect(wrong).toEqual([]);
    expect(latencies.length).toBeGreaterThan(20);
    // Behind the hung statement a read would wait its 3 s; the bound leaves room for a busy machine.
    expect(latencies.reduce((m, l) => Math.max(m, l), 0)).toBeLessThan(1_500);
    expect(await stuck).toBe('failed');
  });

  it('a steady stream of read events: none waits behind the stream, each is chained once', async () => {
    const latencies: number[] = [];
    const ids: string[] = [];
    const pending: Promise<void>[] = [];
    const until = performance.now() + 2_000;
    while (performance.now() < until) {
      const requestId = `ab-stream-${randomUUID()}`;
      ids.push(requestId);
      const t0 = performance.now();
      pending.push(
        recordAudit(a.pool, {
          context: { ...systemContext({ sub: 'doc-ab', roles: ['doctor'] }), requestId },
          action: 'xray.read',
          outcome: 'success',
        }).then((r) => {
          expect(r.requestId).toBe(requestId);
          latencies.push(ms(t0));
        }),
      );
      // Several thousand a second, from callbacks of their own (far more reads than a server answers).
      if (ids.length % 4 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      else await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(pending);
    // A starved event would wait for the stream's end (2 s); the bound leaves room for a busy machine.
    expect(latencies.reduce((m, l) => Math.max(m, l), 0)).toBeLessThan(1_000);
    const { rows } = await a.pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM audit_events WHERE request_id = ANY($1)',
      [ids],
    );
    expect(Number(rows[0]!.n)).toBe(ids.length);
    expect(await verifyAuditChain(a.pool, { batchSize: 50 })).toMatchObject({ ok: true });
  });

  it('a correction or deletion answered by one instance is seen by reads on the other at once, for every role', async () => {
    const [target, victim] = [stored[1]!, stored[2]!];
    let stop = false;
    const noise = (async () => {
      while (!stop) await Promise.all(stored.slice(3).map((x) => call(b, `/xrays/${x.id}`, P2)));
    })();
    try {
      for (let n = 0; n < 5; n++) {
        const notes = `ab ${n} ${randomUUID()}`;
        const patched = await call(a, `/xrays/${target.id}`, DOCTOR, {
          method: 'PATCH',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ notes }),
        });
        expect(patched.res.status, patched.text).toBe(200);
        const reads = await Promise.all(
          [P1, DOCTOR, P2, NO_ROLE].map((actor) => call(b, `/xrays/${target.id}`, actor)),
        );
        expect(reads.map((r) => r.res.status)).toEqual([200, 200, 404, 403]);
        for (const r of reads.slice(0, 2)) expect(XraySchema.parse(JSON.parse(r.text)).notes).toBe(notes);
        for (const r of reads.slice(2)) expect(r.text).not.toContain(target.patientId);
      }
      expect((await call(a, `/xrays/${victim.id}`, ADMIN, { method: 'DELETE' })).res.status).toBe(204);
      const after = await Promise.all([
        call(b, `/xrays/${victim.id}`, DOCTOR),
        call(b, `/xrays/${victim.id}/download`, P1),
        call(b, `/xrays/${victim.id}/preview`, DOCTOR),
      ]);
      expect(after.map((r) => r.res.status)).toEqual([404, 404, 404]);
    } finally {
      stop = true;
      await noise;
    }
    expect(await verifyAuditChain(a.pool, { batchSize: 7 })).toMatchObject({ ok: true });
  });

  it('a stop while reads are in flight and batches are scheduled ends cleanly: every X-ray answered has its event', async () => {
    // A third instance that stops in the turn a request reaches the route (its batches scheduled, not run).
    let stopping: Promise<void> | undefined;
    let seen = 0;
    let c: TestServer | undefined = undefined;
    const stopOnTenth: typeof headerActor = (req, res, next) => {
      if (++seen === 10 && c) stopping = c.close();
      headerActor(req, res, next);
    };
    c = await startTestServer(
      'fs',
      { ...ENV, DATABASE_URL: a.env.DATABASE_URL!, SHUTDOWN_GRACE_MS: '3000' },
      { authenticate: stopOnTenth },
    );
    const server = c;
    const actors = [P1, P2, DOCTOR, NO_ROLE];
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => {
        const actor = actors[i % actors.length]!;
        const x = stored[i % stored.length]!;
        return call(server, `/xrays/${x.id}`, actor).then(
          (r) => ({ actor, x, ...r }),
          () => null,
        );
      }),
    );
    expect(stopping).toBeDefined();
    const t0 = performance.now();
    await stopping;
    expect(ms(t0)).toBeLessThan(3_000);
    const wrong: string[] = [];
    for (const r of answers) {
      if (!r) continue;
      const events = await eventsOf(a.pool, r.requestId);
      if (r.res.status === 200) {
        if (XraySchema.parse(JSON.parse(r.text)).patientId !== r.x.patientId) wrong.push(`${r.actor}: another X-ray`);
        if (events.length !== 1 || events[0]!.outcome !== 'success')
          wrong.push(`${r.requestId}: 200 with ${JSON.stringify(events)}`);
      } else if (r.text.includes(r.x.patientId)) {
        wrong.push(`${r.requestId}: ${r.res.status} discloses the patient`);
      }
    }
    expect(wrong).toEqual([]);
    expect(answers.filter((r) => r?.res.status === 200).length).toBeGreaterThan(0);
    expect(await verifyAuditChain(a.pool, { batchSize: 7 })).toMatchObject({ ok: true });
  });

  it('a stop cut off while a batch hangs on the chain lock and more events queue behind it: no read answered unaudited, no unhandled rejection', async () => {
    const holder = new pg.Client({ connectionString: a.config.db.url! });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query(LOCK_CHAIN);
    const d = await startTestServer(
      'fs',
      { ...ENV, DATABASE_URL: a.env.DATABASE_URL!, DATABASE_STATEMENT_TIMEOUT_MS: '20000', SHUTDOWN_GRACE_MS: '1200' },
      { authenticate: headerActor },
    );
    const read = (i: number) => {
      const x = stored[i % stored.length]!;
      const actor = [P1, P2, DOCTOR, NO_ROLE][i % 4]!;
      return call(d, `/xrays/${x.id}`, actor).then(
        (r) => ({ x, ...r }),
        () => null,
      );
    };
    let answers: Awaited<ReturnType<typeof read>>[];
    try {
      // The first batch hangs on the lock; the second queues behind it.
      const first = Array.from({ length: 10 }, (_, i) => read(i));
      await new Promise((resolve) => setTimeout(resolve, 200));
      const second = Array.from({ length: 10 }, (_, i) => read(i + 10));
      await new Promise((resolve) => setTimeout(resolve, 200));
      const t0 = performance.now();
      await d.close();
      expect(ms(t0)).toBeLessThan(2_500);
      await holder.query('COMMIT');
      answers = await Promise.all([...first, ...second]);
      // Let whatever the stopped instance still had queued settle.
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
    const wrong: string[] = [];
    for (const r of answers) {
      if (!r) continue;
      if (r.text.includes(r.x.patientId) && (await eventsOf(a.pool, r.requestId)).length !== 1)
        wrong.push(`${r.requestId}: ${r.res.status} disclosed without its event`);
    }
    expect(wrong).toEqual([]);
    expect(await verifyAuditChain(a.pool, { batchSize: 7 })).toMatchObject({ ok: true });
  });

  // Fails on e1cf7fb (and before it): after a batch fails on a refused event, AuditBatcher.drain
  // retries its events one at a time and does not stop when a retry finds the database unavailable
  // (57014), so the n-th event waits n statement timeouts, and every event queued behind waits for all.
  it('after an event the trail refuses, a database that stalls answers each read of the batch, and those queued behind, within one statement timeout', async () => {
    // One event the trail refuses and, in the same batch, events whose statements hang until the
    // timeout (as when the database stalls right after the batch failed).
    const tag = randomUUID().slice(0, 8);
    const fn = `test_refuse_then_hang_${tag}`;
    await asOwner(
      a,
      `CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF NEW.patient_id = 'refused-${tag}' THEN RAISE EXCEPTION 'audit refused by test'; END IF;
         IF NEW.patient_id LIKE 'hang-${tag}-%' THEN PERFORM pg_sleep(30); END IF;
         RETURN NEW;
       END $$;
       CREATE TRIGGER ${fn} BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION ${fn}();`,
    );
    const settle = (patientId: string) => {
      const t0 = performance.now();
      return recordAudit(a.pool, {
        context: systemContext({ sub: 'doc-ab', roles: ['doctor'] }),
        action: 'xray.read',
        outcome: 'success',
        patientId,
      }).then(
        () => ({ patientId, ok: true, ms: ms(t0) }),
        () => ({ patientId, ok: false, ms: ms(t0) }),
      );
    };
    try {
      // One turn: one batch, in this order (the refused one fails the batch at once).
      const batch = [settle(`refused-${tag}`), ...[1, 2, 3].map((n) => settle(`hang-${tag}-${n}`))];
      await new Promise((resolve) => setTimeout(resolve, 100));
      // A read of another user, queued behind that batch.
      const bystander = settle(`fine-${tag}`);
      const got = await Promise.all([...batch, bystander]);
      // What the database settings promise a request: an answer (or an error) within the statement
      // timeout and a second, however many requests share its batch.
      const late = got
        .filter((g) => g.ms > STATEMENT_TIMEOUT_MS + 1_000)
        .map((g) => `${g.patientId}: ${Math.round(g.ms)} ms`);
      expect(late).toEqual([]);
    } finally {
      await asOwner(a, `DROP TRIGGER ${fn} ON audit_events; DROP FUNCTION ${fn}();`);
    }
  }, 20_000);
});
