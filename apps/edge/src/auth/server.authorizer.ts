import { generateProof } from 'dpop';

/**
 * The headers that authenticate one request to the sync server: the one place every client of
 * the server (tus uploads, REST lookups, enrollment, the wipe report) gets them from.
 *
 * A token bound to the device key (`cnf.jkt`) goes as `Authorization: DPoP <token>` with a fresh
 * proof (RFC 9449) for this method and URL; an unbound token (an issuer that does not bind) as a
 * bearer token.
 */
export type ServerAuthorizer = (token: string, method: string, url: string) => Promise<Record<string, string>>;

/**
 * The app's REST clients (roster, sent links) ask with the signed-in person's token already
 * chosen (main.tsx): the headers, or null when no one is signed in or the device is locked.
 */
export type AuthorizeRequest = (method: string, url: string) => Promise<Record<string, string> | null>;

/** Plain bearer tokens (tests and tools that have no device key). */
export const bearerAuthorizer: ServerAuthorizer = async (token) => ({ Authorization: `Bearer ${token}` });

export function createServerAuthorizer(dpopKey: () => Promise<CryptoKeyPair>): ServerAuthorizer {
  return async (token, method, url) => {
    if (!isBound(token)) return bearerAuthorizer(token, method, url);
    const htu = new URL(url);
    // RFC 9449 §4.2: htu is the URL without query and fragment.
    htu.search = '';
    htu.hash = '';
    const proof = await generateProof(await dpopKey(), htu.href, method.toUpperCase(), undefined, token);
    return { Authorization: `DPoP ${token}`, DPoP: proof };
  };
}

/** Whether a JWT access token names a key it is bound to (`cnf.jkt`); an opaque token is not. */
export function isBound(token: string): boolean {
  const payload = token.split('.')[1];
  if (!payload) return false;
  try {
    const json: unknown = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/')));
    const cnf: unknown = typeof json === 'object' && json !== null ? Reflect.get(json, 'cnf') : undefined;
    return typeof cnf === 'object' && cnf !== null && typeof Reflect.get(cnf, 'jkt') === 'string';
  } catch {
    return false;
  }
}
