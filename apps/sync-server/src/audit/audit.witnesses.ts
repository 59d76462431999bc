import path from 'node:path';
import type { AuditConfig, StorageConfig } from '../config/config.ts';
import { WITNESS_PREFIX, type AuditWitness } from './audit.witness.ts';
import { FsAuditWitness } from './fs.witness.ts';

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
  // The AWS SDK only when S3 is configured (see createObjectStore).
  const { createS3AuditWitness } = await import('./s3.witness.ts');
  return createS3AuditWitness(storage, audit, opts);
}
