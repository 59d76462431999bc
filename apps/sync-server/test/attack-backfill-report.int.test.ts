import { randomUUID } from 'node:crypto';
import { makeDicom } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dicomIndexCommand } from '../src/cli/dicom-index.command.ts';
import type { Pool } from '../src/db/pool.ts';
import { backfillOn } from './dicom-index-backfill.support.ts';
import { blobOf, headerActor, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';
import { runCommand as run } from './command.support.ts';

const MEDIC = 'medic-atk-bf; paramedic';
const OTHER = 'medic-atk-bf-b; paramedic';
const DOCTOR = 'doctor-atk-bf; doctor';
const ADMIN = 'admin-atk-bf; admin';

/**
 * The backfill's report attacked: `deleted` must name only X-rays whose row is gone (never a
 * damaged object or a broken check), `indexedMeanwhile` must not lose a conflict flag's change,
 * event or audit event, and a deletion must be named wherever in the run it lands.
 */
describe('the DICOM index backfill report, attacked', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('fs', {}, { authenticate: headerActor });
  });
  afterAll(async () => {
    await server?.close();
  });

  const store = async (file: Buffer, actor = MEDIC, patientId = 'P-ATK-BF') => {
    const id = randomUUID();
    const res = await postXray(server.url, validMetadata({ id, patientId }), blobOf(file), { 'X-Test-Actor': actor });
    expect(res.status, await res.clone().text()).toBe(201);
    return id;
  };
  const remove = async (id: string) => {
    const res = await fetch(`${server.url}/xrays/${id}`, { method: 'DELETE', headers: { 'X-Test-Actor': ADMIN } });
    expect(res.status).toBe(204);
  };
  const unindex = (id: string) => server.pool.query('DELETE FROM dicom_instances WHERE xray_id = $1', [id]);
  const flagOf = async (id: string) => {
    const res = await fetch(`${server.url}/xrays/${id}`, { headers: { 'X-Test-Actor': DOCTOR } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { dicomUidConflict: boolean }).dicomUidConflict;
  };

  /** The server's pool, `before(text)` awaited before each statement sent through it. */
  const poolWith = (before: (text: string) => unknown): Pool =>
    new Proxy(server.pool, {
      get(target, p) {
        if (p === 'query')
          return async (...args: unknown[]) => {
            await before(String(args[0]));
            return (target.query as (...a: unknown[]) => unknown)(...args);
          };
        const v: unknown = Reflect.get(target, p, target);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });

  /** The backfill as `xray-admin dicom-index` runs it, with hooks and the outbox appends it made. */
  const backfill = (hooks: Parameters<typeof backfillOn>[1] = {}) => backfillOn(server, hooks);

  it('a row whose object is gone stays failed (exit 1, named on stderr), never deleted', async () => {
    const id = await store(makeDicom({ rows: 16, columns: 16, seed: 9101 }));
    await unindex(id);
    const { rows } = await server.pool.query<{ object_key: string }>('SELECT object_key FROM xrays WHERE id = $1', [
      id,
    ]);
    await server.store.delete(rows[0]!.object_key);

    const { report } = await backfill();
    expect(report.deleted).toEqual([]);
    expect(report.failed.map((f) => f.id)).toEqual([id]);
    const cli = await run(dicomIndexCommand, [], server.env);
    expect(cli.code).toBe(1);
    expect(cli.stdout).not.toMatch(/deleted/);
    expect(cli.stderr).toMatch(new RegExp(`^${id}: `));
    await remove(id);
  });

  it('when the look for its deletion itself fails, an X-ray that could not be read stays failed', async () => {
    const id = await store(makeDicom({ rows: 16, columns: 16, seed: 9102 }));
    await unindex(id);
    // Gone before its row is read, but the run cannot tell: the database refuses the look.
    const pool = poolWith((text) => {
      if (/FROM xray_changes WHERE xray_id = \$1 AND kind = 'deleted'/.test(text))
        throw new Error('connection terminated');
    });
    const { report } = await backfill({ pool, beforeGet: remove });
    expect(report.deleted).toEqual([]);
    expect(report.failed.map((f) => f.id)).toEqual([id]);
  });

  it('indexed meanwhile by another run under a UID another file holds: flagged once, with the change, event and audit event of the run that indexed it', async () => {
    const sopInstanceUid = '1.2.826.0.1.3680043.10.1919.91.1';
    const holder = await store(makeDicom({ rows: 16, columns: 16, seed: 9103, sopInstanceUid }), MEDIC, 'P-91-A');
    const next = await store(makeDicom({ rows: 16, columns: 16, seed: 9104, sopInstanceUid }), OTHER, 'P-91-B');
    // As if stored before the index: not flagged until indexed.
    await unindex(next);
    expect(await flagOf(next)).toBe(false);
    const news = async () => ({
      events: (
        await server.pool.query<{ payload: { data: { cause: string } } }>(
          `SELECT payload FROM outbox_events WHERE type = 'xray.updated' AND xray_id = $1`,
          [next],
        )
      ).rows.map((r) => r.payload.data.cause),
      audits: (
        await server.pool.query<{ actor_sub: string }>(
          `SELECT actor_sub FROM audit_events WHERE action = 'xray.update' AND xray_id = $1`,
          [next],
        )
      ).rows.map((r) => r.actor_sub),
    });
    expect(await news()).toEqual({ events: [], audits: [] });

    // `xray-admin dicom-index` indexes it between this run's look and its insert.
    let other: Awaited<ReturnType<typeof run>> | undefined;
    const { report, appended } = await backfill({
      beforeGet: async (id) => {
        if (id === next) other = await run(dicomIndexCommand, [], server.env);
      },
    });
    expect(other).toEqual({ code: 0, stdout: 'Indexed 1 DICOM X-ray(s).', stderr: '' });
    expect(report).toMatchObject({ indexed: 0, indexedMeanwhile: 1, deleted: [], failed: [] });
    // This run wrote nothing of the flag; the other run wrote it all, once.
    expect(appended).toEqual([]);
    expect(await flagOf(next)).toBe(true);
    expect(await flagOf(holder)).toBe(false);
    expect(await news()).toEqual({ events: ['dicom_uid_holder'], audits: ['xray-admin dicom-index'] });
  });

  it('finalize still says whether its file is the second under a UID; a repeat of the upload indexes nothing twice', async () => {
    const sopInstanceUid = '1.2.826.0.1.3680043.10.1919.91.2';
    await store(makeDicom({ rows: 16, columns: 16, seed: 9105, sopInstanceUid }), MEDIC, 'P-92-A');
    const file = makeDicom({ rows: 16, columns: 16, seed: 9106, sopInstanceUid });
    const id = await store(file, OTHER, 'P-92-B');
    expect(await flagOf(id)).toBe(true);
    const again = await postXray(server.url, validMetadata({ id, patientId: 'P-92-B' }), blobOf(file), {
      'X-Test-Actor': OTHER,
    });
    expect(again.status).toBeLessThan(300);
    expect(await flagOf(id)).toBe(true);
    const { rows } = await server.pool.query('SELECT 1 FROM dicom_instances WHERE sop_uid = $1', [sopInstanceUid]);
    expect(rows).toHaveLength(2);
  });

  it('an X-ray naming no UID deleted between its read and its mark is deleted, not skipped', async () => {
    const id = await store(makeDicom({ rows: 16, columns: 16, seed: 9107, sopInstanceUid: 'not-a-uid' }));
    const pool = poolWith(async (text) => {
      if (/INSERT INTO dicom_unindexable/.test(text)) await remove(id);
    });
    const { report } = await backfill({ pool });
    expect(report).toMatchObject({ indexed: 0, skipped: [], deleted: [id], failed: [] });
  });

  it('a cut row whose X-ray is deleted between its read and its write is deleted, not left unsaid', async () => {
    const id = await store(makeDicom({ rows: 256, columns: 256, seed: 9108, privateDataBytes: 70_000 }));
    await server.pool.query(
      `UPDATE dicom_instances SET header_complete = false, patient_id = NULL, header = header - '00100020'
        WHERE xray_id = $1`,
      [id],
    );
    const pool = poolWith(async (text) => {
      if (/UPDATE dicom_instances SET/.test(text)) await remove(id);
    });
    const { report } = await backfill({ pool });
    expect(report).toMatchObject({ indexed: 0, reread: 0, skipped: [], deleted: [id], failed: [] });
  });
});
