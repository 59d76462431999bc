import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { Upload } from '@tus/utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.ts';
import { createObjectStore, type ObjectStore } from '../src/storage/index.ts';
import { createTusStore, type TusStoreAdapter } from '../src/uploads/tus-store.adapter.ts';
import { createTestStorage, openMultipartUploads, type StorageKind, type TestStorage } from './harness.ts';

async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

const MiB = 1024 * 1024;

// The tus store adapter keeps its own key layout; one contract, both backends.
describe.each<StorageKind>(['fs', 's3'])('tus store adapter contract: %s', (kind) => {
  let storage: TestStorage;
  let store: ObjectStore;
  let tus: TusStoreAdapter;
  const finished = new Map<string, number>();

  beforeAll(async () => {
    storage = await createTestStorage(kind);
    const config = loadConfig({ ...storage.env, NODE_ENV: 'test' });
    store = await createObjectStore(config.storage);
    tus = await createTusStore(config, store, { finishedSize: async (id) => finished.get(id) ?? null });
  });
  afterAll(async () => storage?.cleanup());

  /** An upload of `bytes`, of which the first `written` have arrived (in two writes when they can be). */
  async function uploadOf(bytes: Buffer, written = bytes.length): Promise<string> {
    const id = randomUUID();
    await tus.dataStore.create(new Upload({ id, size: bytes.length, offset: 0, metadata: { name: 'x' } }));
    const first = Math.min(written, 6 * MiB);
    let offset = await tus.dataStore.write(Readable.from([bytes.subarray(0, first)]), id, 0);
    if (written > first)
      offset = await tus.dataStore.write(Readable.from([bytes.subarray(first, written)]), id, offset);
    expect(offset).toBe(written);
    return id;
  }

  const keysOfUpload = async (id: string) => (await store.list('')).filter((k) => k.includes(id));

  it('a finished upload is released to a key of its X-ray that no tus key can reach; then the tus store holds nothing of it', async () => {
    const bytes = randomBytes(11 * MiB + 5);
    const id = await uploadOf(bytes);
    const xrayId = randomUUID();
    const key = await tus.release(id, xrayId);
    expect(key.startsWith(`xrays/${xrayId}/`)).toBe(true);
    for (const tusKey of tus.keysOf(id)) expect(key.startsWith(tusKey)).toBe(false);

    await tus.discard(id);
    expect(await keysOfUpload(id)).toEqual([key]);
    expect((await readAll(await store.get(key))).equals(bytes)).toBe(true);
    // What tus could still be asked to do to that id touches none of the X-ray's bytes.
    await expect(tus.dataStore.getUpload(id)).rejects.toBeTruthy();
    await tus.discard(id);
    expect((await readAll(await store.get(key))).equals(bytes)).toBe(true);
    // Released twice (a repeated finish after the tus files went): the same key, the same bytes.
    expect(await tus.release(id, xrayId)).toBe(key);
    expect((await readAll(await store.get(key))).equals(bytes)).toBe(true);
    await store.delete(key);
  });

  it('persist makes a released upload durable at its X-ray key: it resolves there, with the same bytes', async () => {
    const bytes = randomBytes(6 * MiB + 7);
    const id = await uploadOf(bytes);
    const key = await tus.release(id, randomUUID());
    await expect(tus.persist(key)).resolves.toBeUndefined();
    expect((await readAll(await store.get(key))).equals(bytes)).toBe(true);
    await tus.discard(id);
    await store.delete(key);
  });

  it('a finished upload still answers tus with its end offset (creation-with-upload looks it up)', async () => {
    const bytes = randomBytes(1024);
    const id = await uploadOf(bytes);
    await tus.release(id, randomUUID());
    await tus.discard(id);
    finished.set(id, bytes.length);
    expect(await tus.dataStore.getUpload(id)).toMatchObject({ id, size: bytes.length, offset: bytes.length });
  });

  it('discarding an unfinished upload leaves nothing: no bytes, no info, no part, no open multipart upload', async () => {
    const bytes = randomBytes(12 * MiB);
    const id = await uploadOf(bytes, 7 * MiB + 3);
    expect((await keysOfUpload(id)).length).toBeGreaterThan(0);
    await tus.discard(id);
    expect(await keysOfUpload(id)).toEqual([]);
    if (kind === 's3') expect(await openMultipartUploads(storage.env)).toBe(0);
    await expect(tus.discard(id)).resolves.toBeUndefined();
  });

  it('sweeps expired uploads without failing when it holds none', async () => {
    await expect(tus.sweepExpired()).resolves.toBeTypeOf('number');
  });
});
