import path from 'node:path';
import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { AuditConfig, StorageConfig } from '../config/config.ts';
import { s3ClientConfig } from '../storage/s3.store.ts';
import { WITNESS_PREFIX, type AuditWitness } from './audit.witness.ts';
import { FsAuditWitness } from './fs.witness.ts';
import { S3AuditWitness } from './s3.witness.ts';

/**
 * The witness the configuration points at: beside the X-ray objects (the same bucket, or
 * AUDIT_CHECKPOINT_BUCKET; on disk, DATA_DIR/objects/audit-checkpoints). `create`: make a
 * missing bucket when S3_CREATE_BUCKET says so (the server; never verify-audit).
 */
export async function createAuditWitness(
  storage: StorageConfig,
  audit: AuditConfig,
  opts: { create?: boolean } = {},
): Promise<AuditWitness> {
  if (storage.kind === 'fs') return new FsAuditWitness(path.join(storage.dir, WITNESS_PREFIX));
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
