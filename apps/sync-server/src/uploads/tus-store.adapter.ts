import path from 'node:path';
import { ERRORS, Upload, type DataStore } from '@tus/utils';
import type { Config } from '../config/config.ts';
import type { ObjectStore } from '../storage/index.ts';
import { ObjectNotFoundError } from '../storage/index.ts';
import { PrivateFileStore } from './private-file.store.ts';

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

/** Where a tus store keeps an upload: its data store and the object keys an upload's files have. */
export interface TusLayout {
  dataStore: DataStore;
  /** The key of an upload's bytes. */
  dataKey: (id: string) => string;
  keysOf: (id: string) => string[];
}

/** The X-ray object a finished upload becomes: one per upload, so a repeated finish rewrites the same key. */
export const releasedKey = (xrayId: string, uploadId: string): string => `xrays/${xrayId}/tus-${uploadId}`;

export async function createTusStore(
  config: Config,
  store: ObjectStore,
  opts: TusStoreOptions,
): Promise<TusStoreAdapter> {
  const s = config.storage;
  const layout: TusLayout =
    s.kind === 'fs'
      ? {
          dataStore: new PrivateFileStore({
            directory: path.join(s.dir, 'uploads'),
            expirationPeriodInMilliseconds: config.tus.expiryMs,
          }) as DataStore,
          dataKey: (id) => `uploads/${id}`,
          keysOf: (id) => [`uploads/${id}`, `uploads/${id}.json`],
        }
      : // The AWS SDK only when S3 is configured (see createObjectStore).
        (await import('./s3-tus.store.ts')).s3TusLayout(config, s);

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
