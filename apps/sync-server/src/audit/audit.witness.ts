/**
 * Somewhere outside PostgreSQL that keeps what it is given: the audit checkpoints. Write-once by
 * contract — a name, once written, is never replaced — and as far as the backend can enforce it
 * (S3 Object Lock; conditional writes). Two adapters (disk, S3) pass one contract suite
 * (test/audit-witness.contract.int.test.ts). An external timestamping or transparency service
 * would be a third.
 */
export interface AuditWitness {
  /** Where it keeps them, for messages: `s3://bucket/audit-checkpoints/`, a directory. */
  readonly location: string;
  /** Stores `body` under `name` unless something is there already, which is then left as it is. */
  put(name: string, body: string): Promise<'written' | 'exists'>;
  /** The body under `name`, or null. */
  get(name: string): Promise<string | null>;
  /** Every name, in ascending order; only those after `after` when given. */
  list(after?: string): Promise<string[]>;
}

/** Key prefix of the checkpoints in the object store. */
export const WITNESS_PREFIX = 'audit-checkpoints/';

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function assertWitnessName(name: string): void {
  if (!SAFE_NAME.test(name)) throw new Error(`Unsafe checkpoint name: ${name}`);
}
