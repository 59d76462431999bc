import { createHash, randomUUID } from 'node:crypto';

/**
 * The headers that authenticate one request to the sync server. A paramedic's are a DPoP-bound
 * token and a fresh proof for this method and URL (RFC 9449), made per request as the edge app
 * makes them (apps/edge/src/auth/server.authorizer.ts); a doctor's or an admin's a bearer token.
 */
export type Authorize = (method: string, url: string) => Promise<Record<string, string>>;

export const bearer =
  (token: string): Authorize =>
  () =>
    Promise.resolve({ authorization: `Bearer ${token}` });

const b64url = (bytes: Uint8Array | string): string => Buffer.from(bytes).toString('base64url');

/** An edge device's DPoP key: ES256, its private half not extractable (as in the browser). */
export class DeviceKey {
  readonly pair: CryptoKeyPair;
  readonly #header: string;

  private constructor(pair: CryptoKeyPair, publicJwk: JsonWebKey) {
    this.pair = pair;
    const { kty, crv, x, y } = publicJwk;
    this.#header = b64url(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } }));
  }

  static async generate(): Promise<DeviceKey> {
    const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
    return new DeviceKey(pair, await crypto.subtle.exportKey('jwk', pair.publicKey));
  }

  /** A DPoP proof (RFC 9449 §4.2) for one request made with `accessToken`. */
  async proof(method: string, url: string, accessToken: string): Promise<string> {
    const htu = new URL(url);
    // htu is the URL without query and fragment.
    htu.search = '';
    htu.hash = '';
    const payload = {
      htm: method.toUpperCase(),
      htu: htu.href,
      iat: Math.floor(Date.now() / 1000),
      jti: randomUUID(),
      ath: createHash('sha256').update(accessToken).digest('base64url'),
    };
    const input = `${this.#header}.${b64url(JSON.stringify(payload))}`;
    // WebCrypto's ECDSA signature is r ‖ s, the JWS encoding of ES256.
    const signature = await crypto.subtle.sign(
      { name: 'ECDSA', hash: 'SHA-256' },
      this.pair.privateKey,
      Buffer.from(input),
    );
    return `${input}.${b64url(new Uint8Array(signature))}`;
  }

  /** `Authorization: DPoP <token>` and a fresh proof on every request. */
  authorizer(accessToken: string): Authorize {
    return async (method, url) => ({
      authorization: `DPoP ${accessToken}`,
      dpop: await this.proof(method, url, accessToken),
    });
  }
}
