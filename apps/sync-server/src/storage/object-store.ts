import type { Readable } from 'node:stream';
import type { BufferSource } from './buffer-pool.ts';

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

export interface GetOptions {
  /** Preferred chunk size (a hint): the disk store then reads that much at a time, a few reads ahead. */
  chunkSize?: number;
  /** Where the disk store takes the buffers for those reads, so the caller can recycle them. */
  buffers?: BufferSource;
  /**
   * The body goes to a client at that client's pace (a download, with backpressure), so the read
   * stays open for as long as the client takes, or until it is cut as stalled. The S3 store serves
   * such reads from a connection pool of their own: clients that stop reading then only make other
   * such reads wait, never uploads or the server's own reads; and a read left unread lets go of
   * its connection (at once when other reads wait for one), reopening the same object where it
   * stopped when read again, or failing with ObjectChangedError if the object was replaced
   * meanwhile. (The disk store has no pool: ignored.)
   */
  clientPaced?: boolean;
}

/**
 * Where X-ray objects live. Two real adapters (disk, S3) pass one contract suite
 * (test/object-store.contract.ts).
 */
export interface ObjectStore {
  readonly kind: 'fs' | 's3';
  /** Streams body to key. Resolves once stored; on error or abort nothing is left at key. */
  put(key: string, body: Readable, signal?: AbortSignal): Promise<{ size: number }>;
  /** The whole object or an inclusive byte range. Throws ObjectNotFoundError. */
  get(key: string, range?: ByteRange, opts?: GetOptions): Promise<Readable>;
  /** Size of the object, or null when there is none. */
  stat(key: string): Promise<{ size: number } | null>;
  /**
   * Makes `to` hold the same bytes as `from`, inside the store (disk: a hard link; S3: a
   * server-side copy): nothing passes through this process. Replaces whatever was at `to`.
   * Throws ObjectNotFoundError when `from` is missing.
   */
  copy(from: string, to: string): Promise<void>;
  /**
   * Makes an object that was written without put (tus's own files, given their X-ray key by copy)
   * durable: on disk an fsync of the file and of the directories that name it (ObjectNotFoundError
   * when there is none); on S3 an object is durable once written, and nothing is done.
   */
  sync(key: string): Promise<void>;
  /** Removes the object; removing a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** Lists keys under a prefix (tests, cleanup, admin). */
  list(prefix: string): Promise<string[]>;
  /** Throws when the store cannot be used (readiness). */
  check(): Promise<void>;
}

export class ObjectNotFoundError extends Error {
  override name = 'ObjectNotFoundError';
  constructor(readonly key: string) {
    super(`No object at ${key}`);
  }
}

/**
 * A read that let go of the store's response while its client was not reading
 * (GetOptions.clientPaced) could not go on: the object at key is no longer the one it began
 * reading. Fails the stream, rather than join bytes of two objects.
 */
export class ObjectChangedError extends Error {
  override name = 'ObjectChangedError';
  constructor(
    readonly key: string,
    reason: string,
    /** The object is gone (its X-ray deleted meanwhile: a normal race), not replaced by another. */
    readonly gone = false,
  ) {
    super(`The object at ${key} changed while it was being read (${reason})`);
  }
}

/** Keys are server-made (`xrays/<uuid>/<uuid>`): nothing that could escape a directory. */
export const isSafeKey = (key: string): boolean =>
  /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(key) && !key.split('/').some((p) => p === '..' || p === '.');

/** Refuses a key isSafeKey does not accept. */
export function assertSafeKey(key: string): void {
  if (!isSafeKey(key)) throw new Error(`Unsafe object key: ${key}`);
}

/** What happens to reads streamed at a client's pace (S3 only; metrics: xray_s3_download_reads_total). */
export const CLIENT_PACED_EVENTS = ['released', 'reopened', 'changed'] as const;
export type ClientPacedEvent = (typeof CLIENT_PACED_EVENTS)[number];

/** The client-paced reads' connection pool now (S3 only; metrics: xray_s3_download_connections). */
export interface ClientPacedPool {
  /** Connections serving a read. */
  inUse: number;
  /** Reads (first requests or reopens) waiting for a connection. */
  waiting: number;
  /** Connections it may open (S3_DOWNLOAD_CONNECTIONS). */
  limit: number;
}

/** A store whose client-paced reads have a connection pool of their own to watch (S3ObjectStore). */
export interface ClientPacedReads {
  /** Where each client-paced read's let-go, reopen and changed object is told (one observer). */
  observeClientPaced(observer: (event: ClientPacedEvent) => void): void;
  clientPacedPool(): ClientPacedPool;
}

export const hasClientPacedReads = (store: ObjectStore): store is ObjectStore & ClientPacedReads =>
  'observeClientPaced' in store && 'clientPacedPool' in store;
