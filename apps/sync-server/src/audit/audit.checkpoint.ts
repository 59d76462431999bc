import { CompactSign, compactVerify, decodeProtectedHeader } from 'jose';
import { z } from 'zod';
import type { AuditAnchorSigner, AuditAnchorVerifier } from './audit-anchor.key.ts';

/**
 * What a checkpoint vouches for: at `time` (the database clock, read while holding the chain
 * lock) the audit chain held `count` events, the last of them event `headId` with hash
 * `headHash`. Every event appended after it is dated `time` or later.
 */
export interface AuditCheckpoint {
  count: number;
  headId: string;
  headHash: string;
  time: Date;
}

/** A checkpoint read back from the witness, its signature checked. */
export interface StoredCheckpoint extends AuditCheckpoint {
  /** Its name in the witness, e.g. `0000000000000042.jws`. */
  name: string;
}

/** `typ` of the JWS: a checkpoint cannot be confused with any other token signed by the key. */
export const CHECKPOINT_TYPE = 'xray-audit-checkpoint';

const DIGITS = 16;

/** One name per count, so names sort by count and a second checkpoint of one count is refused. */
export const checkpointName = (count: number): string => `${String(count).padStart(DIGITS, '0')}.jws`;

const NAME = new RegExp(`^([0-9]{${DIGITS}})\\.jws$`);

const PayloadSchema = z.strictObject({
  count: z.number().int().positive(),
  headId: z.string().regex(/^[1-9][0-9]{0,18}$/),
  headHash: z.string().regex(/^[0-9a-f]{64}$/),
  time: z.iso.datetime({ precision: 3 }),
});

export class CheckpointInvalidError extends Error {
  override name = 'CheckpointInvalidError';
}

/**
 * The checkpoint as a compact JWS (RFC 7515): EdDSA over `{"count","headId","headHash","time"}`,
 * header `{"alg":"EdDSA","kid":<thumbprint>,"typ":"xray-audit-checkpoint"}`. Any JOSE library can
 * check it with the anchor key's public half.
 */
export async function signCheckpoint(cp: AuditCheckpoint, signer: AuditAnchorSigner): Promise<string> {
  const payload = PayloadSchema.parse({
    count: cp.count,
    headId: cp.headId,
    headHash: cp.headHash,
    time: cp.time.toISOString(),
  });
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: 'EdDSA', kid: signer.kid, typ: CHECKPOINT_TYPE })
    .sign(signer.privateKey);
}

/**
 * Checks a stored checkpoint: its signature by the anchor key, its type, its contents, and that
 * its name is the one its count gets. Throws CheckpointInvalidError saying which failed.
 */
export async function openCheckpoint(
  name: string,
  jws: string,
  verifier: AuditAnchorVerifier,
): Promise<StoredCheckpoint> {
  const named = NAME.exec(name);
  if (!named) throw new CheckpointInvalidError('its name is not one a checkpoint gets');
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(jws.trim());
  } catch {
    throw new CheckpointInvalidError('it is not a JWS');
  }
  if (header.kid !== verifier.kid)
    throw new CheckpointInvalidError(
      `it names key ${String(header.kid)}, not the anchor key ${verifier.kid}: it was signed by another key or forged`,
    );
  if (header.typ !== CHECKPOINT_TYPE)
    throw new CheckpointInvalidError(`it is a ${String(header.typ)}, not a checkpoint`);
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(jws.trim(), verifier.publicKey, { algorithms: ['EdDSA'] }));
  } catch {
    throw new CheckpointInvalidError('its signature does not verify with the anchor key: it was altered or forged');
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    json = undefined;
  }
  const parsed = PayloadSchema.safeParse(json);
  if (!parsed.success) throw new CheckpointInvalidError('it is signed but does not hold a checkpoint');
  if (checkpointName(parsed.data.count) !== `${named[1]}.jws`)
    throw new CheckpointInvalidError(`it records ${parsed.data.count} events but is stored under another count`);
  return {
    name,
    count: parsed.data.count,
    headId: parsed.data.headId,
    headHash: parsed.data.headHash,
    time: new Date(parsed.data.time),
  };
}

/** Whether two checkpoints vouch for the same state of the chain. */
export const sameCheckpoint = (a: AuditCheckpoint, b: AuditCheckpoint): boolean =>
  a.count === b.count && a.headId === b.headId && a.headHash === b.headHash;
