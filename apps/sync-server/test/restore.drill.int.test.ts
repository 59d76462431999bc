import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { makePng, sha256Hex } from '@xray/testkit';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../src/config/config.ts';
import { start, type RunningServer } from '../src/server.ts';
import { createObjectStore, type ObjectStore } from '../src/storage/index.ts';
import {
  blobOf,
  createTestDatabase,
  createTestStorage,
  postXray,
  testServerEnv,
  validMetadata,
  type StorageKind,
  type TestStorage,
} from './harness.ts';
import { runAdmin } from './server-process.ts';
import { downloadSha, sealed, startTus } from './tus-client.ts';

async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: inject('pgAdminUrl') });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const dbName = (url: string): string => new URL(url).pathname.slice(1);
const withDb = (url: string, name: string): string => {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
};

/** Every key of `from` copied into `to` (the bucket or directory backup, and its restore). */
async function copyAll(from: ObjectStore, to: ObjectStore): Promise<number> {
  const keys = await from.list('');
  for (const key of keys) await to.put(key, await from.get(key));
  return keys.length;
}

async function post(url: string, seed: number, over: Record<string, string> = {}) {
  const png = Buffer.from(makePng({ seed }));
  const id = randomUUID();
  const res = await postXray(url, validMetadata({ id, ...over }), blobOf(png));
  expect(res.status).toBe(201);
  return { id, sha256: sha256Hex(png) };
}

async function viaTus(url: string, seed: number) {
  const png = Buffer.from(makePng({ seed }));
  const { body, metadata } = await sealed(url, png);
  const { xrayId } = await startTus({ endpoint: `${url}/uploads`, file: body, metadata }).done;
  if (!xrayId) throw new Error('the tus upload made no X-ray');
  return { id: xrayId, sha256: sha256Hex(png) };
}

async function patchNotes(url: string, id: string, notes: string): Promise<void> {
  const res = await fetch(`${url}/xrays/${id}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ notes }),
  });
  expect(res.status).toBe(200);
}

async function remove(url: string, id: string): Promise<void> {
  expect((await fetch(`${url}/xrays/${id}`, { method: 'DELETE' })).status).toBe(204);
}

/**
 * The restore drill of docs/operations.md, as an operator runs it: the database is backed up, the
 * service keeps taking X-rays (both doors), corrections and a deletion, then the bucket (or
 * DATA_DIR/objects) is backed up; everything is destroyed and both backups restored; then
 * `xray-admin recover`, `check` and `verify-audit`, and the API serves every X-ray that existed at
 * the end, sha256-equal, and not the one deleted.
 */
describe.each<StorageKind>(['fs', 's3'])('restore drill on %s storage', (kind) => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it('a database backup older than the bucket loses nothing and brings back nothing deleted', async () => {
    const storage: TestStorage = await createTestStorage(kind);
    const backupStorage: TestStorage = await createTestStorage(kind);
    cleanups.push(storage.cleanup, backupStorage.cleanup);
    const env = await testServerEnv(storage, {
      // Checkpoints written while the drill runs, some of them after the database backup.
      AUDIT_CHECKPOINT_EVERY: '5',
      AUDIT_CHECKPOINT_INTERVAL_MS: String(60 * 60 * 1000),
    });
    const config = loadConfig(env);
    let server: RunningServer | undefined = await start(config);
    cleanups.push(async () => server?.stop());

    // Before the database backup: two through POST /xrays (one corrected), one through tus.
    const a = await post(server.url, 1);
    const b = await post(server.url, 2, { patientId: 'P-ERASE', notes: 'Note of B, erased with it' });
    const c = await viaTus(server.url, 3);
    await patchNotes(server.url, a.id, 'corrected before the backup');

    // The database backup (a copy of the database as it stands; the service is restarted around it).
    await server.stop();
    const backupDb = `xray_backup_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
    await withAdmin((admin) => admin.query(`CREATE DATABASE ${backupDb} TEMPLATE ${dbName(env.DATABASE_URL!)}`));
    cleanups.push(() => withAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS ${backupDb}`)));
    server = await start(config);

    // After it: more X-rays through both doors, a correction, a deletion of one the backup holds,
    // and one stored and deleted again.
    const d = await post(server.url, 4);
    const e = await viaTus(server.url, 5);
    await patchNotes(server.url, d.id, 'corrected after the backup');
    await remove(server.url, b.id);
    const f = await post(server.url, 6);
    await remove(server.url, f.id);
    await server.stop();
    server = undefined;

    // The bucket (or directory) backup, taken after the database's.
    const live = await createObjectStore(config.storage);
    const backup = await createObjectStore(loadConfig({ ...env, ...backupStorage.env }).storage);
    expect(await copyAll(live, backup)).toBeGreaterThan(0);

    // Everything destroyed: the database dropped, every object removed.
    await withAdmin((admin) => admin.query(`DROP DATABASE ${dbName(env.DATABASE_URL!)} WITH (FORCE)`));
    for (const key of await live.list('')) await live.delete(key);
    if (kind === 'fs' && config.storage.kind === 'fs') await rm(config.storage.dir, { recursive: true, force: true });
    expect(await live.list('')).toEqual([]);

    // Restored: the database backup into a new database, the bucket backup into the store.
    const restoredUrl = await createTestDatabase();
    await withAdmin(async (admin) => {
      await admin.query(`DROP DATABASE ${dbName(restoredUrl)}`);
      await admin.query(`CREATE DATABASE ${dbName(restoredUrl)} TEMPLATE ${backupDb}`);
    });
    const restoredEnv = { ...env, DATABASE_URL: withDb(env.DATABASE_URL!, dbName(restoredUrl)) };
    const restoredStore = await createObjectStore(loadConfig(restoredEnv).storage);
    await copyAll(backup, restoredStore);

    // Before recover, check sees what the restore lost: the newer X-rays have no row, the deleted
    // one is back, the audit trail is behind its checkpoints.
    const before = await runAdmin(['check'], restoredEnv);
    expect(before.code).toBe(1);
    expect(before.stdout).toContain(`PROBLEM (deleted_xray_present): X-ray ${b.id} was deleted`);
    expect(before.stdout).toMatch(/PROBLEM \(object_without_row\): object xrays\/[0-9a-f-]+\/\S+ has no row/);
    expect(before.stdout).toMatch(/PROBLEM \(audit\): audit: the audit trail ends at event \d+ after \d+ events/);

    const recovered = await runAdmin(['recover'], restoredEnv);
    expect(recovered.stderr).not.toContain('PROBLEM');
    expect(recovered.code).toBe(0);
    expect(recovered.stdout).toContain(`recovered: X-ray ${d.id}`);
    expect(recovered.stdout).toContain(`recovered: X-ray ${e.id}`);
    expect(recovered.stdout).toContain(`erased again: X-ray ${b.id}`);
    expect(recovered.stdout).toMatch(/checkpoints past the restored chain moved to audit-checkpoints-superseded\//);

    const checked = await runAdmin(['check', '--all'], restoredEnv);
    expect(checked.stdout).not.toContain('PROBLEM');
    expect(checked.code).toBe(0);
    expect(checked.stdout).toMatch(/opened 4 X-rays under KEK/);

    // The restored service: every X-ray that existed at the end, sha256-equal, corrections kept.
    server = await start(loadConfig(restoredEnv));
    for (const x of [a, c, d, e]) expect(await downloadSha(server.url, x.id)).toBe(x.sha256);
    const dBody = (await (await fetch(`${server.url}/xrays/${d.id}`)).json()) as { notes: string };
    expect(dBody.notes).toBe('corrected after the backup');
    const aBody = (await (await fetch(`${server.url}/xrays/${a.id}`)).json()) as { notes: string };
    expect(aBody.notes).toBe('corrected before the backup');
    // The deleted ones stay deleted: no row, no bytes, only their tombstones.
    for (const gone of [b, f]) {
      expect((await fetch(`${server.url}/xrays/${gone.id}`)).status).toBe(404);
      expect((await fetch(`${server.url}/xrays/${gone.id}/download`)).status).toBe(404);
      const left = await restoredStore.list(`xrays/${gone.id}/`);
      expect(left.length).toBe(1);
      expect(left[0]).toMatch(/\.deleted$/);
    }
    // Each recovery and each re-applied deletion is in the audit trail.
    const audit = (await (await fetch(`${server.url}/audit?action=xray.recover&limit=50`)).json()) as {
      items: { xrayId: string; actor: { sub: string } }[];
    };
    expect(audit.items.map((i) => i.xrayId).sort()).toEqual([d.id, e.id].sort());
    const deletions = (await (await fetch(`${server.url}/audit?xrayId=${b.id}&action=xray.delete`)).json()) as {
      items: { details: { recovered?: boolean } }[];
    };
    expect(deletions.items.map((i) => i.details.recovered)).toEqual([true]);
    // Its events in the restored outbox (the backup's) keep none of its notes once it is erased again.
    const kept = await server.pool.query<{ scrubbed: string | null; text: string }>(
      `SELECT payload->>'scrubbed' AS scrubbed, payload::text AS text FROM outbox_events WHERE xray_id = $1`,
      [b.id],
    );
    expect(kept.rows.length).toBeGreaterThan(0);
    for (const r of kept.rows) expect(r).toEqual({ scrubbed: 'true', text: expect.not.stringContaining('Note of B') });
    await server.stop();
    server = undefined;

    // The trail verifies, anchored again (the checkpoint at shutdown covers the recovery events),
    // and check finds nothing: both only read, so they run at once (each is a process start).
    const [verified, after] = await Promise.all([
      runAdmin(['verify-audit'], restoredEnv),
      runAdmin(['check'], restoredEnv),
    ]);
    expect(verified.stdout).not.toContain('BROKEN');
    expect(verified.code).toBe(0);
    expect(after.stdout).not.toContain('PROBLEM');
    expect(after.code).toBe(0);
  });
});
