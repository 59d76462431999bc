// Issue 22: two sync server processes (one database, one storage) answer a mixed load at once —
// reads, lists, downloads, uploads, corrections and denials, with real tokens — and then the real
// `xray-admin verify-audit` walks the one hash chain both wrote: every event verifies, every
// audited request is in it exactly once, and the two writers' events are interleaved. A row
// changed afterwards (by the schema's owner, trigger disabled) is named as the break.
import { randomUUID } from 'node:crypto';
import { makePng, sha256Hex } from '@xray/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idOf, verifyAuditCli } from './audit.support.ts';
import {
  blobOf,
  createSeparatedDatabase,
  createTestStorage,
  postXray,
  testServerEnv,
  validMetadata,
  type TestStorage,
} from './harness.ts';
import { startTestIssuer, type Person, type TestIssuer } from './oidc-tokens.ts';
import { spawnServer, type ServerProcess } from './server-process.ts';

/** How long both instances are kept busy, and how many requests each has in flight meanwhile. */
const LOAD_MS = 6_000;
const IN_FLIGHT = 24;

type Instance = 'a' | 'b';
type Kind = 'read' | 'list' | 'download' | 'create' | 'update' | 'deniedNoRole' | 'deniedOther';

/** What each kind of request must answer, and the one audit event it must leave. */
const EXPECTED: Record<Kind, { status: number; action: string; outcome: string }> = {
  read: { status: 200, action: 'xray.read', outcome: 'success' },
  list: { status: 200, action: 'xray.list', outcome: 'success' },
  download: { status: 200, action: 'xray.download', outcome: 'success' },
  create: { status: 201, action: 'xray.create', outcome: 'success' },
  update: { status: 200, action: 'xray.update', outcome: 'success' },
  // A token that verifies but carries no role: 403.
  deniedNoRole: { status: 403, action: 'access.denied', outcome: 'denied' },
  // Another paramedic's X-ray: the policy's 404, on the trail as a denial.
  deniedOther: { status: 404, action: 'access.denied', outcome: 'denied' },
};
/** The mix each worker cycles through (mostly reads, as on a ward). */
const MIX: Kind[] = ['read', 'list', 'create', 'read', 'download', 'update', 'deniedNoRole', 'read', 'deniedOther'];

interface Sent {
  instance: Instance;
  kind: Kind;
  requestId: string;
  status: number;
  /** Downloads: the bytes received are the bytes uploaded. */
  sameBytes?: boolean;
}

interface ChainRow {
  id: string;
  request_id: string | null;
  action: string;
  outcome: string;
  user_agent: string | null;
  /** Events of one batch share their time (taken once, under the chain lock). */
  at: string;
}

const userAgentOf = (instance: Instance) => `audit-cluster-test/${instance}`;

describe('audit chain: two server processes writing at once under load', () => {
  let issuer: TestIssuer;
  let storage: TestStorage;
  let env: Record<string, string>;
  let ownerUrl: string;
  const servers = new Map<Instance, ServerProcess>();
  /** Every request of the load and the seeds, with what it was answered. */
  const sent: Sent[] = [];
  const seedIds: string[] = [];
  /** sha256 of each seed's file, by its id. */
  const seedShas = new Map<string, string>();
  const patientId = `P-AC-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    issuer = await startTestIssuer('audit-cluster');
    storage = await createTestStorage('fs');
    // Production's separation: the servers log in as the application (INSERT and SELECT on
    // audit_events); the schema belongs to an owner role.
    const db = await createSeparatedDatabase();
    ownerUrl = db.ownerUrl;
    env = await testServerEnv(storage, {
      ...issuer.env,
      DATABASE_URL: db.appUrl,
      DATABASE_OWNER_URL: db.ownerUrl,
      // Checkpoints written while the load runs (by whichever instance gets there), so
      // verify-audit checks the chain against several signed checkpoints, not none.
      AUDIT_CHECKPOINT_EVERY: '200',
    });
    // One first, so the migrations run once; spawnServer waits for the listening line (info).
    servers.set('a', await spawnServer({ ...env, LOG_LEVEL: 'info' }));
    servers.set('b', await spawnServer({ ...env, LOG_LEVEL: 'info' }));
  });
  afterAll(async () => {
    await Promise.all([...servers.values()].map((s) => s.kill()));
    await issuer?.stop();
    await storage?.cleanup();
  });

  const urlOf = (instance: Instance): string => {
    const server = servers.get(instance);
    if (!server) throw new Error(`no server ${instance}`);
    return server.url;
  };

  /** One request of `kind` to `instance` (as the user that kind acts as), its request id naming the instance. */
  async function send(instance: Instance, kind: Kind, n: number): Promise<Sent> {
    const requestId = `${instance}-${randomUUID()}`;
    const as = (person: Person) => ({
      Authorization: `Bearer ${issuer.tokens[person]}`,
      'X-Request-Id': requestId,
      'User-Agent': userAgentOf(instance),
    });
    const base = urlOf(instance);
    const seed = seedIds[n % seedIds.length] ?? '';
    let res: Response;
    switch (kind) {
      case 'read':
        res = await fetch(`${base}/xrays/${seed}`, { headers: as('doctor') });
        break;
      case 'list':
        res = await fetch(`${base}/xrays?patientId=${patientId}&limit=5`, { headers: as('doctor') });
        break;
      case 'download':
        res = await fetch(`${base}/xrays/${seed}/download`, { headers: as('doctor') });
        break;
      case 'create':
        res = await postXray(
          base,
          validMetadata({ patientId }),
          blobOf(makePng({ width: 24, height: 24, seed: n })),
          as('owner'),
        );
        break;
      case 'update':
        res = await fetch(`${base}/xrays/${seed}`, {
          method: 'PATCH',
          headers: { ...as('doctor'), 'Content-Type': 'application/json' },
          body: JSON.stringify({ notes: `reviewed ${requestId}` }),
        });
        break;
      case 'deniedNoRole':
        res = await fetch(`${base}/xrays/${seed}`, { headers: as('noRole') });
        break;
      case 'deniedOther':
        res = await fetch(`${base}/xrays/${seed}`, { headers: as('other') });
        break;
    }
    const body = Buffer.from(await res.arrayBuffer());
    return {
      instance,
      kind,
      requestId,
      status: res.status,
      ...(kind === 'download' ? { sameBytes: sha256Hex(body) === seedShas.get(seed) } : {}),
    };
  }

  /** Runs `fn` as the schema's owner (who may disable the append-only trigger; the application may not). */
  async function asOwner<T>(fn: (db: pg.ClientBase) => Promise<T>): Promise<T> {
    const db = new pg.Client({ connectionString: ownerUrl });
    await db.connect();
    try {
      return await fn(db);
    } finally {
      await db.end();
    }
  }

  const chain = () =>
    asOwner(async (db) => {
      const { rows } = await db.query<ChainRow>(
        'SELECT id::text AS id, request_id, action, outcome, user_agent, at::text AS at FROM audit_events ORDER BY audit_events.id',
      );
      return rows;
    });

  it('both instances answer a mixed load at once; verify-audit verifies every event, each audited request has its one event, and the writers interleave', async () => {
    // X-rays to read, download and correct, captured by the owner paramedic (through a).
    for (let i = 0; i < 4; i++) {
      const requestId = `seed-${randomUUID()}`;
      const png = makePng({ width: 24, height: 24, seed: 1_000_000 + i });
      const res = await postXray(urlOf('a'), validMetadata({ patientId }), blobOf(png), {
        Authorization: `Bearer ${issuer.tokens.owner}`,
        'X-Request-Id': requestId,
      });
      expect(res.status).toBe(201);
      const id = await idOf(res);
      seedIds.push(id);
      seedShas.set(id, sha256Hex(png));
    }

    // The load: IN_FLIGHT requests at each instance at all times, until LOAD_MS has passed.
    const deadline = Date.now() + LOAD_MS;
    let n = 0;
    const worker = async (instance: Instance, w: number) => {
      for (let i = w; Date.now() < deadline; i++) {
        const kind = MIX[i % MIX.length] ?? 'read';
        sent.push(await send(instance, kind, n++));
      }
    };
    await Promise.all(
      (['a', 'b'] as const).flatMap((instance) => Array.from({ length: IN_FLIGHT }, (_, w) => worker(instance, w))),
    );
    const answeredBy = (instance: Instance) => sent.filter((s) => s.instance === instance).length;
    console.log(`load: ${sent.length} requests in ${LOAD_MS} ms (a ${answeredBy('a')}, b ${answeredBy('b')})`);

    // Every request was answered as its kind must be (a 5xx under load would show here).
    const wrongStatus = sent
      .filter((s) => s.status !== EXPECTED[s.kind].status)
      .map((s) => `${s.instance} ${s.kind} ${s.requestId}: ${s.status}`);
    expect(wrongStatus).toEqual([]);
    expect(sent.filter((s) => s.kind === 'download' && !s.sameBytes).map((s) => s.requestId)).toEqual([]);
    // Real load on both, and every kind at each.
    for (const instance of ['a', 'b'] as const) {
      expect(answeredBy(instance)).toBeGreaterThanOrEqual(60);
      for (const kind of Object.keys(EXPECTED)) {
        expect(
          sent.some((s) => s.instance === instance && s.kind === kind),
          `${instance} ${kind}`,
        ).toBe(true);
      }
    }

    // Stopped (gracefully) before counting, so nothing is written while the CLI walks the chain.
    for (const server of servers.values()) {
      await server.kill();
      expect(server.child.exitCode, server.stderr()).toBe(0);
    }

    const rows = await chain();
    // Each request left exactly one event, the one its kind must leave, with its instance's client.
    const byRequest = new Map<string, ChainRow[]>();
    for (const row of rows) {
      if (row.request_id) byRequest.set(row.request_id, [...(byRequest.get(row.request_id) ?? []), row]);
    }
    const unaudited = sent.flatMap((s) => {
      const events = byRequest.get(s.requestId) ?? [];
      const want = EXPECTED[s.kind];
      const [event] = events;
      return events.length === 1 &&
        event?.action === want.action &&
        event.outcome === want.outcome &&
        event.user_agent === userAgentOf(s.instance)
        ? []
        : [`${s.instance} ${s.kind} ${s.requestId}: ${JSON.stringify(events)}`];
    });
    expect(unaudited).toEqual([]);
    // And nothing else: the trail holds the seeds' events and the load's, no more, no fewer.
    expect(rows.length).toBe(seedIds.length + sent.length);

    // Two writers: the chain switches from one instance's events to the other's again and again.
    const writers = rows.map((r) => r.request_id?.split('-')[0]).filter((w) => w === 'a' || w === 'b');
    const switches = writers.filter((w, i) => i > 0 && w !== writers[i - 1]).length;
    console.log(`chain: ${rows.length} events, ${switches} switches between the instances' events`);
    // (One writer after the other would switch once.)
    expect(switches).toBeGreaterThanOrEqual(20);
    // And the reads were group-committed (many events per batch), the path a busy server takes.
    const perBatch = new Map<string, number>();
    for (const r of rows) perBatch.set(r.at, (perBatch.get(r.at) ?? 0) + 1);
    expect(Math.max(...perBatch.values())).toBeGreaterThanOrEqual(4);

    // The operator's check, in its own process, against the database and the checkpoints.
    const cli = await verifyAuditCli(env);
    console.log(cli.stdout);
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain(
      `OK: ${rows.length} audit events verified; chain intact up to event ${rows.at(-1)?.id} `,
    );
    // Checkpoints the two instances wrote while the load ran, each verified against the chain.
    expect(cli.stdout).toMatch(/^OK: \d+ checkpoints? in .* verified/m);
    expect(cli.stdout).not.toMatch(/BROKEN|WARNING/);
  });

  it('a row changed afterwards by the schema owner (trigger disabled) is named as the break', async () => {
    const rows = await chain();
    // An event from the middle of the load, written by b.
    const target = rows.slice(Math.floor(rows.length / 2)).find((r) => r.request_id?.startsWith('b-'));
    if (!target) throw new Error('no event of b in the second half of the chain');
    const position = rows.indexOf(target);
    const setUserAgent = (value: string | null) =>
      asOwner(async (db) => {
        await db.query('BEGIN');
        await db.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete');
        await db.query('UPDATE audit_events SET user_agent = $2 WHERE id = $1', [target.id, value]);
        await db.query('ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete');
        await db.query('COMMIT');
      });

    await setUserAgent('forged');
    const broken = await verifyAuditCli(env);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain(
      `BROKEN: audit event ${target.id} does not verify: its contents do not match its hash`,
    );
    expect(broken.stdout).toContain(`(${position} events before it verified)`);

    // Put back as it was, the chain verifies again: the break was that row and only that row.
    await setUserAgent(target.user_agent);
    const restored = await verifyAuditCli(env);
    expect(restored.code).toBe(0);
    expect(restored.stdout).toContain(`OK: ${rows.length} audit events verified`);
  });
});
