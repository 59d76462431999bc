import type { StorageConfig } from '../config/config.ts';
import { FsObjectStore } from './fs.store.ts';
import type { ObjectStore } from './object-store.ts';

export * from './object-store.ts';
export { BufferPool, type BufferSource } from './buffer-pool.ts';

/**
 * The store the configuration names. The S3 driver (the AWS SDK: ~200 ms and ~30 MB to load) is
 * imported only when S3 is configured, so a server on disk storage never loads it.
 */
export async function createObjectStore(config: StorageConfig): Promise<ObjectStore> {
  const store =
    config.kind === 's3' ? new (await import('./s3.store.ts')).S3ObjectStore(config) : new FsObjectStore(config.dir);
  await store.init();
  return store;
}
