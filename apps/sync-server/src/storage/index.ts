import type { StorageConfig } from '../config/config.ts';
import { FsObjectStore } from './fs.store.ts';
import type { ObjectStore } from './object-store.ts';
import { S3ObjectStore } from './s3.store.ts';

export * from './object-store.ts';
export { BufferPool, type BufferSource } from './buffer-pool.ts';

export async function createObjectStore(config: StorageConfig): Promise<ObjectStore> {
  const store = config.kind === 's3' ? new S3ObjectStore(config) : new FsObjectStore(config.dir);
  await store.init();
  return store;
}
