import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { STALE_UPLOAD_KEY, unwrapKeyAesKw, unwrapKeyRsaOaep, wrapKeyAesKw } from '@xray/shared';
import { DomainError } from '../errors.ts';

export interface KekSetting {
  id: string;
  /** base64 of 32 random bytes. */
  key: string;
}

export interface KeySettings {
  keks: KekSetting[];
  /** The KEK id new X-rays are wrapped with. */
  currentKekId: string;
  /** PKCS#8 or PKCS#1 PEM of the RSA key edges wrap data keys for. */
  uploadPrivateKeyPem: string;
}

export interface UploadJwk {
  kty: 'RSA';
  n: string;
  e: string;
  alg: 'RSA-OAEP-256';
  use: 'enc';
  kid: string;
}

/**
 * Keys behind the envelope encryption: the KEKs that wrap each X-ray's data key at rest, and
 * the RSA key pair whose public half edges use to send a data key with an upload.
 * The only implementation reads them from configuration; a KMS would be a second one.
 */
export interface KeyService {
  readonly currentKekId: string;
  /** The public upload key(s) as a JWKS, for GET /keys/upload. */
  uploadJwks(): { keys: UploadJwk[] };
  /** Unwraps a data key an edge wrapped for our upload key. */
  unwrapUploadedDek(wrapped: Uint8Array, kid: string): Promise<CryptoKey>;
  wrapDek(dek: CryptoKey, kekId?: string): Promise<{ wrapped: Uint8Array; kekId: string }>;
  unwrapDek(wrapped: Uint8Array, kekId: string): Promise<CryptoKey>;
  hasKek(id: string): boolean;
}

/** RFC 7638 thumbprint: a stable key id derived from the public key itself. */
function thumbprint(n: string, e: string): string {
  return createHash('sha256')
    .update(JSON.stringify({ e, kty: 'RSA', n }))
    .digest('base64url');
}

export async function createConfigKeyService(settings: KeySettings): Promise<KeyService> {
  const keks = new Map<string, CryptoKey>();
  for (const k of settings.keks) {
    const raw = Buffer.from(k.key, 'base64');
    if (raw.length !== 32) throw new Error(`KEK ${k.id} must be 32 bytes (base64), not ${raw.length}`);
    keks.set(
      k.id,
      await crypto.subtle.importKey('raw', new Uint8Array(raw), 'AES-KW', false, ['wrapKey', 'unwrapKey']),
    );
  }
  if (!keks.has(settings.currentKekId))
    throw new Error(`The current KEK id ${settings.currentKekId} is not among the configured KEKs`);

  const privateKeyObject = createPrivateKey(settings.uploadPrivateKeyPem);
  const privateJwk = privateKeyObject.export({ format: 'jwk' });
  const publicJwk = createPublicKey(privateKeyObject).export({ format: 'jwk' });
  if (privateJwk.kty !== 'RSA' || !publicJwk.n || !publicJwk.e)
    throw new Error('UPLOAD_PRIVATE_KEY must be an RSA private key');
  const uploadKid = thumbprint(publicJwk.n, publicJwk.e);
  const uploadPrivateKey = await crypto.subtle.importKey(
    'jwk',
    { ...privateJwk, alg: 'RSA-OAEP-256' },
    { name: 'RSA-OAEP', hash: 'SHA-256' },
    false,
    ['unwrapKey'],
  );
  const jwks = {
    keys: [
      {
        kty: 'RSA' as const,
        n: publicJwk.n,
        e: publicJwk.e,
        alg: 'RSA-OAEP-256' as const,
        use: 'enc' as const,
        kid: uploadKid,
      },
    ],
  };

  const kek = (id: string): CryptoKey => {
    const k = keks.get(id);
    if (!k)
      throw new DomainError('internal', `KEK ${id} is not configured; add it to KEK to read X-rays wrapped with it.`);
    return k;
  };

  return {
    currentKekId: settings.currentKekId,
    uploadJwks: () => jwks,
    async unwrapUploadedDek(wrapped, kid) {
      if (kid !== uploadKid) {
        throw new DomainError(
          'validation_failed',
          `The data key was wrapped for an unknown upload key "${kid}"; fetch /keys/upload again.`,
          [STALE_UPLOAD_KEY],
        );
      }
      try {
        return await unwrapKeyRsaOaep(wrapped, uploadPrivateKey);
      } catch (err) {
        throw new DomainError(
          'validation_failed',
          'The wrapped data key cannot be unwrapped with our upload key.',
          [{ field: 'metadata.dek', message: 'cannot be unwrapped' }],
          { cause: err },
        );
      }
    },
    async wrapDek(dek, kekId = settings.currentKekId) {
      return { wrapped: await wrapKeyAesKw(dek, kek(kekId)), kekId };
    },
    unwrapDek: (wrapped, kekId) => unwrapKeyAesKw(wrapped, kek(kekId)),
    hasKek: (id) => keks.has(id),
  };
}
