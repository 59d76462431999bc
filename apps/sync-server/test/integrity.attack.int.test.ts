import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { makeJpeg, readDownload, sha256Hex } from '@xray/testkit';
import { wrapKeyAesKw } from '@xray/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConfigKeyService } from '../src/keys/key.service.ts';
import {
  blobOf,
  createSeparatedDatabase,
  createTestStorage,
  postXray,
  startTestServer,
  validMetadata,
  type TestServer,
  type TestStorage,
} from './harness.ts';
import { runAdmin } from './server-process.ts';

// Independent review of issue 16 (keys bound to their X-ray; anchored audit). Each test here is a
// regression test for one finding: it asserts what should happen and fails while the gap is open.

const UPLOAD_KEY = generateKeyPairSync('rsa', { modulusLength: 3072 })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();
const newKek = () => randomBytes(32).toString('base64');
const oneBitOff = (kek: string) => {
  const b = Buffer.from(kek, 'base64');
  b[31]! ^= 1;
  return b.toString('base64');
};
const keyEnv = (keks: Record<string, string>, current = Object.keys(keks)[0]!) => ({
  KEK: Object.entries(keks)
    .map(([id, k]) => `${id}:${k}`)
    .join(','),
  KEK_CURRENT_ID: current,
  UPLOAD_PRIVATE_KEY: UPLOAD_KEY,
});

async function withDb<T>(url: string, fn: (db: pg.Client) => Promise<T>): Promise<T> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    return await fn(db);
  } finally {
    await db.end();
  }
}

interface Row {
  id: string;
  object_key: string;
  dek_wrapped: Buffer;
  kek_id: string;
  cipher_size: string;
  size_bytes: string;
  sha256: string;
  content_type: string;
}

describe('attack: keys bound to their X-ray', () => {
  const k1 = newKek();
  const k2 = newKek();
  let storage: TestStorage;
  let db: { adminUrl: string; ownerUrl: string; appUrl: string };
  let server: TestServer;

  const rowOf = async (id: string): Promise<Row> =>
    (
      await server.pool.query<Row>(
        `SELECT id, object_key, dek_wrapped, kek_id, cipher_size::text, size_bytes::text, sha256, content_type
           FROM xrays WHERE id = $1`,
        [id],
      )
    ).rows[0]!;
  const upload = async (bytes: Buffer, patientId: string) => {
    const res = await postXray(server.url, validMetadata({ patientId }), blobOf(bytes));
    expect(res.status).toBe(201);
    return ((await res.json()) as { id: string }).id;
  };
  const cliEnv = (keks: Record<string, string>, current?: string) => ({
    DATABASE_URL: db.appUrl,
    DATABASE_OWNER_URL: db.ownerUrl,
    ...storage.env,
    ...keyEnv(keks, current),
  });

  beforeAll(async () => {
    storage = await createTestStorage('fs');
    db = await createSeparatedDatabase();
    server = await startTestServer('fs', {
      DATABASE_URL: db.appUrl,
      DATABASE_OWNER_URL: db.ownerUrl,
      ...storage.env,
      ...keyEnv({ k1, k2 }, 'k1'),
    });
  });
  afterAll(async () => {
    await server?.close();
    await storage?.cleanup();
  });

  it('a legacy AES-KW wrap (from a pre-binding backup or dek_wrapped_prev) copied onto another X-ray after binding finished is refused, not served as that X-ray', async () => {
    const imageA = makeJpeg({ seed: 901 });
    const imageB = makeJpeg({ seed: 902 });
    const a = await upload(imageA, 'P-ALICE');
    const b = await upload(imageB, 'P-BOB');

    // A database from before bound wraps (as the docs' upgrade path): B's key is plain AES-KW.
    const old = await createConfigKeyService({
      keks: [{ id: 'k1', key: k1 }],
      currentKekId: 'k1',
      uploadPrivateKeyPem: UPLOAD_KEY,
    });
    old.confirmKek('k1', true);
    const rb0 = await rowOf(b);
    const dekB = await old.unwrapDek(
      rb0.dek_wrapped,
      'k1',
      { xrayId: b, objectKey: rb0.object_key },
      { extractable: true },
    );
    const kw = await crypto.subtle.importKey('raw', Buffer.from(k1, 'base64'), 'AES-KW', false, ['wrapKey']);
    const legacyWrapOfB = Buffer.from(await wrapKeyAesKw(dekB, kw));
    await server.pool.query('UPDATE xrays SET dek_wrapped = $2 WHERE id = $1', [b, legacyWrapOfB]);

    // The operator binds everything, exactly as docs/operations.md says, and finishes.
    const bind = await runAdmin(['rotate-kek', '--to', 'k1'], cliEnv({ k1, k2 }, 'k1'));
    expect(bind.code, bind.stdout + bind.stderr).toBe(0);
    const fin = await runAdmin(['rotate-kek', '--to', 'k1', '--finish'], cliEnv({ k1, k2 }, 'k1'));
    expect(fin.code, fin.stdout + fin.stderr).toBe(0);
    const { rows } = await server.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM xrays WHERE octet_length(dek_wrapped) = 40 OR dek_wrapped_prev IS NOT NULL',
    );
    expect(rows[0]!.n).toBe(0); // everything bound, nothing kept
    // That is recorded where the application role cannot undo it.
    await expect(withDb(db.appUrl, (app) => app.query('DELETE FROM kek_bound_only'))).rejects.toThrow(
      /permission denied/,
    );

    // An insider with database access only (no KEK), holding B's old 40-byte wrap from a backup
    // (or read from dek_wrapped_prev during the rotation window), as the application role:
    // A's row now points at B's object with that wrap and B's sizes/hash.
    const rb = await rowOf(b);
    await withDb(db.appUrl, (app) =>
      app
        .query(
          `UPDATE xrays SET object_key = $2, dek_wrapped = $3, kek_id = 'k1', cipher_size = $4, size_bytes = $5,
                sha256 = $6, content_type = $7 WHERE id = $1`,
          [a, rb.object_key, legacyWrapOfB, rb.cipher_size, rb.size_bytes, rb.sha256, rb.content_type],
        )
        .catch(async () => {
          // object_key is unique: move B off it first.
          await app.query("UPDATE xrays SET object_key = 'moved-' || id WHERE id = $1", [b]);
          return app.query(
            `UPDATE xrays SET object_key = $2, dek_wrapped = $3, kek_id = 'k1', cipher_size = $4, size_bytes = $5,
                  sha256 = $6, content_type = $7 WHERE id = $1`,
            [a, rb.object_key, legacyWrapOfB, rb.cipher_size, rb.size_bytes, rb.sha256, rb.content_type],
          );
        }),
    );

    const got = await readDownload(`${server.url}/xrays/${a}/download`);
    // Expected: once every wrap is bound, an unbound wrap is an integrity error.
    expect(sha256Hex(got.body) === sha256Hex(imageB), "patient B's image was served as X-ray A").toBe(false);
    expect(got.status).toBe(500);
  });

  it('rotate-kek refuses a mistyped new KEK even after the application role deleted its check value row', async () => {
    // k2 was given to the replicas first (as the docs say): its check value is recorded.
    const { rows } = await server.pool.query<{ kek_id: string }>('SELECT kek_id FROM kek_check_values ORDER BY 1');
    expect(rows.map((r) => r.kek_id)).toEqual(['k1', 'k2']);

    // The application's own login (a stolen password, an SQL injection) may not DELETE that row…
    await expect(
      withDb(db.appUrl, (app) => app.query("DELETE FROM kek_check_values WHERE kek_id = 'k2'")),
    ).rejects.toThrow(/permission denied/);
    // …but it can still go missing (the owner's role, a restore without it):
    await withDb(db.ownerUrl, (owner) => owner.query("DELETE FROM kek_check_values WHERE kek_id = 'k2'"));

    // …and the operator's copy of k2 has one character wrong.
    const run = await runAdmin(['rotate-kek', '--to', 'k2'], cliEnv({ k1, k2: oneBitOff(k2) }, 'k1'));
    const { rows: moved } = await server.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM xrays WHERE kek_id = 'k2'",
    );
    // Expected: refused before any row changes (the check value is the anchor of that refusal).
    expect(moved[0]!.n, run.stdout + run.stderr).toBe(0);
    expect(run.code).toBe(2);
  });
});

describe('attack: anchored audit', () => {
  let db: { adminUrl: string; ownerUrl: string; appUrl: string };
  let server: TestServer;
  let dataDir: string;
  let cpDir: string;

  beforeAll(async () => {
    db = await createSeparatedDatabase();
    server = await startTestServer('fs', {
      DATABASE_URL: db.appUrl,
      DATABASE_OWNER_URL: db.ownerUrl,
      AUDIT_CHECKPOINT_EVERY: '1000',
      AUDIT_CHECKPOINT_INTERVAL_MS: String(60 * 60 * 1000),
    });
    dataDir = server.config.dataDir;
    cpDir = path.join(dataDir, 'objects', 'audit-checkpoints');
    for (let i = 0; i < 6; i++) await (await fetch(`${server.url}/xrays?limit=1`)).arrayBuffer();
    expect(await server.auditAnchoring.checkpointNow()).not.toBeNull();
    for (let i = 0; i < 3; i++) await (await fetch(`${server.url}/xrays?limit=1`)).arrayBuffer();
    expect(await server.auditAnchoring.checkpointNow()).not.toBeNull();
    await server.stop(); // anchors the rest on shutdown
  });
  afterAll(async () => server?.close());

  const verify = () => runAdmin(['verify-audit'], { NODE_ENV: 'test', DATABASE_URL: db.appUrl, DATA_DIR: dataDir });

  it("one junk object among the checkpoints (written with the servers' own PutObject right) does not stop verify-audit from checking the chain", async () => {
    const before = await verify();
    expect(before.code, before.stdout + before.stderr).toBe(0);
    // Under Object Lock this object can never be removed again.
    await writeFile(path.join(cpDir, '9999999999999999.jws'), 'junk');
    // Then the tail of the trail is deleted (superuser, triggers off).
    await withDb(db.adminUrl, async (su) => {
      await su.query('BEGIN');
      await su.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete');
      await su.query('DELETE FROM audit_events WHERE id > (SELECT min(id) + 2 FROM audit_events)');
      await su.query('ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete');
      await su.query('COMMIT');
    });
    const after = await verify();
    expect(after.code).toBe(1);
    // Expected: the deletion is named too (or at least the chain is still walked against the
    // valid checkpoints); actual: only the junk object is ever reported, so from the day one
    // unremovable junk object exists, every later cut of the chain is masked.
    expect(after.stdout).toMatch(/past the end of the chain/);
    await rm(path.join(cpDir, '9999999999999999.jws'), { force: true });
  });

  it('verify-audit does not exit 0 when every checkpoint is gone but the trail is long past due for one', async () => {
    for (const n of await readdir(cpDir)) await rm(path.join(cpDir, n), { force: true });
    await new Promise((r) => setTimeout(r, 1500));
    // The operator's settings: a checkpoint every second at the latest; the events are older.
    const run = await runAdmin(['verify-audit'], {
      NODE_ENV: 'test',
      DATABASE_URL: db.appUrl,
      DATA_DIR: dataDir,
      AUDIT_CHECKPOINT_INTERVAL_MS: '1000',
    });
    // Expected: a trail that should have been anchored (events older than the interval, or more
    // than AUDIT_CHECKPOINT_EVERY) with no checkpoint at all is not "OK"; actual: exit 0 + WARNING.
    expect(run.stdout).toMatch(/WARNING: no checkpoints/);
    expect(run.code).not.toBe(0);
  });
});
