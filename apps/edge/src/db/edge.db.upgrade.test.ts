import { Dexie } from 'dexie';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RETENTION_MS, EdgeDb, SCHEMA_VERSIONS } from './edge.db.ts';

/** The database as the first release created it: only the v1 schema declared. */
function openAsVersion1(name: string): Dexie {
  const v1 = SCHEMA_VERSIONS.find((v) => v.version === 1);
  if (!v1) throw new Error('no v1 schema');
  const db = new Dexie(name);
  db.version(1).stores(v1.stores);
  return db;
}

describe('EdgeDb schema upgrade', () => {
  it('v1 → v2 keeps every record and blob and gives synced captures their purge time', async () => {
    const name = `edge-upgrade-${crypto.randomUUID()}`;
    const old = openAsVersion1(name);
    const capture = (id: string, status: string, over: object = {}) => ({
      id,
      status,
      priority: 'routine',
      createdAt: 1_000,
      updatedAt: 2_000,
      contentType: 'image/png',
      plaintextSize: 3,
      ciphertextSize: 60,
      sha256: 'a'.repeat(64),
      wrappedDek: new Uint8Array(40).fill(7),
      keyId: 'device',
      encryptedMetadata: new Uint8Array([1, 2, 3]),
      attempts: 0,
      ...over,
    });
    await old
      .table('captures')
      .bulkAdd([
        capture('synced-1', 'synced', { syncedAt: 5_000 }),
        capture('queued-1', 'queued'),
        capture('purged-1', 'synced', { syncedAt: 1_000, purgedAt: 9_000 }),
      ]);
    await old.table('blobs').bulkAdd([
      { captureId: 'synced-1', ciphertext: new Blob([new Uint8Array([9, 9, 9])]) },
      { captureId: 'queued-1', ciphertext: new Blob([new Uint8Array([8])]) },
    ]);
    await old.table('uploads').add({
      key: 'k1',
      fingerprint: 'xray-capture:queued-1',
      uploadUrl: 'http://x/uploads/1',
      size: 60,
      creationTime: 'now',
    });
    old.close();

    const db = new EdgeDb(name);
    await db.open();
    expect(db.verno).toBe(2);
    expect(await db.captures.get('synced-1')).toMatchObject({
      status: 'synced',
      purgeAfter: 5_000 + DEFAULT_RETENTION_MS,
    });
    expect((await db.captures.get('queued-1'))?.purgeAfter).toBeUndefined();
    expect((await db.captures.get('purged-1'))?.purgeAfter).toBeUndefined();
    expect(Array.from((await db.captures.get('queued-1'))?.wrappedDek ?? [])).toEqual(new Array(40).fill(7));
    // The new index answers the purge query.
    expect(
      (await db.captures.where('purgeAfter').belowOrEqual(Number.MAX_SAFE_INTEGER).toArray()).map((c) => c.id),
    ).toEqual(['synced-1']);
    const blob = await db.blobs.get('synced-1');
    expect(Array.from(new Uint8Array(await blob!.ciphertext.arrayBuffer()))).toEqual([9, 9, 9]);
    expect(await db.uploads.where('fingerprint').equals('xray-capture:queued-1').count()).toBe(1);
    db.close();
  });

  it('a new install opens at the latest version directly', async () => {
    const db = new EdgeDb(`edge-new-${crypto.randomUUID()}`);
    await db.open();
    expect(db.verno).toBe(SCHEMA_VERSIONS.at(-1)?.version);
    expect(db.tables.map((t) => t.name).sort()).toEqual(['blobs', 'captures', 'keys', 'settings', 'uploads']);
    db.close();
  });
});
