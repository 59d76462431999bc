import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK } from 'jose';
import { ensurePrivateDir, ensurePrivateFile, PRIVATE_FILE_MODE } from '../storage/private-files.ts';

/** Checks a checkpoint's signature: the anchor key's public half and its id. */
export interface AuditAnchorVerifier {
  publicKey: KeyObject;
  /** RFC 7638 JWK thumbprint of the public key: the `kid` each checkpoint carries. */
  kid: string;
}

/** Signs checkpoints. The private half never goes near the database. */
export interface AuditAnchorSigner extends AuditAnchorVerifier {
  privateKey: KeyObject;
}

export class AuditAnchorKeyError extends Error {
  override name = 'AuditAnchorKeyError';
}

async function verifierOf(publicKey: KeyObject): Promise<AuditAnchorVerifier> {
  if (publicKey.asymmetricKeyType !== 'ed25519')
    throw new AuditAnchorKeyError(`is a ${publicKey.asymmetricKeyType ?? 'symmetric'} key; an Ed25519 key is needed`);
  return { publicKey, kid: await calculateJwkThumbprint(await exportJWK(publicKey)) };
}

/** The signer from a PKCS#8 PEM (AUDIT_ANCHOR_KEY); throws AuditAnchorKeyError saying what is wrong. */
export async function anchorSignerFromPem(pem: string): Promise<AuditAnchorSigner> {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (cause) {
    throw new AuditAnchorKeyError('is not a PEM private key', { cause });
  }
  return { ...(await verifierOf(createPublicKey(privateKey))), privateKey };
}

/** A verifier from a PEM public key (SPKI) or private key (its public half is used). */
export async function anchorVerifierFromPem(pem: string): Promise<AuditAnchorVerifier> {
  try {
    return await verifierOf(createPublicKey(pem));
  } catch (err) {
    if (err instanceof AuditAnchorKeyError) throw err;
    throw new AuditAnchorKeyError('is not a PEM public or private key', { cause: err });
  }
}

const devKeyFile = (dataDir: string): string => path.join(dataDir, 'keys', 'audit-anchor-key.pem');

/**
 * The development anchor key, generated once into DATA_DIR/keys beside the other development
 * keys (never used when NODE_ENV=production: the config guard requires AUDIT_ANCHOR_KEY there).
 * On a development machine it sits next to the embedded database, so it anchors nothing against
 * someone with the machine: it is there so development runs the same code as production.
 */
export async function loadOrCreateDevAnchorKey(dataDir: string): Promise<string> {
  const file = devKeyFile(dataDir);
  await ensurePrivateDir(path.dirname(file));
  const existing = await readDevAnchorKey(dataDir);
  if (existing !== undefined) {
    await ensurePrivateFile(file);
    return existing;
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  try {
    // 'wx': instances starting at once on one DATA_DIR all end up with the first key written.
    await writeFile(file, pem, { mode: PRIVATE_FILE_MODE, flag: 'wx' });
    return pem;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return readFile(file, 'utf8');
  }
}

/** The development anchor key when there is one; never creates it (verify-audit). */
export async function readDevAnchorKey(dataDir: string): Promise<string | undefined> {
  try {
    return await readFile(devKeyFile(dataDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * The anchor key's PEM as configured for checking: AUDIT_ANCHOR_KEY, else (outside production) the
 * development key if one was made; never creates one (verify-audit, check, recover).
 */
export async function configuredAnchorPem(config: {
  env: string;
  dataDir: string;
  audit: { anchorKeyPem?: string | undefined };
}): Promise<string | undefined> {
  return config.audit.anchorKeyPem ?? (config.env === 'production' ? undefined : readDevAnchorKey(config.dataDir));
}
