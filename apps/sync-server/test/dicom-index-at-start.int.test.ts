import { randomUUID } from 'node:crypto';
import { makeDicom } from '@xray/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningServer } from '../src/server.ts';
import {
  clusters,
  gatedReads,
  indexedIn,
  indexLines,
  outside,
  qido,
  storingBeforeIndex,
  summaries,
  type Instance,
} from './dicom-index-at-start.support.ts';
import { blobOf, postXray, validMetadata } from './harness.ts';

/**
 * DICOM X-rays stored before the DICOMweb index (an upgraded installation; here: an X-ray whose
 * index row was removed) are indexed by the server itself once it listens, as
 * `xray-admin dicom-index` would: one instance of a cluster at a time, stopped by a shutdown.
 */

const MEDIC = 'medic-at-start; paramedic';
const OTHER = 'medic-at-start-b; paramedic';
const DOCTOR = 'doctor-at-start; doctor';
const ACTOR = 'sync-server dicom-index at start';

/** The line the run starts with (an instance that skips says another). */
const startLines = (i: Instance) => indexLines(i).filter((l) => / indexing DICOM X-rays/.test(l.msg));

describe('the DICOM index at start', () => {
  const { cluster, stopAll } = clusters();
  afterEach(stopAll);

  const { storedBeforeIndex, storedSeries } = storingBeforeIndex({
    actor: MEDIC,
    seed: 7700,
    patientPrefix: 'P-AS-',
    uidRoot: '1.2.826.0.1.3680043.10.1919.77',
  });

  const indexedOf = async (server: RunningServer, ids: string[]) =>
    (
      await server.pool.query<{ xray_id: string }>(
        'SELECT xray_id FROM dicom_instances WHERE xray_id = ANY($1::uuid[]) ORDER BY xray_id',
        [ids],
      )
    ).rows.map((r) => r.xray_id);

  const lastSeq = async (server: RunningServer) =>
    Number(
      (await server.pool.query<{ seq: string }>('SELECT coalesce(max(seq), 0) AS seq FROM xray_changes')).rows[0]!.seq,
    );

  /** What a client syncing by the feed (since change `since`), the sinks (outbox) and the audit trail learnt of X-ray `id`'s flag. */
  async function flagNews(server: RunningServer, id: string, since: number) {
    const feed = (await (
      await fetch(`${server.url}/changes?after=${since}&limit=100`, { headers: { 'X-Test-Actor': DOCTOR } })
    ).json()) as { items: { kind: string; xrayId: string; xray: { dicomUidConflict: boolean } | null }[] };
    const events = await server.pool.query<{ payload: { data: { cause: string; changes: unknown } } }>(
      `SELECT payload FROM outbox_events WHERE type = 'xray.updated' AND xray_id = $1 ORDER BY id`,
      [id],
    );
    const audits = await server.pool.query<{ actor_sub: string; details: { cause?: string } }>(
      `SELECT actor_sub, details FROM audit_events WHERE action = 'xray.update' AND xray_id = $1 ORDER BY id`,
      [id],
    );
    return {
      feed: feed.items.filter((c) => c.xrayId === id).map((c) => `${c.kind}:${c.xray?.dicomUidConflict ?? '-'}`),
      events: events.rows.map((e) => ({ cause: e.payload.data.cause, changes: e.payload.data.changes })),
      audits: audits.rows.map((a) => ({ actor: a.actor_sub, cause: a.details.cause })),
    };
  }

  const flagOf = async (server: RunningServer, id: string) => {
    const res = await fetch(`${server.url}/xrays/${id}`, { headers: { 'X-Test-Actor': DOCTOR } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { dicomUidConflict: boolean }).dicomUidConflict;
  };

  /** Advisory locks any session holds on the cluster's database (asked outside the servers' pools). */
  async function advisoryLocks(env: Record<string, string>): Promise<number> {
    return outside(env, async (c) => {
      const { rows } = await c.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database
          WHERE l.locktype = 'advisory' AND d.datname = current_database()`,
      );
      return rows[0]!.n;
    });
  }

  it('an X-ray stored before the index is found by QIDO-RS after a restart, with no command run; nothing is logged with nothing to do', async () => {
    const { env, boot, stop } = await cluster();
    const first = await boot();
    await first.server.dicomIndexAtStart;
    // A fresh database: nothing to index, nothing said.
    expect(indexLines(first)).toEqual([]);
    const sop = '1.2.826.0.1.3680043.10.1919.77.1';
    const id = await storedBeforeIndex(first.server, sop, 1);
    expect(await qido(first.server, sop, DOCTOR)).toEqual([]);
    await stop(first);

    const second = await boot();
    await second.server.dicomIndexAtStart;
    expect(await qido(second.server, sop, DOCTOR)).toEqual(['P-AS-1']);
    expect(await indexedOf(second.server, [id])).toEqual([id]);
    // One line when it starts (after the server listens), one summary at the end.
    const msgs = second.lines.map((l) => l.msg);
    expect(msgs.indexOf('sync server listening')).toBeLessThan(msgs.findIndex((m) => / indexing DICOM X-rays/.test(m)));
    expect(startLines(second)).toHaveLength(1);
    expect(summaries(second)).toEqual([
      expect.objectContaining({
        level: 30,
        msg: 'DICOM index at start: done',
        indexed: 1,
        reread: 0,
        skipped: 0,
        failed: 0,
      }),
    ]);
    expect(indexLines(second)).toHaveLength(2);
    expect(await advisoryLocks(env)).toBe(0);

    // The next start finds nothing to do, and says nothing.
    await stop(second);
    const third = await boot();
    await third.server.dicomIndexAtStart;
    expect(indexLines(third)).toEqual([]);
  });

  it('under a UID another file holds: flagged at start, with one change, one xray.updated (dicom_uid_holder) and one audit event', async () => {
    const { boot, stop } = await cluster();
    const first = await boot();
    await first.server.dicomIndexAtStart;
    const sop = '1.2.826.0.1.3680043.10.1919.77.2';
    const olderId = await storedBeforeIndex(first.server, sop, 2);
    // A later file under the UID, stored with the index: it holds the UID.
    const laterId = randomUUID();
    const later = await postXray(
      first.server.url,
      validMetadata({ id: laterId, patientId: 'P-AS-3' }),
      blobOf(makeDicom({ rows: 16, columns: 16, seed: 7703, sopInstanceUid: sop, patientId: 'P-AS-3' })),
      { 'X-Test-Actor': OTHER },
    );
    expect(later.status).toBe(201);
    expect(await flagOf(first.server, olderId)).toBe(false);
    const since = await lastSeq(first.server);
    await stop(first);

    const second = await boot();
    await second.server.dicomIndexAtStart;
    expect(summaries(second)).toEqual([expect.objectContaining({ indexed: 1, failed: 0 })]);
    expect([await flagOf(second.server, olderId), await flagOf(second.server, laterId)]).toEqual([true, false]);
    // The file already served under the UID keeps it.
    expect(await qido(second.server, sop, DOCTOR)).toEqual(['P-AS-3']);
    const once = {
      feed: ['updated:true'],
      events: [{ cause: 'dicom_uid_holder', changes: { dicomUidConflict: { before: false, after: true } } }],
      audits: [{ actor: ACTOR, cause: 'dicom_uid_holder' }],
    };
    expect(await flagNews(second.server, olderId, since)).toEqual(once);
    expect(await flagNews(second.server, laterId, since)).toEqual({ feed: [], events: [], audits: [] });

    // Started again: nothing is indexed or announced twice.
    await stop(second);
    const third = await boot();
    await third.server.dicomIndexAtStart;
    expect(indexLines(third)).toEqual([]);
    expect(await flagNews(third.server, olderId, since)).toEqual(once);
  });

  it('two instances starting at once on one database: one indexes (the other skips), each X-ray once, one event per flip', async () => {
    const { env, boot, stop } = await cluster();
    const first = await boot();
    await first.server.dicomIndexAtStart;
    const ids = await storedSeries(first.server, 10, 16);
    // One under a UID a later file holds: its flag turns.
    const heldSop = '1.2.826.0.1.3680043.10.1919.77.16';
    const flippedId = await storedBeforeIndex(first.server, heldSop, 16);
    ids.push(flippedId);
    const holder = await postXray(
      first.server.url,
      validMetadata({ id: randomUUID(), patientId: 'P-AS-17' }),
      blobOf(makeDicom({ rows: 16, columns: 16, seed: 7717, sopInstanceUid: heldSop, patientId: 'P-AS-17' })),
      { 'X-Test-Actor': OTHER },
    );
    expect(holder.status).toBe(201);
    const since = await lastSeq(first.server);
    await stop(first);

    // A slow store (each X-ray read takes 250 ms): both instances are up while the indexing runs.
    const slow = gatedReads({ wait: () => new Promise((r) => setTimeout(r, 250)) });
    const [a, b] = await Promise.all([boot({}, { decorateStore: slow }), boot({}, { decorateStore: slow })]);
    await Promise.all([a.server.dicomIndexAtStart, b.server.dicomIndexAtStart]);
    const both = [a!, b!];
    expect(both.flatMap(startLines)).toHaveLength(1);
    expect(both.flatMap(summaries)).toEqual([expect.objectContaining({ indexed: ids.length, failed: 0 })]);
    const indexer = both.find((i) => startLines(i).length === 1)!;
    const other = both.find((i) => i !== indexer)!;
    // The other one found the work under way: it skipped, saying so at debug only.
    expect(indexLines(other)).toEqual([
      expect.objectContaining({ level: 20, msg: expect.stringMatching(/another instance is indexing/) }),
    ]);
    expect(await indexedOf(a!.server, ids)).toEqual([...ids].sort());
    const news = await flagNews(a!.server, flippedId, since);
    expect(news.events).toHaveLength(1);
    expect(news.audits).toHaveLength(1);
    expect(news.feed).toEqual(['updated:true']);
    expect(await advisoryLocks(env)).toBe(0);
  });

  it('DICOM_INDEX_AT_START=false: nothing is indexed at start (the command remains)', async () => {
    const { boot, stop } = await cluster();
    const first = await boot();
    await first.server.dicomIndexAtStart;
    const sop = '1.2.826.0.1.3680043.10.1919.77.20';
    const id = await storedBeforeIndex(first.server, sop, 20);
    await stop(first);

    const off = await boot({ DICOM_INDEX_AT_START: 'false' });
    await off.server.dicomIndexAtStart;
    expect(await indexedOf(off.server, [id])).toEqual([]);
    expect(await qido(off.server, sop, DOCTOR)).toEqual([]);
    expect(indexLines(off)).toEqual([]);
  });

  it('a shutdown while it runs (a store that stops answering) ends promptly: no lock held, each X-ray indexed whole or not at all, the rest at the next start', async () => {
    const { env, boot, stop } = await cluster();
    const first = await boot();
    await first.server.dicomIndexAtStart;
    const ids = await storedSeries(first.server, 30, 36);
    await stop(first);

    // In id order, as the backfill goes: the third X-ray's object never answers.
    const sorted = [...ids].sort();
    const stalled = sorted[2]!;
    let reached!: () => void;
    const reachedStall = new Promise<void>((r) => (reached = r));
    const store = gatedReads({
      wait: (key) => {
        if (!key.includes(stalled)) return Promise.resolve();
        reached();
        return new Promise<void>(() => undefined);
      },
    });
    const second = await boot({ SHUTDOWN_GRACE_MS: '30000' }, { decorateStore: store });
    // The start did not wait for it, nor does readiness.
    await reachedStall;
    expect((await fetch(`${second.server.url}/readyz`)).status).toBe(200);

    const began = Date.now();
    await stop(second);
    const tookMs = Date.now() - began;
    expect(tookMs, 'the stop waited for the stalled read').toBeLessThan(5_000);
    expect(second.lines.find((l) => l.msg === 'sync server stopped')).toMatchObject({ clean: true });
    expect(summaries(second)).toEqual([
      expect.objectContaining({
        indexed: 2,
        failed: 0,
        stopped: true,
        msg: expect.stringMatching(/stopped by the shutdown/),
      }),
    ]);
    expect(await advisoryLocks(env)).toBe(0);
    // The two before the stall are indexed, nothing of the others.
    expect(await indexedIn(env, ids)).toEqual(sorted.slice(0, 2));

    // The next start does the rest.
    const third = await boot();
    await third.server.dicomIndexAtStart;
    expect(summaries(third)).toEqual([expect.objectContaining({ indexed: 4, failed: 0 })]);
    expect(await indexedOf(third.server, ids)).toEqual(sorted);
  });
});
