import { randomBytes } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.ts';
import { createObjectStore, ObjectNotFoundError, type ObjectStore } from '../src/storage/index.ts';
import { createTestStorage, openMultipartUploads, type StorageKind, type TestStorage } from './harness.ts';

async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

/** A body that streams `bytes` in small pieces and then fails, like a client or disk giving up. */
function failingBody(bytes: Buffer, failAfter: number): Readable {
  let sent = 0;
  return Readable.from(
    (function* () {
      for (let i = 0; i < bytes.length; i += 64 * 1024) yield bytes.subarray(i, i + 64 * 1024);
    })(),
  ).pipe(
    new Transform({
      transform(chunk: Buffer, _enc, done) {
        sent += chunk.length;
        if (sent > failAfter) done(new Error('source failed'));
        else done(null, chunk);
      },
    }),
  );
}

// One contract, every adapter, against the real backend.
describe.each<StorageKind>(['fs', 's3'])('ObjectStore contract: %s', (kind) => {
  let storage: TestStorage;
  let store: ObjectStore;
  let env: Record<string, string>;

  beforeAll(async () => {
    storage = await createTestStorage(kind);
    env = storage.env;
    store = await createObjectStore(loadConfig(env).storage);
  });
  afterAll(async () => storage?.cleanup());

  it('puts a streamed body and reads it back whole and by range', async () => {
    const bytes = randomBytes(12 * 1024 * 1024 + 123);
    const { size } = await store.put(
      'xrays/a/1',
      Readable.from([bytes.subarray(0, 5_000_000), bytes.subarray(5_000_000)]),
    );
    expect(size).toBe(bytes.length);
    expect(await store.stat('xrays/a/1')).toEqual({ size: bytes.length });
    expect((await readAll(await store.get('xrays/a/1'))).equals(bytes)).toBe(true);
    const part = await readAll(await store.get('xrays/a/1', { start: 5_242_870, end: 5_242_900 }));
    expect(part.equals(bytes.subarray(5_242_870, 5_242_901))).toBe(true);
    // A read streamed to a client at its pace (on S3 through a connection pool of its own): the same bytes.
    const paced = await readAll(
      await store.get('xrays/a/1', { start: 5_242_870, end: 5_242_900 }, { clientPaced: true }),
    );
    expect(paced.equals(part)).toBe(true);
    await expect(store.get('xrays/a/none', undefined, { clientPaced: true })).rejects.toBeInstanceOf(
      ObjectNotFoundError,
    );
  });

  it('lists by prefix and deletes idempotently', async () => {
    await store.put('xrays/b/1', Readable.from([Buffer.from('one')]));
    await store.put('xrays/b/2', Readable.from([Buffer.from('two')]));
    expect(await store.list('xrays/b/')).toEqual(['xrays/b/1', 'xrays/b/2']);
    await store.delete('xrays/b/1');
    await store.delete('xrays/b/1');
    expect(await store.list('xrays/b/')).toEqual(['xrays/b/2']);
    expect(await store.stat('xrays/b/1')).toBeNull();
    await expect(store.get('xrays/b/1')).rejects.toBeInstanceOf(ObjectNotFoundError);
  });

  it('a body that fails mid-way leaves nothing at the key (no partial object, no open multipart upload)', async () => {
    const bytes = randomBytes(11 * 1024 * 1024);
    await expect(store.put('xrays/c/1', failingBody(bytes, 7 * 1024 * 1024))).rejects.toThrow('source failed');
    expect(await store.stat('xrays/c/1')).toBeNull();
    expect(await store.list('xrays/c/')).toEqual([]);
    if (kind === 's3') expect(await openMultipartUploads(env)).toBe(0);
  });

  it('copies inside the store: the copy outlives its source, replaces its target, and a missing source throws', async () => {
    const bytes = randomBytes(6 * 1024 * 1024 + 7);
    await store.put('uploads-x/1', Readable.from([bytes]));
    await store.put('xrays/d/1', Readable.from([Buffer.from('older bytes')]));
    await store.copy('uploads-x/1', 'xrays/d/1');
    await store.delete('uploads-x/1');
    expect((await readAll(await store.get('xrays/d/1'))).equals(bytes)).toBe(true);
    await expect(store.copy('uploads-x/1', 'xrays/d/2')).rejects.toBeInstanceOf(ObjectNotFoundError);
    expect(await store.stat('xrays/d/2')).toBeNull();
  });

  it('refuses keys that could escape its root', async () => {
    await expect(store.put('../etc/x', Readable.from([Buffer.from('x')]))).rejects.toThrow(/Unsafe object key/);
  });

  it('answers readiness', async () => {
    await expect(store.check()).resolves.toBeUndefined();
  });
});
