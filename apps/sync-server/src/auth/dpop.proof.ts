import { createHash } from 'node:crypto';
import {
  calculateJwkThumbprint,
  decodeProtectedHeader,
  EmbeddedJWK,
  errors,
  jwtVerify,
  type JWK,
  type JWTHeaderParameters,
} from 'jose';
import { LRUCache } from 'lru-cache';
import type { JwtAlgorithm } from '../config/config.ts';
import { DomainError } from '../errors.ts';

/** What a verified DPoP proof (RFC 9449 §4) tells: the key that signed it and its one-time id. */
export interface VerifiedProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's public key (what `cnf.jkt` names). */
  jkt: string;
  /** The public key itself, as the proof carried it. */
  jwk: JWK;
  jti: string;
  /** Seconds since the epoch. */
  iat: number;
}

export interface ProofExpectation {
  /** The request's method. */
  method: string;
  /** The request's URL as the client addressed it; its query and fragment are ignored. */
  url: URL;
  /** The access token the proof must be for (`ath`); omitted only for a token request. */
  accessToken?: string;
  algorithms: JwtAlgorithm[];
  iatWindowS: number;
  now?: () => number;
}

const MAX_PROOF_CHARS = 8_192;
const MAX_JTI_CHARS = 256;
/** Members of a private key: a proof that carries one is refused (it would leak the key, too). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

const invalid = (why: string, cause?: unknown) =>
  new DomainError('dpop_invalid', `The DPoP proof is invalid: ${why}.`, undefined, { cause });

/**
 * A device signs every request with the same key: its import (and its thumbprint) are kept, by
 * the algorithm and the exact JWK the header carries, so a proof costs one WebCrypto call (the
 * signature) instead of three (import, verify, digest), each a hop through libuv's thread pool,
 * which uploads keep busy with file writes. A miss runs jose's own EmbeddedJWK checks; a key
 * refused is not kept.
 */
const embeddedKeys = new LRUCache<string, { key: Promise<CryptoKey>; jkt: Promise<string> }>({
  max: 1_000,
  // A proof may be 8 KiB, its key with it: bounded by size too.
  maxSize: 4 * 1024 * 1024,
  sizeCalculation: (_v, id) => id.length,
});

function embeddedKeyOf(header: JWTHeaderParameters): { key: Promise<CryptoKey>; jkt: Promise<string> } {
  const id = JSON.stringify([header.alg, header.jwk]);
  let entry = embeddedKeys.get(id);
  if (!entry) {
    const key = EmbeddedJWK(header, { payload: '', signature: '' }) as Promise<CryptoKey>;
    const jkt = calculateJwkThumbprint(header.jwk!, 'sha256');
    entry = { key, jkt };
    embeddedKeys.set(id, entry);
    const forget = () => {
      if (embeddedKeys.get(id) === entry) embeddedKeys.delete(id);
    };
    key.catch(forget);
    jkt.catch(forget);
  }
  return entry;
}

/** The URL without query and fragment, as RFC 9449 §4.3 compares `htu`. */
export function htuOf(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** base64url(SHA-256(access token)): the proof's `ath` (RFC 9449 §4.2). */
export const athOf = (accessToken: string): string => createHash('sha256').update(accessToken).digest('base64url');

/**
 * Verifies one DPoP proof JWT against the request it came with: `typ: dpop+jwt`, an allowed
 * asymmetric algorithm, a public `jwk` in the header that verifies the signature, `htm` and `htu`
 * naming this request, `iat` within the window, a `jti`, and `ath` the hash of the access token.
 * Replay (the same jti twice) is the caller's check: it needs state shared by every instance.
 */
export async function verifyDpopProof(proof: string, expect: ProofExpectation): Promise<VerifiedProof> {
  if (proof.length > MAX_PROOF_CHARS || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(proof))
    throw invalid('the DPoP header is not one compact JWS');
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch (cause) {
    throw invalid('its header cannot be read', cause);
  }
  const jwk = header.jwk;
  if (!jwk || typeof jwk !== 'object') throw invalid('its header carries no jwk');
  if (PRIVATE_MEMBERS.some((m) => m in jwk)) throw invalid('its jwk is a private or symmetric key');
  let payload: Record<string, unknown>;
  // The cache entry that verified the signature also gives the thumbprint: one lookup per proof.
  let embedded: ReturnType<typeof embeddedKeyOf> | undefined;
  try {
    ({ payload } = await jwtVerify(proof, (h) => (embedded = embeddedKeyOf(h)).key, {
      typ: 'dpop+jwt',
      algorithms: expect.algorithms,
    }));
  } catch (cause) {
    if (cause instanceof errors.JOSEAlgNotAllowed) throw invalid('its algorithm is not accepted', cause);
    if (cause instanceof errors.JWSSignatureVerificationFailed) throw invalid('its signature does not verify', cause);
    if (cause instanceof errors.JWTClaimValidationFailed && cause.claim === 'typ')
      throw invalid('its typ is not dpop+jwt', cause);
    throw invalid('it is malformed', cause);
  }
  const { htm, htu, iat, jti, ath } = payload;
  if (typeof htm !== 'string' || htm !== expect.method.toUpperCase())
    throw invalid(`it is for another method (htm), not ${expect.method.toUpperCase()}`);
  const claimed = typeof htu === 'string' ? URL.parse(htu) : null;
  if (!claimed || htuOf(claimed) !== htuOf(expect.url))
    throw invalid(`it is for another URL (htu), not ${htuOf(expect.url)}`);
  if (typeof iat !== 'number' || !Number.isFinite(iat)) throw invalid('it has no issue time (iat)');
  const now = (expect.now?.() ?? Date.now()) / 1000;
  if (Math.abs(now - iat) > expect.iatWindowS)
    throw invalid(`its issue time (iat) is more than ${expect.iatWindowS} s from the server's clock`);
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_CHARS) throw invalid('it has no valid jti');
  if (expect.accessToken !== undefined && ath !== athOf(expect.accessToken))
    throw invalid('it is for another access token (ath)');
  let jkt: string;
  try {
    jkt = await embedded!.jkt;
  } catch (cause) {
    // WebCrypto reads a member given as an array (["x"]) as its string; the thumbprint does not.
    throw invalid('its jwk is not a well-formed public key', cause);
  }
  return { jkt, jwk, jti, iat };
}
