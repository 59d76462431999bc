import { S3Store } from '@tus/s3-store';
import type { DataStore } from '@tus/utils';
import type { Config } from '../config/config.ts';
import { s3ClientConfig, type S3StorageConfig } from '../storage/s3.store.ts';
import { addContentMd5ForDeleteObjects } from '../storage/swift-compat.ts';
import type { TusLayout } from './tus-store.adapter.ts';

/** @tus/s3-store with the same compatibility settings as our own S3 client. */
class CompatibleS3Store extends S3Store {
  constructor(checksumsWhenRequired: boolean, options: ConstructorParameters<typeof S3Store>[0]) {
    super(options);
    if (checksumsWhenRequired) addContentMd5ForDeleteObjects(this.client);
  }

  /**
   * Always forgets the cached info: removing a completed upload finds no multipart upload to abort
   * and throws before the library clears its cache, which would then answer for it (and grow) forever.
   */
  override async remove(id: string): Promise<void> {
    try {
      await super.remove(id);
    } finally {
      await this.clearCache(id);
    }
  }
}

/** Unfinished uploads in the X-rays' bucket (createTusStore loads this module for S3). */
export function s3TusLayout(config: Config, s: S3StorageConfig): TusLayout {
  return {
    // S3 needs parts of at least 5 MiB (except the last): clients should send chunks of >= 5 MiB.
    dataStore: new CompatibleS3Store(s.checksumsWhenRequired, {
      partSize: s.partSize,
      maxConcurrentPartUploads: s.queueSize,
      useTags: config.tus.s3UseTags,
      expirationPeriodInMilliseconds: config.tus.expiryMs,
      s3ClientConfig: { ...s3ClientConfig(s), bucket: s.bucket },
    }) as DataStore,
    dataKey: (id) => id,
    keysOf: (id) => [id, `${id}.info`, `${id}.part`],
  };
}
