/**
 * The upload key set the server publishes at GET /keys/upload, and how a key in it vouches for
 * the next one. Edges pin the keys they trust (trust on first use) and accept a new key only
 * when a pinned key has signed it, so a gateway that terminates TLS cannot hand them its own key.
 */

/** Upload keys below this RSA modulus size are refused at load. */
export const UPLOAD_KEY_MIN_BITS = 3072;
/** The only RSA public exponent accepted for upload keys (65537, as base64url). */
export const UPLOAD_KEY_EXPONENT = 'AQAB';

/** Bit length of a base64url big-endian RSA modulus (leading zero bytes ignored); 0 when unreadable. */
export function rsaModulusBits(n: string): number {
  let bin: string;
  try {
    bin = atob(n.replaceAll('-', '+').replaceAll('_', '/'));
  } catch {
    return 0;
  }
  let i = 0;
  while (i < bin.length && bin.charCodeAt(i) === 0) i++;
  if (i === bin.length) return 0;
  return (bin.length - i - 1) * 8 + (32 - Math.clz32(bin.charCodeAt(i)));
}

/** Whether an RSA public key is strong enough to be an upload key: at least 3072 bits, e = 65537. */
export function isUploadKeyStrong(jwk: { n: string; e: string }): boolean {
  return jwk.e === UPLOAD_KEY_EXPONENT && rsaModulusBits(jwk.n) >= UPLOAD_KEY_MIN_BITS;
}

export interface UploadJwk {
  kty: 'RSA';
  n: string;
  e: string;
  alg: 'RSA-OAEP-256';
  use: 'enc';
  /** RFC 7638 thumbprint of the key. */
  kid: string;
}

/** A previous upload key's signature over the current key's thumbprint (a rotation). */
export interface UploadKeyEndorsement {
  /** kid of the signing (previous) key. */
  by: string;
  /** kid of the endorsed (current) key. */
  for: string;
  /** base64url RSA-PSS (SHA-256, 32-byte salt) signature over uploadKeyEndorsementMessage(for). */
  sig: string;
}

/** The current key first; then the previous one during a rotation's grace period. */
export interface UploadJwks {
  keys: UploadJwk[];
  endorsements?: UploadKeyEndorsement[];
}

export const UPLOAD_KEY_ENDORSEMENT_ALGORITHM = { name: 'RSA-PSS', saltLength: 32 } as const;

/** What an endorsement signs: a fixed context and the endorsed key's thumbprint. */
export function uploadKeyEndorsementMessage(thumbprint: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`xray upload-key endorsement v1\n${thumbprint}`);
}

/** RFC 7638 SHA-256 thumbprint (base64url) of an RSA public key. */
export async function rsaJwkThumbprint(jwk: { n: string; e: string }): Promise<string> {
  const canonical = JSON.stringify({ e: jwk.e, kty: 'RSA', n: jwk.n });
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(canonical)));
  let binary = '';
  for (const b of digest) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}
