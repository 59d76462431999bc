import path from 'node:path';
import { S3Store } from '@tus/s3-store';
import { ERRORS, Upload, type DataStore } from '@tus/utils';
import type { Config } from '../config/config.ts';
import type { ObjectStore } from '../storage/index.ts';
import { ObjectNotFoundError } from '../storage/index.ts';
import { addContentMd5ForDeleteObjects } from '../storage/swift-compat.ts';
import { s3ClientConfig } from '../storage/s3.store.ts';
import { PrivateFileStore } from './private-file.store.ts';

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

/**
 * The tus store of unfinished uploads, and the one place that knows where it keeps them.
 *
 * Its keys and the stored X-rays' keys never meet: an upload lives at keys named by its upload id
 * (disk: `uploads/<id>`, S3: `<id>`, plus info and part files), an X-ray at `xrays/<xray id>/…`.
 * A finished upload is `release`d into the X-ray's own key (a hard link or a server-side copy), and
 * then everything the tus store held is removed; no tus operation can reach the stored X-ray.
 */
export interface TusStoreAdapter {
  /** What @tus/server reads and writes. */
  readonly dataStore: DataStore;
  /** Every key an upload may occupy in the object store (for clean-up and tests). */
  keysOf(id: string): string[];
  /** The X-ray's own key for a finished upload's bytes, holding them now. Idempotent. */
  release(id: string, xrayId: string): Promise<string>;
  /** Removes all the tus store holds of an upload (bytes, info, part, open multipart upload); a missing one is fine. */
  discard(id: string): Promise<void>;
  /**
   * Makes a released upload's bytes (at the key `release` returned) durable (ObjectStore.sync): on
   * disk an fsync, as the disk store does for every object it puts; on S3 they are once the
   * multipart upload completed, with the last PATCH.
   */
  persist(releasedKey: string): Promise<void>;
  /**
   * The size of an upload this instance found finished (its tus files gone, its row finalized),
   * else undefined. Such an upload takes no more bytes and has no file to open: a retried final
   * PATCH that waited for the finish reaches the store after it.
   */
  finishedSizeOf(id: string): number | undefined;
  /** The tus store's own sweep of expired unfinished uploads; how many it removed. */
  sweepExpired(): Promise<number>;
}

export interface TusStoreOptions {
  /**
   * The size of an upload that is finished and stored as an X-ray (its tus files are gone by then),
   * or null. Lets tus look up an upload it has just completed (creation-with-upload does).
   */
  finishedSize: (id: string) => Promise<number | null>;
}

/** How many finished uploads `finishedSizeOf` remembers (the latest; a finished upload stays finished). */
const FINISHED_REMEMBERED = 1024;

/** The X-ray object a finished upload becomes: one per upload, so a repeated finish rewrites the same key. */
export const releasedKey = (xrayId: string, uploadId: string): string => `xrays/${xrayId}/tus-${uploadId}`;

export function createTusStore(config: Config, store: ObjectStore, opts: TusStoreOptions): TusStoreAdapter {
  const s = config.storage;
  const layout =
    s.kind === 'fs'
      ? {
          dataStore: new PrivateFileStore({
            directory: path.join(s.dir, 'uploads'),
            expirationPeriodInMilliseconds: config.tus.expiryMs,
          }) as DataStore,
          dataKey: (id: string) => `uploads/${id}`,
          keysOf: (id: string) => [`uploads/${id}`, `uploads/${id}.json`],
        }
      : {
          // S3 needs parts of at least 5 MiB (except the last): clients should send chunks of >= 5 MiB.
          dataStore: new CompatibleS3Store(s.checksumsWhenRequired, {
            partSize: s.partSize,
            maxConcurrentPartUploads: s.queueSize,
            useTags: config.tus.s3UseTags,
            expirationPeriodInMilliseconds: config.tus.expiryMs,
            s3ClientConfig: { ...s3ClientConfig(s), bucket: s.bucket },
          }) as DataStore,
          dataKey: (id: string) => id,
          keysOf: (id: string) => [id, `${id}.info`, `${id}.part`],
        };

  const { dataStore } = layout;
  const finished = new Map<string, number>();
  // A finished upload answers from what became of it, so tus can still confirm its end offset.
  const getUpload = dataStore.getUpload.bind(dataStore);
  dataStore.getUpload = async (id) => {
    try {
      return await getUpload(id);
    } catch (err) {
      const size = await opts.finishedSize(id);
      if (size === null) throw err;
      finished.delete(id);
      finished.set(id, size);
      const oldest = finished.keys().next();
      if (finished.size > FINISHED_REMEMBERED && !oldest.done) finished.delete(oldest.value);
      return new Upload({ id, size, offset: size });
    }
  };

  return {
    dataStore,
    keysOf: layout.keysOf,
    // tus wrote the bytes without an fsync; the X-ray's key is a link to them (disk).
    persist: (key) => store.sync(key),
    finishedSizeOf: (id) => finished.get(id),
    async release(id, xrayId) {
      const to = releasedKey(xrayId, id);
      try {
        await store.copy(layout.dataKey(id), to);
      } catch (err) {
        // Released before (a repeated finish after the tus files were removed): it is there.
        if (!(err instanceof ObjectNotFoundError) || !(await store.stat(to))) throw err;
      }
      return to;
    },
    async discard(id) {
      // tus first (S3: aborts the multipart upload its info names), then whatever it left.
      await dataStore.remove(id).catch((err: unknown) => {
        if (err !== ERRORS.FILE_NOT_FOUND && (err as { status_code?: number })?.status_code !== 404) throw err;
      });
      for (const key of layout.keysOf(id)) await store.delete(key);
    },
    async sweepExpired() {
      // The disk store's directory goes with its last upload (empty directories are removed).
      return dataStore.deleteExpired().catch((err: NodeJS.ErrnoException) => {
        if (err?.code === 'ENOENT') return 0;
        throw err;
      });
    },
  };
}
