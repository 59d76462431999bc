import { constants, createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import {
  STALE_UPLOAD_KEY,
  UPLOAD_KEY_ENDORSEMENT_ALGORITHM,
  UPLOAD_KEY_MIN_BITS,
  rsaJwkThumbprint,
  unwrapKeyRsaOaep,
  uploadKeyEndorsementMessage,
  type UploadJwk,
  type UploadJwks,
} from '@xray/shared';
import { ConfigError } from '../config/config.ts';
import { DomainError } from '../errors.ts';

/** The upload key pairs edges wrap data keys for: the current one and, during a rotation, the previous. */
export interface UploadKeyRing {
  /** Current key first, then the previous one with its endorsement of the current. */
  jwks: UploadJwks;
  /** Unwraps a data key wrapped for the key `kid` (current or previous). */
  unwrap(wrapped: Uint8Array, kid: string): Promise<CryptoKey>;
}

interface UploadKeyPair {
  jwk: UploadJwk;
  keyObject: KeyObject;
  privateKey: CryptoKey;
}

const invalid = (variable: string, message: string, cause?: unknown): ConfigError =>
  new ConfigError(`Invalid configuration:\n  ${variable}: ${message}`, cause === undefined ? undefined : { cause });

/** The RSA private key in `pem`, refused unless RSA (and, unless `weakAllowed`, at least 3072 bits). */
function loadKeyObject(pem: string, variable: string, weakAllowed = false): { keyObject: KeyObject; bits: number } {
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey(pem);
  } catch (err) {
    throw invalid(variable, 'is not a PEM private key', err);
  }
  if (keyObject.asymmetricKeyType !== 'rsa')
    throw invalid(variable, `must be an RSA private key, not ${keyObject.asymmetricKeyType ?? 'a symmetric key'}`);
  const bits = keyObject.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < UPLOAD_KEY_MIN_BITS && !weakAllowed)
    throw invalid(
      variable,
      `is a ${bits}-bit RSA key; upload keys must have at least ${UPLOAD_KEY_MIN_BITS} bits ` +
        `(openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:${UPLOAD_KEY_MIN_BITS})`,
    );
  return { keyObject, bits };
}

async function thumbprintOf(keyObject: KeyObject, variable: string): Promise<{ n: string; e: string; kid: string }> {
  const { n, e } = createPublicKey(keyObject).export({ format: 'jwk' });
  if (!n || !e) throw invalid(variable, 'has no RSA public half');
  return { n, e, kid: await rsaJwkThumbprint({ n, e }) };
}

async function loadPair(pem: string, variable: string): Promise<UploadKeyPair> {
  const { keyObject } = loadKeyObject(pem, variable);
  const { n, e, kid } = await thumbprintOf(keyObject, variable);
  const privateKey = await crypto.subtle.importKey(
    'jwk',
    { ...keyObject.export({ format: 'jwk' }), alg: 'RSA-OAEP-256' },
    { name: 'RSA-OAEP', hash: 'SHA-256' },
    false,
    ['unwrapKey'],
  );
  const jwk: UploadJwk = { kty: 'RSA', n, e, alg: 'RSA-OAEP-256', use: 'enc', kid };
  return { jwk, keyObject, privateKey };
}

/**
 * Loads UPLOAD_PRIVATE_KEY (and UPLOAD_PREVIOUS_PRIVATE_KEY during a rotation), refusing RSA keys
 * under 3072 bits. The previous key signs the current one's thumbprint (RSA-PSS, the same key pair;
 * RSA-OAEP and RSA-PSS are jointly secure), so an edge that pinned it can trust the new one.
 * A previous key under 3072 bits (a deployment rotating away from one) only signs: it is neither
 * published nor used to unwrap uploads (`warn` is told), and edges holding a data key wrapped for
 * it are told to fetch the key set again.
 */
export async function loadUploadKeys(
  currentPem: string,
  previousPem?: string,
  opts: { warn?: (message: string) => void } = {},
): Promise<UploadKeyRing> {
  const current = await loadPair(currentPem, 'UPLOAD_PRIVATE_KEY');
  const previousVar = 'UPLOAD_PREVIOUS_PRIVATE_KEY';
  // The previous key signs the endorsement; it also unwraps (and is published) only if strong.
  const signer = previousPem ? loadKeyObject(previousPem, previousVar, true) : undefined;
  const weakSigner = signer !== undefined && signer.bits < UPLOAD_KEY_MIN_BITS;
  const signerKid = signer && (await thumbprintOf(signer.keyObject, previousVar)).kid;
  if (signerKid === current.jwk.kid) throw invalid(previousVar, 'is the same key as UPLOAD_PRIVATE_KEY');
  if (weakSigner)
    opts.warn?.(
      `${previousVar} is a ${signer.bits}-bit RSA key (under ${UPLOAD_KEY_MIN_BITS}): it only signs the ` +
        'endorsement of UPLOAD_PRIVATE_KEY; it is not published and uploads wrapped for it are not unwrapped ' +
        '(their edges fetch the key set again)',
    );
  const previous = previousPem && !weakSigner ? await loadPair(previousPem, previousVar) : undefined;
  const pairs = new Map([current, ...(previous ? [previous] : [])].map((p) => [p.jwk.kid, p]));
  const jwks: UploadJwks = {
    keys: [...pairs.values()].map((p) => p.jwk),
    ...(signer && signerKid
      ? {
          endorsements: [
            {
              by: signerKid,
              for: current.jwk.kid,
              sig: sign('sha256', uploadKeyEndorsementMessage(current.jwk.kid), {
                key: signer.keyObject,
                padding: constants.RSA_PKCS1_PSS_PADDING,
                saltLength: UPLOAD_KEY_ENDORSEMENT_ALGORITHM.saltLength,
              }).toString('base64url'),
            },
          ],
        }
      : {}),
  };
  return {
    jwks,
    async unwrap(wrapped, kid) {
      const pair = pairs.get(kid);
      if (!pair) {
        throw new DomainError(
          'validation_failed',
          `The data key was wrapped for an unknown upload key "${kid}"; fetch /keys/upload again.`,
          [STALE_UPLOAD_KEY],
        );
      }
      try {
        return await unwrapKeyRsaOaep(wrapped, pair.privateKey);
      } catch (err) {
        throw new DomainError(
          'validation_failed',
          'The wrapped data key cannot be unwrapped with our upload key.',
          [{ field: 'metadata.dek', message: 'cannot be unwrapped' }],
          { cause: err },
        );
      }
    },
  };
}
