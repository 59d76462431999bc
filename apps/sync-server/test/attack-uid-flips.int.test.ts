import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { XrayEventSchema } from '@xray/shared';
import { makeDicom } from '@xray/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dicomIndexCommand } from '../src/cli/dicom-index.command.ts';
import { recoverCommand } from '../src/cli/recover.command.ts';
import { blobOf, headerActor, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';
import { holdInsertsFor } from './slow-inserts.ts';

/**
 * dicomUidConflict turning without the X-ray being written (its UID's holder deleted), attacked
 * with concurrent writers of the X-ray whose flag turns.
 */

const MEDIC = 'medic-flips; paramedic';
const OTHER = 'medic-flips-b; paramedic';
const DOCTOR = 'doctor-flips; doctor';
const ADMIN = 'admin-flips; admin';

describe('dicomUidConflict flips, attacked', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer('fs', {}, { authenticate: headerActor });
  });
  afterAll(async () => {
    await server?.close();
  });

  const post = async (id: string, bytes: Uint8Array, actor: string, patientId: string) => {
    const res = await postXray(server.url, validMetadata({ id, patientId }), blobOf(bytes), { 'X-Test-Actor': actor });
    expect(res.status, await res.clone().text()).toBe(201);
  };
  const flagOf = async (id: string) => {
    const res = await fetch(`${server.url}/xrays/${id}`, { headers: { 'X-Test-Actor': DOCTOR } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { dicomUidConflict: boolean }).dicomUidConflict;
  };
  const call = (path: string, actor: string, init: RequestInit = {}) =>
    fetch(`${server.url}${path}`, { ...init, headers: { 'X-Test-Actor': actor, ...(init.headers ?? {}) } });
  /** A session of its own (not one of the server's pool). */
  const session = async () => {
    const c = new pg.Client({ connectionString: server.config.db.url });
    await c.connect();
    return c;
  };
  /** Until `n` sessions of this test's database wait on a lock (a row's, the change counter's, a UID's). */
  const untilWaiters = async (watch: pg.Client, n: number) => {
    const waiting = async () =>
      (
        await watch.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
        )
      ).rows[0]!.n;
    for (let i = 0; (await waiting()) < n; i++) {
      expect(i, `${n} sessions waiting on a lock`).toBeLessThan(2000);
      await sleep(10);
    }
  };

  /** The holder (A) and a second file under its UID (B, flagged), each of another paramedic. */
  async function holderAndNext(n: number) {
    const sopInstanceUid = `1.2.826.0.1.3680043.10.1919.97.${n}`;
    const [holderId, nextId] = [randomUUID(), randomUUID()];
    await post(
      holderId,
      makeDicom({ rows: 16, columns: 16, seed: 9700 + 2 * n, sopInstanceUid }),
      MEDIC,
      `P-97-${n}-A`,
    );
    await post(nextId, makeDicom({ rows: 16, columns: 16, seed: 9701 + 2 * n, sopInstanceUid }), OTHER, `P-97-${n}-B`);
    expect(await flagOf(nextId)).toBe(true);
    return { holderId, nextId, sopInstanceUid };
  }

  /**
   * Runs `second` (a write of B) after the holder's DELETE is under way, both held at the change
   * counter until they queue behind it in that order (the holder's DELETE first): the order in
   * which a busy server runs them.
   */
  async function deleteHolderThen(holderId: string, second: () => Promise<Response>) {
    const counter = await session();
    const watch = await session();
    try {
      await counter.query('BEGIN');
      await counter.query('SELECT last_seq FROM xray_change_counter FOR UPDATE');
      const del = call(`/xrays/${holderId}`, ADMIN, { method: 'DELETE' });
      await untilWaiters(watch, 1);
      const other = second();
      await untilWaiters(watch, 2);
      await counter.query('COMMIT');
      return await Promise.all([del, other]);
    } finally {
      await counter.end();
      await watch.end();
    }
  }

  it('the holder and the next X-ray under its UID deleted at once: both deletes succeed, the third says once that it holds the UID now', async () => {
    const { holderId, nextId, sopInstanceUid } = await holderAndNext(1);
    const thirdId = randomUUID();
    await post(thirdId, makeDicom({ rows: 16, columns: 16, seed: 9799, sopInstanceUid }), MEDIC, 'P-97-1-C');
    expect(await flagOf(thirdId)).toBe(true);
    const since = Number(
      (await server.pool.query<{ seq: string }>('SELECT coalesce(max(seq), 0) AS seq FROM xray_changes')).rows[0]!.seq,
    );
    const [delHolder, delNext] = await deleteHolderThen(holderId, () =>
      call(`/xrays/${nextId}`, ADMIN, { method: 'DELETE' }),
    );
    expect([delHolder.status, delNext.status], `${await delHolder.text()} ${await delNext.text()}`).toEqual([204, 204]);
    expect((await call(`/xrays/${holderId}`, DOCTOR)).status).toBe(404);
    expect((await call(`/xrays/${nextId}`, DOCTOR)).status).toBe(404);
    expect(await flagOf(thirdId)).toBe(false);
    // The third X-ray's owner, syncing by the feed: one change, its flag as it is now.
    const feed = (await (await call(`/changes?after=${since}&limit=100`, 'medic-flips; paramedic')).json()) as {
      items: { kind: string; xrayId: string; xray: { dicomUidConflict: boolean } | null }[];
    };
    expect(feed.items.map((c) => [c.xrayId, `${c.kind}:${c.xray?.dicomUidConflict ?? '-'}`])).toEqual([
      [holderId, 'deleted:-'],
      [thirdId, 'updated:false'],
    ]);
    const events = await server.pool.query<{ changes: unknown }>(
      `SELECT payload->'data'->'changes' AS changes FROM outbox_events WHERE type = 'xray.updated' AND xray_id = $1`,
      [thirdId],
    );
    expect(events.rows.map((r) => r.changes)).toEqual([{ dicomUidConflict: { before: true, after: false } }]);
  });

  it("the holder deleted while the next X-ray is corrected (PATCH): both succeed, and the flag's change is announced", async () => {
    const { holderId, nextId } = await holderAndNext(2);
    const [del, patch] = await deleteHolderThen(holderId, () =>
      call(`/xrays/${nextId}`, DOCTOR, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ notes: 'corrected while its UID changed hands' }),
      }),
    );
    expect([del.status, patch.status], `${await del.text()} ${await patch.text()}`).toEqual([204, 200]);
    expect(await flagOf(nextId)).toBe(false);
    const events = await server.pool.query<{ payload: { data: { cause: string } } }>(
      `SELECT payload FROM outbox_events WHERE type = 'xray.updated' AND xray_id = $1 ORDER BY id`,
      [nextId],
    );
    expect(events.rows.map((r) => r.payload.data.cause).sort()).toEqual(['correction', 'dicom_uid_holder']);
    // As the sinks receive them: each valid against the shared schema.
    for (const { payload } of events.rows) expect(XrayEventSchema.safeParse(payload).error).toBeUndefined();
  });

  it('`xray-admin recover` re-applying the delete of the holder (a restore from before it): the flag that turns says so', async () => {
    const { holderId, nextId } = await holderAndNext(3);
    // The backup: the holder's row and index row, as a restore from before its delete brings them back.
    const saved = await server.pool.query<{ x: unknown; d: unknown }>(
      `SELECT row_to_json(x) AS x, (SELECT row_to_json(d) FROM dicom_instances d WHERE d.xray_id = x.id) AS d
         FROM xrays x WHERE x.id = $1`,
      [holderId],
    );
    expect((await call(`/xrays/${holderId}`, ADMIN, { method: 'DELETE' })).status).toBe(204);
    expect(await flagOf(nextId)).toBe(false);
    // The restore: the holder's rows are back, and the next X-ray's flag with them.
    await server.pool.query('INSERT INTO xrays SELECT * FROM json_populate_record(null::xrays, $1)', [
      saved.rows[0]!.x,
    ]);
    await server.pool.query(
      'INSERT INTO dicom_instances SELECT * FROM json_populate_record(null::dicom_instances, $1)',
      [saved.rows[0]!.d],
    );
    expect(await flagOf(nextId)).toBe(true);
    const beforeRecover = Number(
      (await server.pool.query<{ seq: string }>('SELECT coalesce(max(seq), 0) AS seq FROM xray_changes')).rows[0]!.seq,
    );
    const out: string[] = [];
    const code = await recoverCommand.run([], { out: (l) => out.push(l), err: (l) => out.push(l), env: server.env });
    expect(code, out.join('\n')).toBe(0);
    expect((await call(`/xrays/${holderId}`, DOCTOR)).status).toBe(404);
    expect(await flagOf(nextId)).toBe(false);
    // A client that synced the restored database learns the flag turned back, as the DELETE told it.
    const feed = (await (await call(`/changes?after=${beforeRecover}&limit=100`, DOCTOR)).json()) as {
      items: { kind: string; xrayId: string; xray: { dicomUidConflict: boolean } | null }[];
    };
    expect(
      feed.items.filter((c) => c.xrayId === nextId).map((c) => `${c.kind}:${c.xray?.dicomUidConflict ?? '-'}`),
    ).toEqual(['updated:false']);
  });
  it("an X-ray deleted while `xray-admin dicom-index` indexes it: the delete waits for it under the UID's lock, and what the index says of the UID stays true", async () => {
    const sopInstanceUid = '1.2.826.0.1.3680043.10.1919.98.1';
    const [olderId, laterId] = [randomUUID(), randomUUID()];
    await post(
      olderId,
      makeDicom({ rows: 16, columns: 16, seed: 9801, sopInstanceUid, patientId: 'P-98-OLD' }),
      MEDIC,
      'P-98-OLD',
    );
    // Stored before the index existed: no index row until the backfill.
    await server.pool.query('DELETE FROM dicom_instances WHERE xray_id = $1', [olderId]);
    const hold = await holdInsertsFor(server, 'dicom_instances', 'P-98-OLD');
    const watch = await session();
    try {
      const out: string[] = [];
      const backfill = dicomIndexCommand.run([], { out: (l) => out.push(l), err: (l) => out.push(l), env: server.env });
      for (let i = 0; (await hold.waiting()) < 1; i++) expect(i).toBeLessThan(5000);
      // The backfill holds the UID's lock, its insert held: the delete waits for it.
      const del = call(`/xrays/${olderId}`, ADMIN, { method: 'DELETE' });
      await untilWaiters(watch, 2);
      await hold.release();
      expect(await backfill, out.join('\n')).toBe(0);
      expect((await del).status).toBe(204);
      // The UID is free again: the next upload under it holds it, and says so.
      const res = await postXray(
        server.url,
        validMetadata({ id: laterId, patientId: 'P-98-NEW' }),
        blobOf(makeDicom({ rows: 16, columns: 16, seed: 9802, sopInstanceUid })),
        { 'X-Test-Actor': OTHER },
      );
      expect(res.status).toBe(201);
      expect(((await res.json()) as { dicomUidConflict: boolean }).dicomUidConflict).toBe(false);
      expect(await flagOf(laterId)).toBe(false);
    } finally {
      await watch.end();
      await hold.drop();
    }
  });
});
