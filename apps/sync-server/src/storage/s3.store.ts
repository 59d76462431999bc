import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { StorageConfig } from '../config/config.ts';
import {
  assertSafeKey,
  ObjectChangedError,
  ObjectNotFoundError,
  type ByteRange,
  type ClientPacedEvent,
  type ClientPacedPool,
  type ClientPacedReads,
  type GetOptions,
  type ObjectStore,
} from './object-store.ts';
import {
  RELEASE_UNREAD_IDLE_MS,
  RELEASE_UNREAD_WHEN_PRESSED_MS,
  ResumableRead,
  type ReleasePolicy,
} from './s3.resumable-read.ts';

export type S3StorageConfig = Extract<StorageConfig, { kind: 's3' }>;

export function s3ClientConfig(c: S3StorageConfig): S3ClientConfig {
  return {
    region: c.region,
    forcePathStyle: c.forcePathStyle,
    ...(c.endpoint ? { endpoint: c.endpoint } : {}),
    ...(c.credentials ? { credentials: c.credentials } : {}),
    // Swift s3api and several S3-compatible stores reject aws-chunked uploads with trailing checksums.
    ...(c.checksumsWhenRequired
      ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }
      : {}),
  };
}

const isNotFound = (err: unknown): boolean => {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
};

const isPreconditionFailed = (err: unknown): boolean =>
  (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode === 412;

/** Where a response's bytes lie in the object: its Content-Range, or the whole object without one. */
function bytesServed(res: { ContentRange?: string; ContentLength?: number }): ByteRange | undefined {
  if (res.ContentRange) {
    const m = /^bytes (\d+)-(\d+)\//.exec(res.ContentRange);
    return m ? { start: Number(m[1]), end: Number(m[2]) } : undefined;
  }
  return res.ContentLength === undefined ? undefined : { start: 0, end: res.ContentLength - 1 };
}

/** For tests. */
export interface S3ObjectStoreOptions {
  /** When a client-paced read left unread lets go of its response (ReleasePolicy): ms. */
  releaseUnread?: { whenPressedMs?: number; idleMs?: number };
}

/** Requests of these agents waiting for a socket, or sockets serving one. */
const countOf = (pools: readonly (NodeJS.ReadOnlyDict<unknown[]> | undefined)[]): number =>
  pools.reduce((n, pool) => n + Object.values(pool ?? {}).reduce((m, queue) => m + (queue?.length ?? 0), 0), 0);

/**
 * Objects in an S3-compatible bucket; large bodies go up as a streamed multipart upload. Two
 * clients, each with its own connection pool (the SDK's 50 sockets; S3_DOWNLOAD_CONNECTIONS for the
 * second): reads streamed to a client at its pace (GetOptions.clientPaced) get that one, so clients that stop
 * reading can never hold the sockets that uploads and the server's own reads need. Nor can they
 * keep that pool from other clients: such a read left unread lets go of its response (at once
 * when other reads wait for a socket, ReleasePolicy), and goes on with a Range GET of the same
 * object (If-Match its ETag) when its client reads again (ResumableRead).
 */
export class S3ObjectStore implements ObjectStore, ClientPacedReads {
  readonly kind = 's3' as const;
  readonly client: S3Client;
  /** Client-paced reads only. (Not #private: tests wrap the store with Object.create.) */
  private readonly clientPacedReads: S3Client;
  private readonly releaseUnread: ReleasePolicy;
  private readonly agents: readonly [HttpAgent, HttpsAgent];
  /** Told of each client-paced read's let-go, reopen and changed object (metrics). (Not #private: see above.) */
  private observer: ((event: ClientPacedEvent) => void) | undefined;

  constructor(
    private readonly config: S3StorageConfig,
    opts: S3ObjectStoreOptions = {},
  ) {
    this.client = new S3Client(s3ClientConfig(config));
    // The pool's own agents (as the SDK would make them), to see whether reads wait for a socket.
    const agentOptions = { keepAlive: true, maxSockets: config.downloadConnections };
    const agents = [new HttpAgent(agentOptions), new HttpsAgent(agentOptions)] as const;
    this.agents = agents;
    this.clientPacedReads = new S3Client({
      ...s3ClientConfig(config),
      requestHandler: { httpAgent: agents[0], httpsAgent: agents[1] },
    });
    this.releaseUnread = {
      whenPressedMs: opts.releaseUnread?.whenPressedMs ?? RELEASE_UNREAD_WHEN_PRESSED_MS,
      idleMs: opts.releaseUnread?.idleMs ?? RELEASE_UNREAD_IDLE_MS,
      pressed: () => this.waiting() > 0,
    };
  }

  observeClientPaced(observer: (event: ClientPacedEvent) => void): void {
    this.observer = observer;
  }

  clientPacedPool(): ClientPacedPool {
    return {
      inUse: countOf(this.agents.map((a) => a.sockets)),
      waiting: this.waiting(),
      limit: this.agents[0].maxSockets,
    };
  }

  /** Client-paced reads (first requests or reopens) waiting for a socket. */
  private waiting(): number {
    return countOf(this.agents.map((a) => a.requests));
  }

  async init(): Promise<void> {
    if (!this.config.createBucket) return;
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.config.bucket }));
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.client.send(new CreateBucketCommand({ Bucket: this.config.bucket }));
    }
  }

  async put(key: string, body: Readable, signal?: AbortSignal): Promise<{ size: number }> {
    assertSafeKey(key);
    let size = 0;
    body.on('data', (chunk: Buffer) => (size += chunk.length));
    // lib-storage aborts the multipart upload itself when a part fails (leavePartsOnError: false).
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.config.bucket, Key: key, Body: body },
      partSize: this.config.partSize,
      queueSize: this.config.queueSize,
      leavePartsOnError: false,
    });
    const done = upload.done();
    const onAbort = () => void upload.abort().catch(() => undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    // A body that errors (client gone, limit hit) must fail the upload, not leave it waiting.
    const bodyFailed = new Promise<never>((_, reject) => body.once('error', reject));
    try {
      await Promise.race([done, bodyFailed]);
      return { size };
    } catch (err) {
      await upload.abort().catch(() => undefined);
      // Let in-flight requests (CreateMultipartUpload, parts) settle before cleaning up after them.
      await Promise.race([done.catch(() => undefined), new Promise((r) => setTimeout(r, 10_000))]);
      // A small body goes up as one PutObject that may already have landed: remove it.
      await this.delete(key).catch(() => undefined);
      // A CreateMultipartUpload the client gave up on may still complete at the store: look twice.
      // (Anything that still escapes is aborted by the expired-upload cleaner, which walks them all.)
      await this.abortOpenUploads(key, [100, 500]).catch(() => undefined);
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private async abortOpenUploads(key: string, waits: number[] = [0]): Promise<void> {
    for (const wait of waits) {
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const res = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.config.bucket, Prefix: key }));
      for (const u of res.Uploads ?? []) {
        if (u.Key === key && u.UploadId) {
          await this.client.send(
            new AbortMultipartUploadCommand({ Bucket: this.config.bucket, Key: key, UploadId: u.UploadId }),
          );
        }
      }
    }
  }

  async get(key: string, range?: ByteRange, opts: GetOptions = {}): Promise<Readable> {
    const client = opts.clientPaced ? this.clientPacedReads : this.client;
    let res;
    try {
      res = await client.send(
        new GetObjectCommand({
          Bucket: this.config.bucket,
          Key: key,
          ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
        }),
      );
    } catch (err) {
      if (isNotFound(err)) throw new ObjectNotFoundError(key);
      throw err;
    }
    const body = res.Body;
    if (!(body instanceof Readable)) throw new Error(`S3 returned no stream for ${key}`);
    if (!opts.clientPaced) return body;
    const served = bytesServed(res);
    const etag = res.ETag;
    // Without an ETag to ask for the same object again (or with nothing to read), held as it is.
    if (!etag || !served || served.end < served.start) return body;
    const read = new ResumableRead(
      { body, ...served, reopen: (from, signal) => this.reopen(key, etag, { start: from, end: served.end }, signal) },
      this.releaseUnread,
    );
    read.on('released', () => this.observer?.('released'));
    return read;
  }

  /** Bytes `range` of the object at key if it is still the one with that ETag; ObjectChangedError if not. */
  private async reopen(key: string, etag: string, range: ByteRange, signal: AbortSignal): Promise<Readable> {
    let res;
    try {
      res = await this.clientPacedReads.send(
        new GetObjectCommand({
          Bucket: this.config.bucket,
          Key: key,
          Range: `bytes=${range.start}-${range.end}`,
          IfMatch: etag,
        }),
        { abortSignal: signal },
      );
    } catch (err) {
      if (isNotFound(err)) throw this.changed(new ObjectChangedError(key, 'it is gone', true));
      if (isPreconditionFailed(err)) throw this.changed(new ObjectChangedError(key, 'it was replaced'));
      throw err;
    }
    const body = res.Body;
    const served = bytesServed(res);
    // A store that ignored If-Match or Range is caught here: only these bytes of that object will do.
    if (body instanceof Readable && res.ETag === etag && served?.start === range.start && served.end === range.end) {
      this.observer?.('reopened');
      return body;
    }
    if (body instanceof Readable) body.destroy();
    throw this.changed(
      new ObjectChangedError(key, `it answered ${res.ETag ?? 'no ETag'}, ${res.ContentRange ?? 'no Content-Range'}`),
    );
  }

  private changed(err: ObjectChangedError): ObjectChangedError {
    this.observer?.('changed');
    return err;
  }

  async stat(key: string): Promise<{ size: number } | null> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.config.bucket, Key: key }));
      return { size: res.ContentLength ?? 0 };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /** A server-side copy (S3 allows up to 5 GiB in one; MAX_UPLOAD_BYTES stays below that). */
  async copy(from: string, to: string): Promise<void> {
    assertSafeKey(from);
    assertSafeKey(to);
    try {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.config.bucket,
          Key: to,
          CopySource: `${this.config.bucket}/${from.split('/').map(encodeURIComponent).join('/')}`,
        }),
      );
    } catch (err) {
      if (isNotFound(err)) throw new ObjectNotFoundError(from);
      throw err;
    }
  }

  /** An S3 object is durable once the store answered its write: nothing to do (and no request spent). */
  sync(key: string): Promise<void> {
    assertSafeKey(key);
    return Promise.resolve();
  }

  /** Removes the object and any unfinished multipart upload to the same key: nothing stays at it. */
  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.config.bucket, Key: key }));
    await this.abortOpenUploads(key);
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const res = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.config.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of res.Contents ?? []) if (o.Key) keys.push(o.Key);
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }

  async check(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.config.bucket }));
  }
}
