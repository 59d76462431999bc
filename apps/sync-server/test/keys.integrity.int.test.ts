import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { appendFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { makeDicom, makeJpeg, readDownload, sha256Hex } from '@xray/testkit';
import { wrapKeyAesKw } from '@xray/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConfigKeyService, type KeyService } from '../src/keys/key.service.ts';
import {
  blobOf,
  createTestDatabase,
  createTestStorage,
  postXray,
  s3Client,
  startTestServer,
  validMetadata,
  type StorageKind,
  type TestServer,
  type TestStorage,
} from './harness.ts';
import { runAdmin } from './server-process.ts';

const SEG = 1024 * 1024;
const UPLOAD_KEY = generateKeyPairSync('rsa', { modulusLength: 3072 })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();

const newKek = () => randomBytes(32).toString('base64');
/** The same KEK with its last bit flipped: the mistake the check value must catch. */
const oneBitOff = (kek: string) => {
  const b = Buffer.from(kek, 'base64');
  b[31]! ^= 1;
  return b.toString('base64');
};
/** Production-like key settings: explicit KEKs (id:base64) and an upload key. */
const keyEnv = (keks: Record<string, string>, current = Object.keys(keks)[0]!) => ({
  KEK: Object.entries(keks)
    .map(([id, k]) => `${id}:${k}`)
    .join(','),
  KEK_CURRENT_ID: current,
  UPLOAD_PRIVATE_KEY: UPLOAD_KEY,
});

/** The same keys as a server has them, for a test that plays an insider holding a KEK. */
async function keyServiceOf(keks: Record<string, string>): Promise<KeyService> {
  const keys = await createConfigKeyService({
    keks: Object.entries(keks).map(([id, key]) => ({ id, key })),
    currentKekId: Object.keys(keks)[0]!,
    uploadPrivateKeyPem: UPLOAD_KEY,
  });
  for (const id of Object.keys(keks)) keys.confirmKek(id, true);
  return keys;
}

interface KeyRow {
  id: string;
  object_key: string;
  dek_wrapped: Buffer;
  kek_id: string;
  dek_wrapped_prev: Buffer | null;
  kek_id_prev: string | null;
  cipher_size: string;
  size_bytes: string;
}
async function keyRows(server: { pool: TestServer['pool'] }): Promise<KeyRow[]> {
  const { rows } = await server.pool.query<KeyRow>(
    `SELECT id, object_key, dek_wrapped, kek_id, dek_wrapped_prev, kek_id_prev, cipher_size::text, size_bytes::text
       FROM xrays ORDER BY id`,
  );
  return rows;
}

async function integrityFailures(server: TestServer, check: string): Promise<number> {
  const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
  const m = new RegExp(`^xray_integrity_failures_total\\{check="${check}"\\} (\\d+)`, 'm').exec(text);
  return Number(m?.[1] ?? 0);
}

/** The last audit event of a download of this X-ray. */
async function lastDownloadAudit(server: TestServer, id: string) {
  const { rows } = await server.pool.query<{ outcome: string; details: Record<string, unknown> }>(
    `SELECT outcome, details FROM audit_events WHERE xray_id = $1 AND action = 'xray.download' ORDER BY id DESC LIMIT 1`,
    [id],
  );
  return rows[0];
}

describe.each<StorageKind>(['fs', 's3'])('an X-ray is bound to its row (%s storage)', (kind) => {
  const k1 = newKek();
  let server: TestServer;

  async function upload(bytes: Buffer, patientId: string): Promise<string> {
    const res = await postXray(server.url, validMetadata({ patientId }), blobOf(bytes));
    expect(res.status).toBe(201);
    return ((await res.json()) as { id: string }).id;
  }
  const row = async (id: string) => (await keyRows(server)).find((r) => r.id === id)!;
  const download = (id: string, headers: Record<string, string> = {}) =>
    readDownload(`${server.url}/xrays/${id}/download`, headers);

  /** Replaces a stored object, as someone with bucket access would. */
  async function overwrite(key: string, bytes: Buffer): Promise<void> {
    if (server.config.storage.kind === 'fs') await writeFile(path.join(server.config.storage.dir, key), bytes);
    else await s3Client(server.env).send(new PutObjectCommand({ Bucket: server.env.S3_BUCKET, Key: key, Body: bytes }));
  }
  async function readObject(key: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of await server.store.get(key)) chunks.push(Buffer.from(c as Buffer));
    return Buffer.concat(chunks);
  }

  beforeAll(async () => {
    server = await startTestServer(kind, keyEnv({ k1 }));
  });
  afterAll(async () => server?.close());

  it('swapping object_key and dek_wrapped between two patients is an integrity error, not the other image', async () => {
    const imageA = makeJpeg({ seed: 101 });
    const imageB = makeJpeg({ seed: 102 });
    const a = await upload(imageA, 'P-ALICE');
    const b = await upload(imageB, 'P-BOB');
    expect(sha256Hex((await download(a)).body)).toBe(sha256Hex(imageA));
    const before = await integrityFailures(server, 'key_binding');

    // An insider with database access: A's row now points at B's object with B's wrapped key
    // (and, the strongest form, B's sizes and type too), and the other way round.
    const [ra, rb] = [await row(a), await row(b)];
    const takeOver = (id: string, from: KeyRow) =>
      server.pool.query(
        'UPDATE xrays SET object_key = $2, dek_wrapped = $3, cipher_size = $4, size_bytes = $5 WHERE id = $1',
        [id, from.object_key, from.dek_wrapped, from.cipher_size, from.size_bytes],
      );
    await server.pool.query("UPDATE xrays SET object_key = 'swap-in-progress' WHERE id = $1", [a]); // object_key is unique
    await takeOver(b, ra);
    await takeOver(a, rb);

    for (const [id, other] of [
      [a, imageB],
      [b, imageA],
    ] as const) {
      for (const headers of [{}, { Range: 'bytes=0-99' }] as Record<string, string>[]) {
        const got = await download(id, headers);
        expect(got.status, JSON.stringify(headers)).toBe(500);
        expect(got.type).toContain('application/problem+json');
        expect(JSON.parse(got.body.toString())).toMatchObject({ code: 'integrity_failed', status: 500 });
        expect(got.body.includes(other.subarray(0, 64))).toBe(false);
      }
      // On the trail as a failed download naming the reason, not as a success.
      expect(await lastDownloadAudit(server, id)).toMatchObject({
        outcome: 'failed',
        details: { error: 'integrity_failed', status: 500 },
      });
    }
    expect(await integrityFailures(server, 'key_binding')).toBe(before + 4);
  });

  it('a byte appended to a stored object is detected before anything is served', async () => {
    const image = makeJpeg({ seed: 103 });
    const id = await upload(image, 'P-CAROL');
    const { object_key: key } = await row(id);
    const before = await integrityFailures(server, 'stored_length');
    const stored = await readObject(key);
    if (server.config.storage.kind === 'fs') await appendFile(path.join(server.config.storage.dir, key), Buffer.of(0));
    else await overwrite(key, Buffer.concat([stored, Buffer.of(0)]));

    for (const headers of [{}, { Range: 'bytes=0-99' }] as Record<string, string>[]) {
      const got = await download(id, headers);
      expect(got.status, JSON.stringify(headers)).toBe(500);
      expect(JSON.parse(got.body.toString())).toMatchObject({ code: 'integrity_failed' });
    }
    expect(await integrityFailures(server, 'stored_length')).toBe(before + 2);
    expect(await lastDownloadAudit(server, id)).toMatchObject({
      outcome: 'failed',
      details: { error: 'integrity_failed' },
    });

    // The object as it was: served again, whole.
    await overwrite(key, stored);
    const again = await download(id);
    expect(again.status).toBe(200);
    expect(sha256Hex(again.body)).toBe(sha256Hex(image));
  });

  it('a whole download of valid XRE1 that is not the recorded image aborts, its last segment withheld', async () => {
    // An insider holding the KEK too: A's object replaced by B's bytes, with B's data key
    // wrapped anew for A's row and A's sizes set to B's. Everything decrypts; only the sha256
    // recorded for A (and the ETag) tell it is not A's image.
    const imageA = makeDicom({ rows: 900, columns: 900, seed: 104 });
    const imageB = makeDicom({ rows: 1000, columns: 1000, seed: 105 });
    expect(imageB.length).toBeGreaterThan(SEG);
    const a = await upload(imageA, 'P-DAVE');
    const b = await upload(imageB, 'P-ERIN');
    const [ra, rb] = [await row(a), await row(b)];
    const insider = await keyServiceOf({ k1 });
    const dekB = await insider.unwrapDek(
      rb.dek_wrapped,
      'k1',
      { xrayId: b, objectKey: rb.object_key },
      { extractable: true },
    );
    const { wrapped } = await insider.wrapDek(dekB, { xrayId: a, objectKey: ra.object_key });
    await overwrite(ra.object_key, await readObject(rb.object_key));
    await server.pool.query('UPDATE xrays SET dek_wrapped = $2, cipher_size = $3, size_bytes = $4 WHERE id = $1', [
      a,
      Buffer.from(wrapped),
      rb.cipher_size,
      rb.size_bytes,
    ]);
    const before = await integrityFailures(server, 'sha256');

    const whole = await download(a);
    expect(whole.status).toBe(200); // the headers were sent before the end could be checked…
    expect(whole.failed).toBe(true); // …and the connection was cut instead of completing it
    expect(whole.body.length).toBeLessThan(imageB.length);
    expect(whole.body.length).toBeLessThanOrEqual(Math.floor((imageB.length - 1) / SEG) * SEG);
    await expect.poll(() => integrityFailures(server, 'sha256')).toBe(before + 1);

    // A Range cannot be checked against the whole file's hash: only each segment's own tag,
    // which this object passes. (This attack needs the KEK; without it the wrap does not open.)
    const part = await download(a, { Range: 'bytes=0-99' });
    expect(part.status).toBe(206);
  });
});

describe('KEK check values and verified rotation', () => {
  const k1 = newKek();
  const k2 = newKek();
  let storage: TestStorage;
  let databaseUrl: string;
  let server: TestServer;
  const originals = new Map<string, string>();

  /** Every X-ray through `on`, byte-exact; returns the ids that were not. */
  async function unreadable(on: TestServer): Promise<string[]> {
    const bad: string[] = [];
    for (const [id, sha] of originals) {
      const got = await readDownload(`${on.url}/xrays/${id}/download`);
      if (got.failed || got.status !== 200 || sha256Hex(got.body) !== sha) bad.push(id);
    }
    return bad;
  }
  const cliEnv = (keks: Record<string, string>, current?: string) => ({
    DATABASE_URL: databaseUrl,
    ...storage.env,
    ...keyEnv(keks, current),
  });
  const count = async (where: string) =>
    (await server.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM xrays WHERE ${where}`)).rows[0]!.n;

  beforeAll(async () => {
    storage = await createTestStorage('fs');
    databaseUrl = await createTestDatabase();
    // The new KEK is given to the replicas first (current still k1): they record both check values.
    server = await startTestServer('fs', { DATABASE_URL: databaseUrl, ...storage.env, ...keyEnv({ k1, k2 }, 'k1') });
    for (let i = 0; i < 60; i++) {
      const bytes = makeJpeg({ width: 32, height: 32, seed: 200 + i });
      const res = await postXray(server.url, validMetadata({ patientId: `P-${i}` }), blobOf(bytes));
      expect(res.status).toBe(201);
      originals.set(((await res.json()) as { id: string }).id, sha256Hex(bytes));
    }
  });
  // close(): stops the server and removes the storage it made for itself (unused: DATA_DIR is shared).
  afterAll(async () => {
    await server?.close();
    await storage?.cleanup();
  });

  it('records a check value per KEK id; a server given a KEK one bit off refuses to start', async () => {
    const { rows } = await server.pool.query<{ kek_id: string }>('SELECT kek_id FROM kek_check_values ORDER BY kek_id');
    expect(rows.map((r) => r.kek_id)).toEqual(['k1', 'k2']);
    const ready = await fetch(`${server.url}/readyz`);
    expect((await ready.json()).checks).toMatchObject({ keys: 'ok' });

    for (const keks of [
      { k1: oneBitOff(k1), k2 },
      { k1, k2: oneBitOff(k2) },
    ]) {
      await expect(
        startTestServer('fs', { DATABASE_URL: databaseUrl, ...storage.env, ...keyEnv(keks, 'k1') }),
      ).rejects.toThrow(/is not the key recorded for that id/);
    }
  });

  it('rotate-kek with a KEK one bit off is refused before any row changes', async () => {
    const before = await keyRows(server);
    // Both at once (each is a process start): each must be refused, and no row change by either.
    const runs = await Promise.all(
      [
        { k1, k2: oneBitOff(k2) },
        { k1: oneBitOff(k1), k2 },
      ].map((keks) => runAdmin(['rotate-kek', '--to', 'k2'], cliEnv(keks, 'k1'))),
    );
    for (const run of runs) {
      expect(run.code, run.stdout + run.stderr).toBe(2);
      expect(run.stderr).toMatch(/is not the key recorded for that id[\s\S]*No X-ray was changed/);
      expect(run.stdout).not.toMatch(/re-wrapped/);
    }
    expect(await keyRows(server)).toEqual(before);
    const { rows } = await server.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM audit_events WHERE action = 'xray.rekey'",
    );
    expect(rows[0]!.n).toBe(0);
    expect(await unreadable(server)).toEqual([]);
  });

  it('killed mid-run and resumed, every X-ray stays readable; --finish drops previous wraps only when every new wrap opens', async () => {
    const both = cliEnv({ k1, k2 }, 'k1');
    // Readers all along: through a replica with both KEKs, and one that does not have k2 yet.
    const behind = await startTestServer('fs', {
      DATABASE_URL: databaseUrl,
      ...storage.env,
      DATA_DIR: storage.env.DATA_DIR!,
      ...keyEnv({ k1 }),
    });
    const failures: string[] = [];
    let reads = 0;
    let reading = true;
    const reader = (async () => {
      while (reading) {
        for (const on of [server, behind]) {
          const bad = await unreadable(on);
          reads += originals.size;
          failures.push(...bad);
        }
      }
    })();
    try {
      // Killed after a few batches of one…
      const first = await runAdmin(['rotate-kek', '--to', 'k2', '--batch-size', '1'], both, (line, kill) => {
        if (line.startsWith('re-wrapped 5 ')) kill();
      });
      expect(first.code).toBeNull(); // killed by the signal
      const moved = await count("kek_id = 'k2'");
      expect(moved).toBeGreaterThanOrEqual(5);
      expect(moved).toBeLessThan(originals.size);
      // Every moved X-ray keeps its previous wrap; the others are as they were.
      expect(await count("kek_id = 'k2' AND kek_id_prev = 'k1' AND dek_wrapped_prev IS NOT NULL")).toBe(moved);
      expect(await count("kek_id = 'k1' AND dek_wrapped_prev IS NULL")).toBe(originals.size - moved);
      expect(await unreadable(server)).toEqual([]);
      expect(await unreadable(behind)).toEqual([]);

      // Finishing now is refused: not every X-ray is on k2.
      const early = await runAdmin(['rotate-kek', '--to', 'k2', '--finish'], both);
      expect(early.code).toBe(1);
      expect(early.stderr).toMatch(/not yet wrapped under k2/);
      expect(await count('dek_wrapped_prev IS NOT NULL')).toBe(moved);

      // …and run again: it carries on with what is left, and re-checks for stragglers at the end.
      const second = await runAdmin(['rotate-kek', '--to', 'k2', '--batch-size', '7'], both);
      expect(second.code, second.stdout + second.stderr).toBe(0);
      expect(second.stdout).toMatch(/0 remaining on other KEKs/);
      expect(second.stdout).toMatch(/rotate-kek --to k2 --finish/);
      expect(await count("kek_id = 'k2' AND dek_wrapped_prev IS NOT NULL")).toBe(originals.size);
      expect(await unreadable(server)).toEqual([]);
      expect(await unreadable(behind)).toEqual([]);
    } finally {
      reading = false;
      await reader;
      await behind.close();
    }
    expect(failures).toEqual([]);
    expect(reads).toBeGreaterThan(originals.size * 2);

    // One new wrap damaged (that X-ray is unreadable now): --finish removes nothing.
    {
      const [victim] = originals.keys();
      const { rows } = await server.pool.query<{ dek_wrapped: Buffer }>('SELECT dek_wrapped FROM xrays WHERE id = $1', [
        victim,
      ]);
      const good = rows[0]!.dek_wrapped;
      const damaged = Buffer.from(good);
      damaged[30]! ^= 1;
      await server.pool.query('UPDATE xrays SET dek_wrapped = $2 WHERE id = $1', [victim, damaged]);
      const refused = await runAdmin(['rotate-kek', '--to', 'k2', '--finish'], both);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`X-ray ${victim}: its new wrap does not open under k2`);
      expect(refused.stderr).toMatch(/no previous wrap was removed/);
      expect(await count('dek_wrapped_prev IS NOT NULL')).toBe(originals.size);
      await server.pool.query('UPDATE xrays SET dek_wrapped = $2 WHERE id = $1', [victim, good]);
    }

    // Every new wrap opens: the previous ones go, and k1 is no longer needed.
    const done = await runAdmin(['rotate-kek', '--to', 'k2', '--finish', '--batch-size', '25'], both);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(done.stdout).toMatch(/60 previous wraps removed, 0 kept/);
    expect(done.stdout).toMatch(/No X-ray needs KEK k1 any more/);
    expect(await count('dek_wrapped_prev IS NOT NULL OR kek_id_prev IS NOT NULL')).toBe(0);
    const audit = await server.pool.query<{ step: string | null; n: number }>(
      `SELECT details->>'step' AS step, count(*)::int AS n FROM audit_events
        WHERE action = 'xray.rekey' GROUP BY 1 ORDER BY 1`,
    );
    expect(audit.rows).toEqual([
      { step: 'finish', n: 60 },
      { step: null, n: 60 },
    ]);

    // k1 removed from the configuration: everything still downloads byte-exact.
    await server.close();
    server = await startTestServer('fs', { DATABASE_URL: databaseUrl, ...storage.env, ...keyEnv({ k2 }) });
    expect(await unreadable(server)).toEqual([]);
    // The recovery records were sealed again under k2 with the new wraps: each opens without k1
    // and matches its row (a record left under k1 would not open; one with the old wrap is stale).
    const checked = await runAdmin(['check', '--all'], cliEnv({ k2 }));
    expect(checked.stdout).not.toContain('PROBLEM');
    expect(checked.stdout).toMatch(/opened 60 X-rays under KEK k2/);
    expect(checked.code).toBe(0);
  });

  it('re-wrapping to the current KEK binds X-rays whose wraps predate binding (legacy AES-KW)', async () => {
    // As a database from before bound wraps: three X-rays with plain AES-KW wraps under k2, and no
    // record that k2 takes bound wraps only (the rotation above finished and wrote one; only the
    // schema's owner can remove it).
    const su = new pg.Client({ connectionString: databaseUrl });
    await su.connect();
    await su.query('DELETE FROM kek_bound_only').finally(() => su.end());
    const insider = await keyServiceOf({ k2 });
    const kw = await crypto.subtle.importKey('raw', Buffer.from(k2, 'base64'), 'AES-KW', false, ['wrapKey']);
    const legacy = (await keyRows(server)).slice(0, 3);
    for (const r of legacy) {
      const dek = await insider.unwrapDek(
        r.dek_wrapped,
        'k2',
        { xrayId: r.id, objectKey: r.object_key },
        {
          extractable: true,
        },
      );
      await server.pool.query('UPDATE xrays SET dek_wrapped = $2 WHERE id = $1', [
        r.id,
        Buffer.from(await wrapKeyAesKw(dek, kw)),
      ]);
    }
    expect(await count('octet_length(dek_wrapped) = 40')).toBe(3);
    expect(await unreadable(server)).toEqual([]);

    const env = cliEnv({ k2 });
    const bind = await runAdmin(['rotate-kek', '--to', 'k2'], env);
    expect(bind.code, bind.stdout + bind.stderr).toBe(0);
    expect(bind.stdout).toMatch(/OK: 3 X-rays re-wrapped under k2; 0 remaining/);
    const fin = await runAdmin(['rotate-kek', '--to', 'k2', '--finish'], env);
    expect(fin.code, fin.stdout + fin.stderr).toBe(0);
    expect(await count('octet_length(dek_wrapped) = 40 OR dek_wrapped_prev IS NOT NULL')).toBe(0);
    expect(await unreadable(server)).toEqual([]);
    const marked = await server.pool.query<{ kek_id: string }>('SELECT kek_id FROM kek_bound_only');
    expect(marked.rows).toEqual([{ kek_id: 'k2' }]);

    // Now bound: the same swap as before is refused.
    const [x, y] = legacy;
    await server.pool.query('UPDATE xrays SET dek_wrapped = $2 WHERE id = $1', [
      x!.id,
      (await keyRows(server)).find((r) => r.id === y!.id)!.dek_wrapped,
    ]);
    const got = await readDownload(`${server.url}/xrays/${x!.id}/download`);
    expect(got.status).toBe(500);
    expect(JSON.parse(got.body.toString())).toMatchObject({ code: 'integrity_failed' });
  });
});
