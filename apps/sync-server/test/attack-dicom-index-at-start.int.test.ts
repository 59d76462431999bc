import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { makeDicom } from '@xray/testkit';
import pg from 'pg';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.ts';
import { verifyAuditCli } from './audit.support.ts';
import { runAdmin, spawnServer } from './server-process.ts';
import { sealed, tusCreate } from './tus-client.ts';
import { start, type RunningServer, type StartOptions } from '../src/server.ts';
import type { ObjectStore } from '../src/storage/index.ts';
import {
  blobOf,
  createTestStorage,
  headerActor,
  postXray,
  testServerEnv,
  validMetadata,
  type TestStorage,
} from './harness.ts';

/**
 * Attacks on the DICOM index at start (dicom-index.at-start.ts) with the database in hand: what an
 * operator sees at every start, X-rays changed while it reads them, the lock when its session dies.
 */

const MEDIC = 'medic-attack-as; paramedic';
const DOCTOR = 'doctor-attack-as; doctor';
const ADMIN = 'admin-attack-as; admin';
const ACTOR = 'sync-server dicom-index at start';

interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

interface Instance {
  server: RunningServer;
  lines: LogLine[];
}

const indexLines = (i: Instance) => i.lines.filter((l) => l.msg.startsWith('DICOM index at start'));
const summaries = (i: Instance) => indexLines(i).filter((l) => 'indexed' in l);

/** Store reads of X-ray objects, counted, each waiting on `gate.wait` when set. */
function watchedReads(gate: { wait?: (key: string) => Promise<void>; reads: string[] }) {
  return (store: ObjectStore): ObjectStore =>
    new Proxy(store, {
      get(target, p) {
        if (p === 'get')
          return async (...args: Parameters<ObjectStore['get']>) => {
            if (args[0].startsWith('xrays/')) {
              gate.reads.push(args[0]);
              if (gate.wait) await gate.wait(args[0]);
            }
            return target.get(...args);
          };
        const v: unknown = Reflect.get(target, p, target);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
}

describe('attacks on the DICOM index at start', () => {
  const running = new Set<RunningServer>();
  const storages: TestStorage[] = [];
  afterEach(async () => {
    for (const s of running) await s.stop();
    running.clear();
    for (const s of storages.splice(0)) await s.cleanup();
  });

  async function cluster() {
    const storage = await createTestStorage('fs');
    storages.push(storage);
    const env = await testServerEnv(storage);
    const boot = async (extraEnv: Record<string, string> = {}, opts: StartOptions = {}): Promise<Instance> => {
      const lines: LogLine[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line) as LogLine);
          done();
        },
      });
      const server = await start(loadConfig({ ...env, ...extraEnv }), {
        authenticate: headerActor,
        log: pino({ level: 'debug' }, sink),
        ...opts,
      });
      running.add(server);
      return { server, lines };
    };
    const stop = async (i: Instance) => {
      running.delete(i.server);
      await i.server.stop();
    };
    return { env, boot, stop };
  }

  async function post(server: RunningServer, dicom: Parameters<typeof makeDicom>[0], actor = MEDIC) {
    const id = randomUUID();
    const res = await postXray(
      server.url,
      validMetadata({ id, patientId: dicom?.patientId ?? 'PAT-0001' }),
      blobOf(makeDicom({ rows: 16, columns: 16, ...dicom })),
      { 'X-Test-Actor': actor },
    );
    expect(res.status, await res.clone().text()).toBe(201);
    return id;
  }

  /** An X-ray stored as if before the index: posted, then its index row removed. */
  async function storedBeforeIndex(server: RunningServer, sopInstanceUid: string, n: number, actor = MEDIC) {
    const id = await post(server, { seed: 8800 + n, sopInstanceUid, patientId: `P-ATK-${n}` }, actor);
    await server.pool.query('DELETE FROM dicom_instances WHERE xray_id = $1', [id]);
    return id;
  }

  /** A query outside the servers' pools. */
  async function outside<T>(env: Record<string, string>, fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const c = new pg.Client({ connectionString: env.DATABASE_URL });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  }

  /** Sessions holding an advisory lock on the cluster's database. */
  const advisoryHolders = (env: Record<string, string>) =>
    outside(env, async (c) =>
      (
        await c.query<{ pid: number }>(
          `SELECT DISTINCT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database
            WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()`,
        )
      ).rows.map((r) => r.pid),
    );

  /** Waits until `check` holds, at most 10 s. */
  async function until(check: () => Promise<boolean>, what: () => string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(what());
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Whether some session holds the DICOM index at start's lock (tried, and let go if got). */
  const atStartLockHeld = (env: Record<string, string>) =>
    outside(env, async (c) => {
      const key = "hashtextextended('dicom-index-at-start', 0)";
      const { rows } = await c.query<{ got: boolean }>(`SELECT pg_try_advisory_lock(${key}) AS got`);
      if (rows[0]!.got) await c.query(`SELECT pg_advisory_unlock(${key})`);
      return !rows[0]!.got;
    });

  /** The instances QIDO-RS finds under a SOP Instance UID: their PatientIDs. */
  async function qido(server: RunningServer, sop: string): Promise<unknown[]> {
    const res = await fetch(`${server.url}/dicom-web/instances?SOPInstanceUID=${sop}`, {
      headers: { 'X-Test-Actor': DOCTOR, Accept: 'application/dicom+json' },
    });
    expect(res.status).toBeLessThan(300);
    const body = res.status === 204 ? [] : ((await res.json()) as Record<string, { Value?: unknown[] }>[]);
    return body.map((d) => d['00100020']?.Value?.[0]);
  }

  const indexedIn = (env: Record<string, string>, ids: string[]) =>
    outside(env, async (c) =>
      (
        await c.query<{ xray_id: string }>(
          'SELECT xray_id FROM dicom_instances WHERE xray_id = ANY($1::uuid[]) ORDER BY xray_id',
          [ids],
        )
      ).rows.map((r) => r.xray_id),
    );

  /** The events of X-ray `id`: its audit actions (and actors) and outbox event types. */
  const eventsOf = (env: Record<string, string>, id: string) =>
    outside(env, async (c) => ({
      audits: (
        await c.query<{ action: string; actor_sub: string }>(
          'SELECT action, actor_sub FROM audit_events WHERE xray_id = $1 AND action <> $2 ORDER BY id',
          [id, 'xray.read'],
        )
      ).rows.map((r) => `${r.action} by ${r.actor_sub}`),
      events: (
        await c.query<{ type: string }>('SELECT type FROM outbox_events WHERE xray_id = $1 ORDER BY id', [id])
      ).rows.map((r) => r.type),
    }));

  it('a DICOM that can never be indexed (no valid SOP Instance UID), stored by an upload today, is read at one start, not at every start after', async () => {
    const { env, boot, stop } = await cluster();
    const first = await boot();
    await first.server.dicomIndexAtStart;
    // Accepted by POST /xrays today, and stored; DICOMweb has no place for it (indexEntryOf).
    const id = await post(first.server, { seed: 8801, patientId: 'P-ATK-1', sopInstanceUid: 'not-a-uid' });
    expect(
      (await first.server.pool.query('SELECT 1 FROM dicom_instances WHERE xray_id = $1', [id])).rowCount,
      'indexed at upload',
    ).toBe(0);
    await stop(first);

    // The next start looks at it once: skipped, said in the summary.
    const second = await boot();
    await second.server.dicomIndexAtStart;
    expect(summaries(second)).toEqual([expect.objectContaining({ indexed: 0, skipped: 1, failed: 0 })]);
    await stop(second);

    // Every start after that: nothing to do, nothing locked, read or logged.
    const gate = { reads: [] as string[] };
    const third = await boot({}, { decorateStore: watchedReads(gate) });
    await third.server.dicomIndexAtStart;
    expect(indexLines(third)).toEqual([]);
    expect(gate.reads, 'its object read again at start').toEqual([]);
    await stop(third);

    // The command still reads it and names it.
    const cli = await runAdmin(['dicom-index'], env);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain(`1 name no study, series or instance UID (not in DICOMweb): ${id}`);
  });

  it('an X-ray deleted, and one relinked (PATCH), while the start run reads them: the deleted one is in no index and announced by nothing but its delete; the relinked one is found under its new patient', async () => {
    const { env, boot, stop } = await cluster();
    const first = await boot();
    await first.server.dicomIndexAtStart;
    const sops = ['1.2.826.0.1.3680043.10.1919.88.1', '1.2.826.0.1.3680043.10.1919.88.2'];
    const deleted = await storedBeforeIndex(first.server, sops[0]!, 1);
    const relinked = await storedBeforeIndex(first.server, sops[1]!, 2);
    await stop(first);

    // Each of the two is held once its object is open (the read under way), until released.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let reached!: () => void;
    const reachedOne = new Promise<void>((r) => (reached = r));
    const held = new Set<string>();
    const gate = {
      reads: [] as string[],
      wait: (key: string) => {
        const id = [deleted, relinked].find((x) => key.includes(x));
        if (!id || held.has(id)) return Promise.resolve();
        held.add(id);
        reached();
        return released;
      },
    };
    const second = await boot({}, { decorateStore: watchedReads(gate) });
    await reachedOne;
    const del = await fetch(`${second.server.url}/xrays/${deleted}`, {
      method: 'DELETE',
      headers: { 'X-Test-Actor': ADMIN },
    });
    expect(del.status, await del.clone().text()).toBe(204);
    const read = await fetch(`${second.server.url}/xrays/${relinked}`, { headers: { 'X-Test-Actor': DOCTOR } });
    const patch = await fetch(`${second.server.url}/xrays/${relinked}`, {
      method: 'PATCH',
      headers: {
        'X-Test-Actor': DOCTOR,
        'Content-Type': 'application/json',
        'If-Match': read.headers.get('etag') ?? '',
      },
      body: JSON.stringify({ patientId: 'P-ATK-MOVED' }),
    });
    expect(patch.status, await patch.clone().text()).toBe(200);
    release();
    await second.server.dicomIndexAtStart;

    expect(await indexedIn(env, [deleted, relinked])).toEqual([relinked]);
    expect(await qido(second.server, sops[0]!)).toEqual([]);
    expect(await qido(second.server, sops[1]!)).toEqual(['P-ATK-MOVED']);
    // Nothing of the run's is recorded for either: only the upload, the delete, the PATCH.
    const d = await eventsOf(env, deleted);
    const r = await eventsOf(env, relinked);
    expect([...d.audits, ...r.audits].filter((a) => a.includes(ACTOR))).toEqual([]);
    expect([...d.events].sort()).toEqual(['xray.deleted', 'xray.uploaded']);
    expect(r.events.filter((t) => t === 'xray.updated')).toHaveLength(1);
    expect(summaries(second)).toEqual([expect.objectContaining({ indexed: 1 })]);
  });

  it('the lock session killed by the database mid-run (pg_terminate_backend): the run ends, the server lives on, nothing is left locked', async () => {
    const { env, boot, stop } = await cluster();
    const first = await boot();
    await first.server.dicomIndexAtStart;
    const ids: string[] = [];
    for (let n = 10; n < 13; n++)
      ids.push(await storedBeforeIndex(first.server, `1.2.826.0.1.3680043.10.1919.88.${n}`, n));
    await stop(first);

    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let reached!: () => void;
    const reachedOne = new Promise<void>((r) => (reached = r));
    let once = false;
    const gate = {
      reads: [] as string[],
      wait: () => {
        if (once) return Promise.resolve();
        once = true;
        reached();
        return released;
      },
    };
    const second = await boot({}, { decorateStore: watchedReads(gate) });
    await reachedOne;
    expect(await atStartLockHeld(env)).toBe(true);
    const holders = await advisoryHolders(env);
    expect(holders).toHaveLength(1);
    await outside(env, (c) => c.query('SELECT pg_terminate_backend($1)', [holders[0]]));
    release();
    await second.server.dicomIndexAtStart;
    expect(await indexedIn(env, ids)).toEqual([...ids].sort());
    expect((await fetch(`${second.server.url}/readyz`)).status).toBe(200);
    expect(await advisoryHolders(env)).toEqual([]);
    expect(summaries(second)).toEqual([expect.objectContaining({ indexed: 3, failed: 0 })]);
    await stop(second);
    expect(second.lines.find((l) => l.msg === 'sync server stopped')).toMatchObject({ clean: true });
  });

  it("`xray-admin dicom-index` run beside a server's start run: each X-ray indexed once, one flag change with one event and one audit event, and the audit trail verifies", async () => {
    const { env, boot, stop } = await cluster();
    const first = await boot();
    await first.server.dicomIndexAtStart;
    const ids: string[] = [];
    for (let n = 20; n < 24; n++)
      ids.push(await storedBeforeIndex(first.server, `1.2.826.0.1.3680043.10.1919.88.${n}`, n));
    // One under a UID a later upload holds: its flag turns, once, whoever indexes it.
    const heldSop = '1.2.826.0.1.3680043.10.1919.88.24';
    const flipped = await storedBeforeIndex(first.server, heldSop, 24);
    ids.push(flipped);
    await post(first.server, { seed: 8825, sopInstanceUid: heldSop, patientId: 'P-ATK-25' });
    await stop(first);

    // The server's run holds on its first read until the command has done everything.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let reached!: () => void;
    const reachedOne = new Promise<void>((r) => (reached = r));
    let once = false;
    const gate = {
      reads: [] as string[],
      wait: () => {
        if (once) return Promise.resolve();
        once = true;
        reached();
        return released;
      },
    };
    const server = await boot({}, { decorateStore: watchedReads(gate) });
    await reachedOne;
    const cli = await runAdmin(['dicom-index'], env);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain(`Indexed ${ids.length} DICOM X-ray(s).`);
    release();
    await server.server.dicomIndexAtStart;
    expect(summaries(server)).toEqual([expect.objectContaining({ failed: 0 })]);

    expect(await indexedIn(env, ids)).toEqual([...ids].sort());
    const news = await eventsOf(env, flipped);
    expect(news.events.filter((t) => t === 'xray.updated')).toHaveLength(1);
    expect(news.audits.filter((a) => a.startsWith('xray.update '))).toEqual(['xray.update by xray-admin dicom-index']);
    await stop(server);
    const verified = await verifyAuditCli(env);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  });

  it("a flag turned at start: one audit event by the run's actor, and `xray-admin verify-audit` verifies the trail", async () => {
    const { env, boot, stop } = await cluster();
    const first = await boot();
    await first.server.dicomIndexAtStart;
    const sop = '1.2.826.0.1.3680043.10.1919.88.40';
    const older = await storedBeforeIndex(first.server, sop, 40);
    await post(first.server, { seed: 8841, sopInstanceUid: sop, patientId: 'P-ATK-41' });
    await stop(first);

    const second = await boot();
    await second.server.dicomIndexAtStart;
    expect(summaries(second)).toEqual([expect.objectContaining({ indexed: 1, failed: 0 })]);
    const news = await eventsOf(env, older);
    expect(news.audits.filter((a) => a.startsWith('xray.update '))).toEqual([`xray.update by ${ACTOR}`]);
    expect(news.events.filter((t) => t === 'xray.updated')).toHaveLength(1);
    await stop(second);
    const verified = await verifyAuditCli(env);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  });

  it('uploads by tus go on while it runs, with few upload-lock connections (TUS_LOCK_POOL_MAX=2: one listens, one is for uploads)', async () => {
    const { boot, stop } = await cluster();
    const first = await boot();
    await first.server.dicomIndexAtStart;
    const id = await storedBeforeIndex(first.server, '1.2.826.0.1.3680043.10.1919.88.50', 50);
    await stop(first);

    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let reached!: () => void;
    const reachedIt = new Promise<void>((r) => (reached = r));
    const gate = {
      reads: [] as string[],
      wait: (key: string) => {
        if (!key.includes(id)) return Promise.resolve();
        reached();
        return released;
      },
    };
    const second = await boot({ TUS_LOCK_POOL_MAX: '2' }, { decorateStore: watchedReads(gate) });
    try {
      await reachedIt;
      const { body, metadata } = await sealed(second.server.url, makeDicom({ rows: 16, columns: 16, seed: 8851 }));
      const url = await tusCreate(second.server.url, body, metadata, { 'X-Test-Actor': MEDIC });
      const patch = await fetch(url, {
        method: 'PATCH',
        headers: {
          'X-Test-Actor': MEDIC,
          'Tus-Resumable': '1.0.0',
          'Upload-Offset': '0',
          'Content-Type': 'application/offset+octet-stream',
        },
        body: new Uint8Array(body),
      });
      expect(patch.status, await patch.text()).toBe(204);
      const stored = await second.server.pool.query('SELECT 1 FROM xrays WHERE id = $1', [metadata.id]);
      expect(stored.rowCount).toBe(1);
    } finally {
      release();
    }
    await second.server.dicomIndexAtStart;
    expect(summaries(second)).toEqual([expect.objectContaining({ indexed: 1, failed: 0 })]);
  });

  it('an instance killed (SIGKILL) mid-run: its lock goes with its session, nothing half-written, the next start does it all', async () => {
    const { env, boot } = await cluster();
    const first = await boot();
    await first.server.dicomIndexAtStart;
    const byId = new Map<string, string>();
    for (let n = 30; n < 33; n++) {
      const sop = `1.2.826.0.1.3680043.10.1919.88.${n}`;
      byId.set(await storedBeforeIndex(first.server, sop, n), sop);
    }
    const ids = [...byId.keys()].sort();
    running.delete(first.server);
    await first.server.stop();

    // The first X-ray's UID locked from outside: the killed instance's run waits there, in its
    // insert's transaction, holding the run's lock on another connection.
    const blocker = new pg.Client({ connectionString: env.DATABASE_URL });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query("SELECT pg_advisory_xact_lock(hashtextextended('dicom-sop:' || $1, 0))", [byId.get(ids[0]!)]);
    const proc = await spawnServer({ ...env, LOG_LEVEL: 'info', DATABASE_STATEMENT_TIMEOUT_MS: '60000' });
    let killed = false;
    try {
      await until(
        async () =>
          (
            await outside(env, (c) =>
              c.query(
                `SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database
                WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()`,
              ),
            )
          ).rowCount! > 0,
        () => `the run never reached the insert:\n${proc.stderr()}`,
      );
      expect(await atStartLockHeld(env)).toBe(true);
      await proc.kill('SIGKILL');
      killed = true;
      // The lock's session ends with the process (as soon as PostgreSQL reads the closed socket).
      await until(
        async () => !(await atStartLockHeld(env)),
        () => 'the lock outlived the killed process',
      );
    } finally {
      if (!killed) await proc.kill('SIGKILL');
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
    // The killed instance's insert was never committed (its session ends once it has the UID's lock).
    await until(
      async () => (await advisoryHolders(env)).length === 0,
      () => "the killed instance's session lives on",
    );
    expect(await indexedIn(env, ids)).toEqual([]);

    const next = await boot();
    await next.server.dicomIndexAtStart;
    expect(summaries(next)).toEqual([expect.objectContaining({ indexed: 3, failed: 0 })]);
    expect(await indexedIn(env, ids)).toEqual(ids);
    expect(await advisoryHolders(env)).toEqual([]);
  }, 60_000);
});
