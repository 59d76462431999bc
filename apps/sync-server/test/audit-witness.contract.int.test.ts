import { Readable } from 'node:stream';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditWitness } from '../src/audit/audit.witness.ts';
import { createAuditWitness } from '../src/audit/audit.witnesses.ts';
import { loadConfig } from '../src/config/config.ts';
import { createObjectStore } from '../src/storage/index.ts';
import { createTestStorage, s3Client, type StorageKind, type TestStorage } from './harness.ts';

// One contract, every adapter, against the real backend.
describe.each<StorageKind>(['fs', 's3'])('AuditWitness contract: %s', (kind) => {
  let storage: TestStorage;
  let witness: AuditWitness;

  beforeAll(async () => {
    storage = await createTestStorage(kind);
    const config = loadConfig(storage.env);
    witness = await createAuditWitness(config.storage, config.audit, { create: true });
  });
  afterAll(async () => storage?.cleanup());

  it('keeps what it is given, and a second write of a name leaves the first in place', async () => {
    expect(await witness.get('0000000000000001.jws')).toBeNull();
    expect(await witness.put('0000000000000001.jws', 'first')).toBe('written');
    expect(await witness.put('0000000000000001.jws', 'second')).toBe('exists');
    expect(await witness.get('0000000000000001.jws')).toBe('first');
  });

  it('a name is never written twice, also from another instance of the adapter', async () => {
    // Sequential, as the checkpointer's advisory lock orders the instances' writes: writers racing
    // without it are kept apart by the store only where it has conditional writes (disk: link;
    // S3: If-None-Match), which Swift s3api has not.
    const config = loadConfig(storage.env);
    const other = await createAuditWitness(config.storage, config.audit);
    expect(await witness.put('0000000000000002.jws', 'writer 0')).toBe('written');
    expect(await other.put('0000000000000002.jws', 'writer 1')).toBe('exists');
    expect(await witness.get('0000000000000002.jws')).toBe('writer 0');
  });

  it('lists names in order, all or after one, and nothing else of the store', async () => {
    for (const n of ['0000000000000010.jws', '0000000000000003.jws', '0000000000000100.jws']) await witness.put(n, n);
    // An X-ray object beside it is not a checkpoint.
    const store = await createObjectStore(loadConfig(storage.env).storage);
    await store.put('xrays/x/1', Readable.from([Buffer.from('image')]));
    expect(await witness.list()).toEqual([
      '0000000000000001.jws',
      '0000000000000002.jws',
      '0000000000000003.jws',
      '0000000000000010.jws',
      '0000000000000100.jws',
    ]);
    expect(await witness.list('0000000000000003.jws')).toEqual(['0000000000000010.jws', '0000000000000100.jws']);
    expect(await witness.list('0000000000000100.jws')).toEqual([]);
  });

  it('refuses names that could leave its place', async () => {
    for (const bad of ['../escape.jws', 'a/b.jws', '.hidden', ''])
      await expect(witness.put(bad, 'x')).rejects.toThrow(/Unsafe checkpoint name/);
  });

  if (kind === 'fs') {
    it('on disk, of several writers racing for a name exactly one writes it', async () => {
      const outcomes = await Promise.all(
        Array.from({ length: 5 }, (_, i) => witness.put('0000000000000004.jws', `writer ${i}`)),
      );
      expect(outcomes.filter((o) => o === 'written')).toHaveLength(1);
      const kept = await witness.get('0000000000000004.jws');
      expect(outcomes[Number(kept?.replace('writer ', ''))]).toBe('written');
    });
  }

  if (kind === 's3') {
    it('the store refuses a conditional overwrite (412 on S3; 501 on Swift s3api, which has no conditional PUT, and the adapter copes)', async () => {
      const env = storage.env;
      const put = s3Client(env).send(
        new PutObjectCommand({
          Bucket: env.S3_BUCKET,
          Key: 'audit-checkpoints/0000000000000001.jws',
          Body: 'overwrite',
          IfNoneMatch: '*',
        }),
      );
      await expect(put).rejects.toMatchObject({ $metadata: { httpStatusCode: expect.any(Number) } });
      expect(await witness.get('0000000000000001.jws')).toBe('first');
    });
  }
});
