import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { AuditConfig } from '../config/config.ts';
import { s3ClientConfig, type S3StorageConfig } from '../storage/s3.store.ts';
import { assertWitnessName, WITNESS_PREFIX, type AuditWitness } from './audit.witness.ts';

const statusOf = (err: unknown): number | undefined => {
  const e = err as { $metadata?: { httpStatusCode?: number } } | null;
  return e?.$metadata?.httpStatusCode;
};
const isNotFound = (err: unknown): boolean => {
  const name = (err as { name?: string } | null)?.name;
  return name === 'NoSuchKey' || name === 'NotFound' || statusOf(err) === 404;
};

/**
 * Checkpoints as objects under a prefix of an S3 bucket. A name is written only when absent:
 * looked up first, then put with `If-None-Match: *` (S3 conditional writes). Stores without
 * conditional writes (Swift s3api answers 501) get a plain put after the look-up: the
 * checkpointer's advisory lock already lets only one instance write at a time. With `lock`, each object gets
 * an Object Lock retention: in COMPLIANCE mode nobody, the bucket's owner included, can delete
 * or overwrite it before the date. The bucket must have been created with Object Lock (Swift
 * s3api has none: there the checkpoints are as safe as the credentials that can delete them).
 */
export class S3AuditWitness implements AuditWitness {
  /** Whether the store honours If-None-Match on PUT; learnt from its first refusal. */
  private conditional = true;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly prefix: string,
    private readonly lock?: { mode: 'GOVERNANCE' | 'COMPLIANCE'; days: number },
  ) {}

  get location(): string {
    return `s3://${this.bucket}/${this.prefix}`;
  }

  async put(name: string, body: string): Promise<'written' | 'exists'> {
    assertWitnessName(name);
    const Key = `${this.prefix}${name}`;
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
      return 'exists';
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const put = (conditional: boolean) =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key,
          Body: body,
          ContentType: 'application/jose',
          ...(conditional ? { IfNoneMatch: '*' } : {}),
          ...(this.lock
            ? {
                ObjectLockMode: this.lock.mode,
                ObjectLockRetainUntilDate: new Date(Date.now() + this.lock.days * 24 * 60 * 60 * 1000),
                // Object Lock puts must carry a checksum (Content-MD5 or a flexible one).
                ChecksumAlgorithm: 'SHA256',
              }
            : {}),
        }),
      );
    try {
      await put(this.conditional);
      return 'written';
    } catch (err) {
      // 412: someone wrote it between the look-up and the put.
      if (statusOf(err) === 412) return 'exists';
      if (!this.conditional || statusOf(err) !== 501) throw err;
    }
    this.conditional = false;
    await put(false);
    return 'written';
  }

  async get(name: string): Promise<string | null> {
    assertWitnessName(name);
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: `${this.prefix}${name}` }));
      return (await res.Body?.transformToString('utf8')) ?? '';
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async list(after?: string): Promise<string[]> {
    const names: string[] = [];
    let token: string | undefined;
    do {
      const res = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.prefix,
          ContinuationToken: token,
          ...(after !== undefined && !token ? { StartAfter: `${this.prefix}${after}` } : {}),
        }),
      );
      for (const o of res.Contents ?? [])
        if (o.Key && o.Key.length > this.prefix.length) names.push(o.Key.slice(this.prefix.length));
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    return names.filter((n) => after === undefined || n > after).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
}

/** The witness in the X-rays' bucket or AUDIT_CHECKPOINT_BUCKET (createAuditWitness loads this module for S3). */
export async function createS3AuditWitness(
  storage: S3StorageConfig,
  audit: AuditConfig,
  opts: { create?: boolean },
): Promise<S3AuditWitness> {
  const client = new S3Client(s3ClientConfig(storage));
  const bucket = audit.checkpoints.bucket ?? storage.bucket;
  const lock = audit.checkpoints.objectLock;
  if (opts.create && storage.createBucket && bucket !== storage.bucket) {
    try {
      await client.send(new HeadBucketCommand({ Bucket: bucket }));
    } catch {
      await client.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: lock !== undefined }));
    }
  }
  return new S3AuditWitness(client, bucket, WITNESS_PREFIX, lock);
}
