import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { makePng, sha256Hex } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCommand } from '../src/cli/check.command.ts';
import { recoverCommand } from '../src/cli/recover.command.ts';
import { rendersPrefixOf } from '../src/rendering/render.cache.ts';
import { recordKeyOf, tombstoneKeyOf } from '../src/xrays/xray-record.ts';
import { xrayRepository, type XrayRecord } from '../src/xrays/xray.repository.ts';
import { ADMIN, DOCTOR, PARAMEDIC } from './audit.support.ts';
import {
  asOwner,
  blobOf,
  headerActor,
  postXray,
  startTestServer,
  validMetadata,
  type StorageKind,
  type TestServer,
} from './harness.ts';
import { runCommand as run } from './command.support.ts';

async function bytesOf(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

/**
 * Cached renders (renders/<xray id>/…) must not outlive their X-ray: `xray-admin check` names those
 * of an X-ray with no row (a delete that died between its COMMIT and removing them, a restore), and
 * `recover` removes them, after rebuilding the rows it can (a rebuilt X-ray keeps its renders).
 * Renders of an X-ray that has its row are never reported nor removed.
 */
describe.each<StorageKind>(['fs', 's3'])(
  'xray-admin check and recover on %s storage: cached renders of X-rays with no row',
  (kind) => {
    let server: TestServer;
    const check = (...args: string[]) => run(checkCommand, args, server.env);
    const recover = (...args: string[]) => run(recoverCommand, args, server.env);
    const put = (key: string, bytes: Buffer) => server.store.put(key, Readable.from([bytes]));
    const row = async (id: string): Promise<XrayRecord> => {
      const x = await xrayRepository.findById(server.pool, id);
      if (!x) throw new Error(`no row for ${id}`);
      return x;
    };
    /** An X-ray uploaded as a paramedic and previewed by a doctor at each size: its renders cached. */
    async function renderedXray(
      seed: number,
      sizes: number[],
    ): Promise<{ id: string; sha256: string; renders: string[] }> {
      const png = Buffer.from(makePng({ seed }));
      const id = randomUUID();
      const res = await postXray(server.url, validMetadata({ id }), blobOf(png), { 'X-Test-Actor': PARAMEDIC });
      expect(res.status, await res.clone().text()).toBe(201);
      for (const size of sizes) {
        const preview = await fetch(`${server.url}/xrays/${id}/preview?size=${size}`, {
          headers: { 'X-Test-Actor': DOCTOR },
        });
        expect(preview.status).toBe(200);
        await preview.arrayBuffer();
      }
      const renders = await server.store.list(rendersPrefixOf(id));
      expect(renders).toHaveLength(sizes.length);
      return { id, sha256: sha256Hex(png), renders };
    }
    /** The sha256 of the X-ray as a doctor downloads it. */
    const download = async (id: string): Promise<string> => {
      const res = await fetch(`${server.url}/xrays/${id}/download`, { headers: { 'X-Test-Actor': DOCTOR } });
      expect(res.status).toBe(200);
      return sha256Hex(Buffer.from(await res.arrayBuffer()));
    };

    beforeAll(async () => {
      server = await startTestServer(
        kind,
        { AUDIT_CHECKPOINT_INTERVAL_MS: String(60 * 60 * 1000) },
        { authenticate: headerActor },
      );
    });
    afterAll(async () => server?.close());

    it('renders of a deleted X-ray left behind, and one planted for an unknown id: named by check, removed by recover', async () => {
      const kept = await renderedXray(301, [64, 96]);
      const gone = await renderedXray(302, [64, 128]);
      const goneRow = await row(gone.id);
      const saved = await Promise.all(
        gone.renders.map(async (k) => [k, await bytesOf(await server.store.get(k))] as const),
      );
      const del = await fetch(`${server.url}/xrays/${gone.id}`, {
        method: 'DELETE',
        headers: { 'X-Test-Actor': ADMIN },
      });
      expect(del.status).toBe(204);
      expect(await server.store.list(rendersPrefixOf(gone.id))).toEqual([]);
      // What a delete leaves when its process dies between its COMMIT and removing the renders.
      for (const [key, bytes] of saved) await put(key, bytes);
      // And an entry of the same layout for an X-ray this database never had (a restore from before it).
      const stray = randomUUID();
      const strayKey = `${rendersPrefixOf(stray)}${'0'.repeat(64)}`;
      await put(strayKey, saved[0]![1]);

      const found = await check('--all');
      expect(found.stdout).toContain(
        `PROBLEM (render_without_xray): X-ray ${gone.id} has no row but 2 cached rendered images under ${rendersPrefixOf(gone.id)}: run xray-admin recover to remove them`,
      );
      expect(found.stdout).toContain(
        `PROBLEM (render_without_xray): X-ray ${stray} has no row but 1 cached rendered image under ${rendersPrefixOf(stray)}: run xray-admin recover`,
      );
      expect(found.stdout).toMatch(/render sets: 3 \(5 objects\)/);
      expect(found.stdout).not.toContain(kept.id);
      expect(found.stdout).toContain('2 problems found.');
      expect(found.code).toBe(1);

      // No --dry-run: refused before anything is touched.
      await expect(recover('--dry-run')).rejects.toThrow();
      expect(await server.store.list(rendersPrefixOf(gone.id))).toHaveLength(2);

      const tombstone = await bytesOf(await server.store.get(tombstoneKeyOf(goneRow.objectKey)));
      const audit = async () =>
        (
          await server.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_events WHERE xray_id = $1', [
            gone.id,
          ])
        ).rows[0]?.n;
      const auditBefore = await audit();
      const recovered = await recover();
      expect(recovered.stdout).toContain(`renders removed: X-ray ${gone.id} (2 cached rendered images; it has no row)`);
      expect(recovered.stdout).toContain(`renders removed: X-ray ${stray} (1 cached rendered image; it has no row)`);
      expect(recovered.stdout).toContain('2 render sets removed');
      expect(recovered.stdout).not.toContain(kept.id);
      expect(recovered.stderr).toBe('');
      expect(recovered.code).toBe(0);
      expect(await server.store.list(rendersPrefixOf(gone.id))).toEqual([]);
      expect(await server.store.list(rendersPrefixOf(stray))).toEqual([]);
      // The deleted X-ray's other state as the delete left it: its tombstone, no row, no new audit event.
      expect((await bytesOf(await server.store.get(tombstoneKeyOf(goneRow.objectKey)))).equals(tombstone)).toBe(true);
      expect(await server.store.list(`xrays/${gone.id}/`)).toEqual([tombstoneKeyOf(goneRow.objectKey)]);
      expect(await xrayRepository.findById(server.pool, gone.id)).toBeNull();
      expect(await audit()).toBe(auditBefore);
      // The live X-ray's renders are untouched.
      expect(await server.store.list(rendersPrefixOf(kept.id))).toEqual(kept.renders);

      // Idempotent: nothing left to remove.
      const again = await recover();
      expect(again.stdout).not.toContain('renders removed');
      expect(again.stdout).toContain('0 render sets removed');
      expect(again.code).toBe(0);
      const clean = await check('--all');
      expect(clean.stdout).not.toContain('PROBLEM');
      expect(clean.stdout).toMatch(/render sets: 1 \(2 objects\)/);
      expect(clean.code).toBe(0);
      expect(await download(kept.id)).toBe(kept.sha256);
    });

    it('an X-ray whose row a restore lost keeps its renders when recover rebuilds the row', async () => {
      const x = await renderedXray(303, [64]);
      const before = await row(x.id);
      // A database restored from before the X-ray: no row, no change (triggers and FKs off, as a restore).
      await asOwner(
        server,
        `SET session_replication_role = replica;
       DELETE FROM xrays WHERE id = '${x.id}'; DELETE FROM xray_changes WHERE xray_id = '${x.id}';`,
      );
      const found = await check();
      expect(found.stdout).toContain(`PROBLEM (object_without_row): object ${before.objectKey} has no row`);
      expect(found.stdout).toContain(
        `PROBLEM (render_without_xray): X-ray ${x.id} has no row but 1 cached rendered image`,
      );
      expect(found.code).toBe(1);

      const recovered = await recover();
      expect(recovered.stdout).toContain(`recovered: X-ray ${x.id}`);
      expect(recovered.stdout).not.toContain('renders removed');
      expect(recovered.code).toBe(0);
      expect(await server.store.list(rendersPrefixOf(x.id))).toEqual(x.renders);
      expect(await server.store.stat(recordKeyOf(before.objectKey))).not.toBeNull();
      expect(await download(x.id)).toBe(x.sha256);
      expect((await check('--all')).code).toBe(0);
    });

    it('an X-ray whose row and object a restore both lost: its renders are removed, nothing else is touched', async () => {
      const x = await renderedXray(304, [64, 96]);
      const other = await renderedXray(305, [64]);
      const before = await row(x.id);
      await asOwner(
        server,
        `SET session_replication_role = replica;
       DELETE FROM xrays WHERE id = '${x.id}'; DELETE FROM xray_changes WHERE xray_id = '${x.id}';`,
      );
      await server.store.delete(before.objectKey);
      await server.store.delete(recordKeyOf(before.objectKey));
      const found = await check();
      expect(found.stdout).toContain(
        `PROBLEM (render_without_xray): X-ray ${x.id} has no row but 2 cached rendered images under ${rendersPrefixOf(x.id)}`,
      );
      expect(found.stdout).not.toContain(other.id);
      expect(found.code).toBe(1);
      const recovered = await recover();
      expect(recovered.stdout).toContain(`renders removed: X-ray ${x.id} (2 cached rendered images; it has no row)`);
      expect(recovered.code).toBe(0);
      expect(await server.store.list(rendersPrefixOf(x.id))).toEqual([]);
      expect(await server.store.list(rendersPrefixOf(other.id))).toEqual(other.renders);
      expect(await download(other.id)).toBe(other.sha256);
      expect((await check('--all')).code).toBe(0);
    });
  },
);
