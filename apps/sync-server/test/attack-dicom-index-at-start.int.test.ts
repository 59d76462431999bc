import { makeDicom } from '@xray/testkit';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyAuditCli } from './audit.support.ts';
import {
  clusters,
  gatedReads,
  indexedIn,
  indexLines,
  outside,
  postDicom,
  qido,
  storingBeforeIndex,
  summaries,
} from './dicom-index-at-start.support.ts';
import { runAdmin, spawnServer } from './server-process.ts';
import { sealed, tusCreate } from './tus-client.ts';

/**
 * Attacks on the DICOM index at start (dicom-index.at-start.ts) with the database in hand: what an
 * operator sees at every start, X-rays changed while it reads them, the lock when its session dies.
 */

const MEDIC = 'medic-attack-as; paramedic';
const DOCTOR = 'doctor-attack-as; doctor';
const ADMIN = 'admin-attack-as; admin';
const ACTOR = 'sync-server dicom-index at start';

/**
 * A gate for `gatedReads` holding the X-ray reads `hold(key)` picks until `release()`: `reached`
 * settles at the first one held (the run is then under way, its lock taken).
 */
function heldReads(hold: (key: string) => boolean) {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let reachedOne!: () => void;
  const reached = new Promise<void>((r) => (reachedOne = r));
  const wait = (key: string) => {
    if (!hold(key)) return Promise.resolve();
    reachedOne();
    return released;
  };
  return { wait, reached, release };
}

/** For `heldReads`: the run's first read only. */
function firstRead() {
  let taken = false;
  return () => {
    if (taken) return false;
    taken = true;
    return true;
  };
}

describe('attacks on the DICOM index at start', () => {
  const { cluster, stopAll } = clusters();
  afterEach(stopAll);

  const { storedBeforeIndex, storedSeries } = storingBeforeIndex({
    actor: MEDIC,
    seed: 8800,
    patientPrefix: 'P-ATK-',
    uidRoot: '1.2.826.0.1.3680043.10.1919.88',
  });

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
    const id = await postDicom(first.server, { seed: 8801, patientId: 'P-ATK-1', sopInstanceUid: 'not-a-uid' }, MEDIC);
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
    const third = await boot({}, { decorateStore: gatedReads(gate) });
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
    const held = new Set<string>();
    const gate = heldReads((key) => {
      const id = [deleted, relinked].find((x) => key.includes(x));
      if (!id || held.has(id)) return false;
      held.add(id);
      return true;
    });
    const second = await boot({}, { decorateStore: gatedReads(gate) });
    await gate.reached;
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
    gate.release();
    await second.server.dicomIndexAtStart;

    expect(await indexedIn(env, [deleted, relinked])).toEqual([relinked]);
    expect(await qido(second.server, sops[0]!, DOCTOR)).toEqual([]);
    expect(await qido(second.server, sops[1]!, DOCTOR)).toEqual(['P-ATK-MOVED']);
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
    const ids = await storedSeries(first.server, 10, 13);
    await stop(first);

    const gate = heldReads(firstRead());
    const second = await boot({}, { decorateStore: gatedReads(gate) });
    await gate.reached;
    expect(await atStartLockHeld(env)).toBe(true);
    const holders = await advisoryHolders(env);
    expect(holders).toHaveLength(1);
    await outside(env, (c) => c.query('SELECT pg_terminate_backend($1)', [holders[0]]));
    gate.release();
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
    const ids = await storedSeries(first.server, 20, 24);
    // One under a UID a later upload holds: its flag turns, once, whoever indexes it.
    const heldSop = '1.2.826.0.1.3680043.10.1919.88.24';
    const flipped = await storedBeforeIndex(first.server, heldSop, 24);
    ids.push(flipped);
    await postDicom(first.server, { seed: 8825, sopInstanceUid: heldSop, patientId: 'P-ATK-25' }, MEDIC);
    await stop(first);

    // The server's run holds on its first read until the command has done everything.
    const gate = heldReads(firstRead());
    const server = await boot({}, { decorateStore: gatedReads(gate) });
    await gate.reached;
    const cli = await runAdmin(['dicom-index'], env);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain(`Indexed ${ids.length} DICOM X-ray(s).`);
    gate.release();
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
    await postDicom(first.server, { seed: 8841, sopInstanceUid: sop, patientId: 'P-ATK-41' }, MEDIC);
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

    const gate = heldReads((key) => key.includes(id));
    const second = await boot({ TUS_LOCK_POOL_MAX: '2' }, { decorateStore: gatedReads(gate) });
    try {
      await gate.reached;
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
      gate.release();
    }
    await second.server.dicomIndexAtStart;
    expect(summaries(second)).toEqual([expect.objectContaining({ indexed: 1, failed: 0 })]);
  });

  it('an instance killed (SIGKILL) mid-run: its lock goes with its session, nothing half-written, the next start does it all', async () => {
    const { env, boot, stop } = await cluster();
    const first = await boot();
    await first.server.dicomIndexAtStart;
    const byId = new Map<string, string>();
    for (let n = 30; n < 33; n++) {
      const sop = `1.2.826.0.1.3680043.10.1919.88.${n}`;
      byId.set(await storedBeforeIndex(first.server, sop, n), sop);
    }
    const ids = [...byId.keys()].sort();
    await stop(first);

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
