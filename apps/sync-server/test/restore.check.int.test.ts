import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { makePng, sha256Hex } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anchorSignerFromPem, readDevAnchorKey } from '../src/audit/audit-anchor.key.ts';
import { checkpointName, signCheckpoint } from '../src/audit/audit.checkpoint.ts';
import { WITNESS_PREFIX } from '../src/audit/audit.witness.ts';
import { checkCommand } from '../src/cli/check.command.ts';
import { recoverCommand } from '../src/cli/recover.command.ts';
import { readRecord, readTombstone, recordKeyOf, tombstoneKeyOf, writeTombstone } from '../src/xrays/xray-record.ts';
import { xrayRepository, type XrayRecord } from '../src/xrays/xray.repository.ts';
import { asOwner, blobOf, postXray, startTestServer, validMetadata, type TestServer } from './harness.ts';
import { runCommand as run } from './command.support.ts';
import { downloadSha, sealed, startTus } from './tus-client.ts';

async function bytesOf(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

/**
 * `xray-admin check` finds each kind of inconsistency between rows, objects, recovery records,
 * tombstones and the audit trail, and `recover` mends those it can. Each case makes one problem,
 * sees check name it (exit 1), and puts things right again (check exits 0).
 */
describe('xray-admin check and recover: each kind of problem', () => {
  let server: TestServer;
  const xrays: { id: string; sha256: string }[] = [];
  const check = (...args: string[]) => run(checkCommand, args, server.env);
  const row = async (id: string): Promise<XrayRecord> => {
    const x = await xrayRepository.findById(server.pool, id);
    if (!x) throw new Error(`no row for ${id}`);
    return x;
  };
  const put = (key: string, bytes: Buffer) => server.store.put(key, Readable.from([bytes]));
  /**
   * What a database restored from a backup older than the X-ray lacks: its row and its changes.
   * Not a deletion, so the deletion's safety net (a trigger that leaves a tombstone) does not run.
   */
  const loseRow = (id: string) =>
    asOwner(
      server,
      `SET session_replication_role = replica;
       DELETE FROM xrays WHERE id = '${id}'; DELETE FROM xray_changes WHERE xray_id = '${id}';`,
    );

  beforeAll(async () => {
    server = await startTestServer('fs', { AUDIT_CHECKPOINT_INTERVAL_MS: String(60 * 60 * 1000) });
    for (let seed = 1; seed <= 5; seed++) {
      const png = Buffer.from(makePng({ seed: 100 + seed }));
      const id = randomUUID();
      expect((await postXray(server.url, validMetadata({ id }), blobOf(png))).status).toBe(201);
      xrays.push({ id, sha256: sha256Hex(png) });
    }
  });
  afterAll(async () => server?.close());

  const nth = (i: number) => xrays[i] as { id: string; sha256: string };

  it('a consistent store and database: exit 0, every X-ray opened with --all', async () => {
    const { code, stdout } = await check('--all');
    expect(stdout).not.toContain('PROBLEM');
    expect(stdout).toMatch(/opened 5 X-rays under KEK/);
    expect(code).toBe(0);
  });

  it('every X-ray has a sealed recovery record beside its object, kept current by PATCH', async () => {
    const x = nth(0);
    const res = await fetch(`${server.url}/xrays/${x.id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ notes: 'left lower lobe', bodyPart: 'THORAX' }),
    });
    expect(res.status).toBe(200);
    const stored = await row(x.id);
    const record = await readRecord(server.store, server.keys, stored.objectKey);
    expect(record?.notes).toBe('left lower lobe');
    expect(record?.bodyPart).toBe('THORAX');
    expect(record?.sha256).toBe(x.sha256);
    // Sealed: no patient field is readable in the stored bytes.
    const raw = (await bytesOf(await server.store.get(recordKeyOf(stored.objectKey)))).toString('utf8');
    expect(raw).not.toContain('P-1001');
    expect(raw).not.toContain('left lower lobe');
  });

  it('a row whose object is gone', async () => {
    const x = await row(nth(1).id);
    const saved = await bytesOf(await server.store.get(x.objectKey));
    await server.store.delete(x.objectKey);
    const { code, stdout } = await check();
    expect(stdout).toContain(`PROBLEM (row_without_object): X-ray ${x.id} has a row but no object`);
    expect(code).toBe(1);
    await put(x.objectKey, saved);
    expect((await check()).code).toBe(0);
  });

  it('an object whose row is gone is named, and recover rebuilds the row (audited) from its record', async () => {
    const x = nth(2);
    const before = await row(x.id);
    await loseRow(x.id);
    const found = await check();
    expect(found.stdout).toContain(
      `PROBLEM (object_without_row): object ${before.objectKey} has no row (stored after the database backup?)`,
    );
    expect(found.code).toBe(1);

    // Its record sealed under a KEK this installation lacks (a restore with the KEK list incomplete):
    // check names the KEK before recover is run.
    const record = await bytesOf(await server.store.get(recordKeyOf(before.objectKey)));
    const relabelled = { ...(JSON.parse(record.toString('utf8')) as object), kekId: 'kek-not-here' };
    await put(recordKeyOf(before.objectKey), Buffer.from(JSON.stringify(relabelled)));
    const lacking = await check();
    expect(lacking.stdout).toContain(
      `PROBLEM (record_invalid): 1 recovery records of objects with no row (${before.objectKey}) are sealed under KEK kek-not-here, which is not configured`,
    );
    expect(lacking.code).toBe(1);
    await put(recordKeyOf(before.objectKey), record);

    const recovered = await run(recoverCommand, [], server.env);
    expect(recovered.stdout).toContain(`recovered: X-ray ${x.id}`);
    expect(recovered.code).toBe(0);
    const after = await row(x.id);
    // As it was, under a new change number: the change feed tells consumers it is back.
    expect({ ...after, link: null, changeSeq: 0 }).toEqual({ ...before, link: null, previousWrap: null, changeSeq: 0 });
    expect(after.changeSeq).toBeGreaterThan(before.changeSeq);
    expect(await downloadSha(server.url, x.id)).toBe(x.sha256);
    const { rows } = await server.pool.query<{ actor_sub: string }>(
      `SELECT actor_sub FROM audit_events WHERE action = 'xray.recover' AND xray_id = $1`,
      [x.id],
    );
    expect(rows).toEqual([{ actor_sub: 'xray-admin recover' }]);
    expect((await check('--all')).code).toBe(0);
  });

  it('a tus upload the database backup caught mid-way, finished after it, is recovered (not left to expire)', async () => {
    const png = Buffer.from(makePng({ seed: 205 }));
    const { body, metadata } = await sealed(server.url, png);
    const { xrayId } = await startTus({ endpoint: `${server.url}/uploads`, file: body, metadata }).done;
    if (!xrayId) throw new Error('the tus upload made no X-ray');
    const x = await row(xrayId);
    // The restored database: the upload still running, no X-ray row.
    await loseRow(xrayId);
    await server.pool.query('UPDATE tus_uploads SET finalized_at = NULL WHERE xray_id = $1', [xrayId]);
    const found = await check();
    expect(found.stdout).toContain(`PROBLEM (object_without_row): object ${x.objectKey} has no row`);
    expect(found.code).toBe(1);
    const recovered = await run(recoverCommand, [], server.env);
    expect(recovered.stdout).toContain(`recovered: X-ray ${xrayId}`);
    expect(recovered.code).toBe(0);
    expect(await downloadSha(server.url, xrayId)).toBe(sha256Hex(png));
    const { rows } = await server.pool.query('SELECT 1 FROM tus_uploads WHERE xray_id = $1 AND finalized_at IS NULL', [
      xrayId,
    ]);
    expect(rows).toEqual([]);
    expect((await check('--all')).code).toBe(0);
  });

  it('an object with neither row nor record cannot be recovered: check and recover both say so', async () => {
    const key = `xrays/${randomUUID()}/${randomUUID()}`;
    await put(key, Buffer.from('stray bytes'));
    const found = await check();
    expect(found.stdout).toContain(
      `PROBLEM (object_without_row): object ${key} has no row and no recovery record: it cannot be recovered`,
    );
    expect(found.code).toBe(1);
    const recovered = await run(recoverCommand, [], server.env);
    expect(recovered.stderr).toContain(`object ${key} has no row and no recovery record`);
    expect(recovered.code).toBe(1);
    await server.store.delete(key);
    expect((await check()).code).toBe(0);
  });

  it('a deleted X-ray whose row came back (tombstone beside it) is erased again by recover, audited', async () => {
    const x = await row(nth(3).id);
    await writeTombstone(server.store, server.keys, x, 'someone', 'committed');
    const found = await check();
    expect(found.stdout).toContain(`PROBLEM (deleted_xray_present): X-ray ${x.id} was deleted`);
    expect(found.code).toBe(1);
    const recovered = await run(recoverCommand, [], server.env);
    expect(recovered.stdout).toContain(`erased again: X-ray ${x.id}`);
    expect(recovered.code).toBe(0);
    expect(await xrayRepository.findById(server.pool, x.id)).toBeNull();
    expect(await server.store.list(`xrays/${x.id}/`)).toEqual([tombstoneKeyOf(x.objectKey)]);
    expect((await fetch(`${server.url}/xrays/${x.id}/download`)).status).toBe(404);
    const { rows } = await server.pool.query<{ details: { recovered: boolean; deletedBy: string } }>(
      `SELECT details FROM audit_events WHERE action = 'xray.delete' AND xray_id = $1`,
      [x.id],
    );
    expect(rows.map((r) => [r.details.recovered, r.details.deletedBy])).toEqual([[true, 'someone']]);
    expect((await check()).code).toBe(0);
  });

  it('an erased X-ray whose object came back (a bucket restored from before the delete)', async () => {
    const x = await row(nth(4).id);
    const saved = await bytesOf(await server.store.get(x.objectKey));
    expect((await fetch(`${server.url}/xrays/${x.id}`, { method: 'DELETE' })).status).toBe(204);
    expect(await server.store.list(`xrays/${x.id}/`)).toEqual([tombstoneKeyOf(x.objectKey)]);
    expect((await readTombstone(server.store, server.keys, x.objectKey))?.state).toBe('committed');
    await put(x.objectKey, saved);
    const found = await check();
    expect(found.stdout).toContain(`PROBLEM (erased_object_present): object ${x.objectKey} belongs to a deleted X-ray`);
    expect(found.code).toBe(1);
    expect((await run(recoverCommand, [], server.env)).code).toBe(0);
    expect(await server.store.stat(x.objectKey)).toBeNull();
    expect((await check()).code).toBe(0);
  });

  it('a delete cut off before its COMMIT (pending tombstone, row and object here): recover keeps the X-ray', async () => {
    const png = Buffer.from(makePng({ seed: 201 }));
    const id = randomUUID();
    expect((await postXray(server.url, validMetadata({ id }), blobOf(png))).status).toBe(201);
    const x = await row(id);
    // What a delete leaves when its process dies between the tombstone and the COMMIT.
    await writeTombstone(server.store, server.keys, x, 'an admin', 'pending');
    expect((await check()).code).toBe(1);
    const recovered = await run(recoverCommand, [], server.env);
    expect(recovered.stdout).toContain(`kept: X-ray ${id} (its delete never committed`);
    expect(recovered.stdout).not.toContain('erased again');
    expect(recovered.code).toBe(0);
    expect(await downloadSha(server.url, id)).toBe(sha256Hex(png));
    expect(await server.store.stat(tombstoneKeyOf(x.objectKey))).toBeNull();
    const { rows } = await server.pool.query(
      `SELECT 1 FROM audit_events WHERE action = 'xray.delete' AND xray_id = $1`,
      [id],
    );
    expect(rows).toEqual([]);
    expect((await check('--all')).code).toBe(0);
  });

  it('a delete that committed but died before marking its tombstone: recover erases the object it left', async () => {
    const png = Buffer.from(makePng({ seed: 202 }));
    const id = randomUUID();
    expect((await postXray(server.url, validMetadata({ id }), blobOf(png))).status).toBe(201);
    const x = await row(id);
    const saved = await bytesOf(await server.store.get(x.objectKey));
    const record = await bytesOf(await server.store.get(recordKeyOf(x.objectKey)));
    expect((await fetch(`${server.url}/xrays/${id}`, { method: 'DELETE' })).status).toBe(204);
    // The state after a COMMIT and a crash before the tombstone was marked and the object erased.
    await writeTombstone(server.store, server.keys, x, 'an admin', 'pending');
    await put(x.objectKey, saved);
    await put(recordKeyOf(x.objectKey), record);
    const recovered = await run(recoverCommand, [], server.env);
    expect(recovered.stdout).toContain(`erased again: X-ray ${id}`);
    expect(recovered.code).toBe(0);
    expect(await server.store.list(`xrays/${id}/`)).toEqual([tombstoneKeyOf(x.objectKey)]);
    expect(await xrayRepository.findById(server.pool, id)).toBeNull();
    expect((await check()).code).toBe(0);
  });

  it('a pending tombstone the restored database cannot settle (no row, no audited delete) is left to the operator', async () => {
    const png = Buffer.from(makePng({ seed: 203 }));
    const id = randomUUID();
    expect((await postXray(server.url, validMetadata({ id }), blobOf(png))).status).toBe(201);
    const x = await row(id);
    await writeTombstone(server.store, server.keys, x, 'an admin', 'pending');
    // A database backup from before the upload: no row, no audit event of either.
    await loseRow(id);
    const refused = await run(recoverCommand, [], server.env);
    expect(refused.stderr).toContain(`a delete of X-ray ${id} was begun`);
    expect(refused.stdout).not.toContain(`recovered: X-ray ${id}`);
    expect(refused.code).toBe(1);
    expect(await server.store.stat(x.objectKey)).not.toBeNull();
    expect(await xrayRepository.findById(server.pool, id)).toBeNull();
    // The operator keeps it: tombstone removed, recover rebuilds the row.
    await server.store.delete(tombstoneKeyOf(x.objectKey));
    const kept = await run(recoverCommand, [], server.env);
    expect(kept.stdout).toContain(`recovered: X-ray ${id}`);
    expect(await downloadSha(server.url, id)).toBe(sha256Hex(png));
    expect((await check('--all')).code).toBe(0);
  });

  it('a tombstone planted by someone with write access to the bucket alone does not erase a live X-ray', async () => {
    const png = Buffer.from(makePng({ seed: 204 }));
    const id = randomUUID();
    expect((await postXray(server.url, validMetadata({ id }), blobOf(png))).status).toBe(201);
    const x = await row(id);
    const forged = {
      format: 'xray-tombstone',
      v: 1,
      xrayId: x.id,
      objectKey: x.objectKey,
      sha256: x.sha256,
      deletedAt: new Date().toISOString(),
      deletedBy: 'an admin',
      state: 'committed',
    };
    await put(tombstoneKeyOf(x.objectKey), Buffer.from(JSON.stringify(forged)));
    const plain = await run(recoverCommand, [], server.env);
    expect(plain.stderr).toContain(`the tombstone of ${x.objectKey} is not a sealed tombstone`);
    expect(plain.code).toBe(1);

    // Nor does another X-ray's genuine tombstone copied beside it, or a record passed off as one.
    const otherTombstone = (await server.store.list(`xrays/${nth(4).id}/`)).find((k) => k.endsWith('.deleted'));
    expect(otherTombstone).toBeDefined();
    await put(tombstoneKeyOf(x.objectKey), await bytesOf(await server.store.get(otherTombstone as string)));
    const copied = await run(recoverCommand, [], server.env);
    expect(copied.stderr).toContain(`the tombstone of ${x.objectKey} does not open`);
    expect(copied.code).toBe(1);
    await put(tombstoneKeyOf(x.objectKey), await bytesOf(await server.store.get(recordKeyOf(x.objectKey))));
    expect((await run(recoverCommand, [], server.env)).code).toBe(1);

    expect(await downloadSha(server.url, id)).toBe(sha256Hex(png));
    const { rows } = await server.pool.query(
      `SELECT 1 FROM audit_events WHERE action = 'xray.delete' AND xray_id = $1`,
      [id],
    );
    expect(rows).toEqual([]);
    await server.store.delete(tombstoneKeyOf(x.objectKey));
    expect((await check('--all')).code).toBe(0);
  });

  it('a row with no recovery record (stored before records existed); recover writes it', async () => {
    const x = await row(nth(0).id);
    await server.store.delete(recordKeyOf(x.objectKey));
    const found = await check();
    expect(found.stdout).toContain(`PROBLEM (row_without_record): X-ray ${x.id} has no recovery record`);
    expect(found.code).toBe(1);
    const recovered = await run(recoverCommand, [], server.env);
    expect(recovered.stdout).toMatch(/1 recovery records written/);
    expect((await check('--all')).code).toBe(0);
  });

  it('a record that differs from its row, and one that does not open for its object', async () => {
    const [x, y] = [await row(nth(0).id), await row(nth(1).id)];
    await server.pool.query(`UPDATE xrays SET notes = 'changed behind the record' WHERE id = $1`, [x.id]);
    const stale = await check('--all');
    expect(stale.stdout).toContain(
      `PROBLEM (record_stale): the recovery record of X-ray ${x.id} differs from its row in notes`,
    );
    expect(stale.code).toBe(1);
    expect((await run(recoverCommand, [], server.env)).code).toBe(0);
    expect((await readRecord(server.store, server.keys, x.objectKey))?.notes).toBe('changed behind the record');

    // y's record replaced by x's: sealed for another X-ray and object, it does not open as y's.
    const ySaved = await bytesOf(await server.store.get(recordKeyOf(y.objectKey)));
    await put(recordKeyOf(y.objectKey), await bytesOf(await server.store.get(recordKeyOf(x.objectKey))));
    const invalid = await check('--all');
    expect(invalid.stdout).toContain(`PROBLEM (record_invalid): the recovery record of X-ray ${y.id} does not open`);
    expect(invalid.code).toBe(1);
    await put(recordKeyOf(y.objectKey), ySaved);
    expect((await check('--all')).code).toBe(0);
  });

  it('an X-ray whose bytes are not the ones its row records', async () => {
    const x = await row(nth(2).id);
    await server.pool.query('UPDATE xrays SET sha256 = $2 WHERE id = $1', [x.id, 'f'.repeat(64)]);
    const found = await check('--all');
    expect(found.stdout).toMatch(
      new RegExp(`PROBLEM \\(content_mismatch\\): X-ray ${x.id} \\(KEK [\\w-]+\\) does not read back as recorded`),
    );
    expect(found.code).toBe(1);
    await server.pool.query('UPDATE xrays SET sha256 = $2 WHERE id = $1', [x.id, x.sha256]);
    expect((await check('--all')).code).toBe(0);
  });

  it('an audit trail behind its newest checkpoint, and one cut at its end', async () => {
    if (server.config.storage.kind !== 'fs') throw new Error('fs only');
    const dir = path.join(server.config.storage.dir, WITNESS_PREFIX);
    const signer = await anchorSignerFromPem((await readDevAnchorKey(server.config.dataDir)) ?? '');
    const { rows } = await server.pool.query<{ n: number; head: string }>(
      'SELECT count(*)::int AS n, max(id)::text AS head FROM audit_events',
    );
    const { n, head } = rows[0] as { n: number; head: string };
    // Past the end, with a later head: what a restore from an older backup looks like.
    const ahead = { count: n + 50, headId: String(BigInt(head) + 50n), headHash: 'a'.repeat(64), time: new Date() };
    await server.auditAnchoring.witness.put(checkpointName(ahead.count), await signCheckpoint(ahead, signer));
    const behind = await check();
    expect(behind.stdout).toMatch(
      /PROBLEM \(audit\): audit: the audit trail ends at event \d+ after \d+ events, and 1 checkpoints go past it/,
    );
    expect(behind.code).toBe(1);
    await rm(path.join(dir, checkpointName(ahead.count)));

    // Past the end with a head the chain should still hold: events cut from it, not a restore.
    const cut = { count: n + 50, headId: head, headHash: 'b'.repeat(64), time: new Date() };
    await server.auditAnchoring.witness.put(checkpointName(cut.count), await signCheckpoint(cut, signer));
    const broken = await check();
    expect(broken.stdout).toContain('PROBLEM (audit): audit: the trail does not verify');
    expect(broken.code).toBe(1);
    const refused = await run(recoverCommand, [], server.env);
    expect(refused.stderr).toContain('The audit trail does not verify, so this is not a plain restore');
    expect(refused.code).toBe(1);
    await rm(path.join(dir, checkpointName(cut.count)));
    expect((await check()).code).toBe(0);
  });
});
