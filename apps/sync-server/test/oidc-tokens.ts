import { createHmac } from 'node:crypto';
import { exportSPKI, generateKeyPair, importJWK, SignJWT, UnsecuredJWT, type JWK, type JWTPayload } from 'jose';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadDevKeys, startDevIssuer } from '../src/dev/oidc-issuer.ts';

/**
 * Tokens the development issuer would never issue, made with its real private key (or on purpose
 * without it), to show the API refuses each for the right reason.
 */
export interface TokenForge {
  /**
   * Signed with the issuer's current key; claims default to a valid doctor token, the header to
   * `typ: at+jwt` (`typ: null` leaves it out).
   */
  signed(claims?: JWTPayload, header?: { kid?: string; typ?: string | null }): Promise<string>;
  /** alg "none": no signature at all. */
  unsigned(claims?: JWTPayload): string;
  /** HS256 with the issuer's PUBLIC key as the HMAC secret (the classic RS256→HS256 confusion). */
  hs256WithPublicKey(claims?: JWTPayload): Promise<string>;
  /** Signed with a fresh key the issuer never published, under an unknown kid. */
  unknownKey(claims?: JWTPayload, kid?: string): Promise<string>;
}

const now = () => Math.floor(Date.now() / 1000);
const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

export async function tokenForge(opts: { dataDir: string; issuer: string; audience: string }): Promise<TokenForge> {
  const valid = (over: JWTPayload = {}): JWTPayload => ({
    iss: opts.issuer,
    aud: opts.audience,
    sub: 'demo-doctor',
    name: 'Dana Doctor',
    roles: ['doctor'],
    iat: now(),
    exp: now() + 300,
    ...over,
  });
  const current = async (): Promise<JWK> => {
    const keys = await loadDevKeys(opts.dataDir);
    const [jwk] = keys?.signing ?? [];
    if (!jwk) throw new Error('the dev issuer has no keys yet');
    return jwk;
  };
  const publicPem = async (): Promise<string> => {
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = await current();
    const key = await importJWK({ ...pub, alg: 'RS256' }, 'RS256', { extractable: true });
    if (key instanceof Uint8Array) throw new Error('expected an RSA public key');
    return exportSPKI(key);
  };
  /** One key the issuer never published, made once (RSA key generation is slow). */
  let stray: CryptoKey | undefined;
  return {
    async signed(claims, header) {
      const jwk = await current();
      const key = await importJWK(jwk, 'RS256');
      // Claims are set as given (`{ exp: undefined }` leaves exp out), not through SignJWT's helpers.
      const typ = header?.typ === undefined ? 'at+jwt' : header.typ;
      return new SignJWT(valid(claims))
        .setProtectedHeader({ alg: 'RS256', ...(typ === null ? {} : { typ }), kid: header?.kid ?? String(jwk.kid) })
        .sign(key);
    },
    unsigned(claims) {
      return new UnsecuredJWT(valid(claims)).encode();
    },
    async hs256WithPublicKey(claims) {
      const jwk = await current();
      const input = `${b64url({ alg: 'HS256', typ: 'JWT', kid: jwk.kid })}.${b64url(valid(claims))}`;
      const mac = createHmac('sha256', await publicPem())
        .update(input)
        .digest('base64url');
      return `${input}.${mac}`;
    },
    async unknownKey(claims, kid = 'not-a-published-kid') {
      stray ??= (await generateKeyPair('RS256')).privateKey;
      const privateKey = stray;
      return new SignJWT(valid(claims)).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid }).sign(privateKey);
    },
  };
}

/** The people the door tests act as: the demo users, and a token that carries no role. */
export type Person = 'owner' | 'other' | 'doctor' | 'admin' | 'noRole';
export const SUBJECTS: Record<Person, string> = {
  owner: 'demo-paramedic',
  other: 'demo-paramedic-2',
  doctor: 'demo-doctor',
  admin: 'demo-admin',
  noRole: 'no-role-user',
};

/** A real development issuer with a token for each person, and the env a server needs to trust it. */
export interface TestIssuer {
  issuer: string;
  dataDir: string;
  forge: TokenForge;
  tokens: Record<Person, string>;
  /** AUTH_DISABLED=false, OIDC_ISSUER, OIDC_AUDIENCE. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startTestIssuer(label: string, audience = 'xray-api'): Promise<TestIssuer> {
  const dataDir = await mkdtemp(path.join(tmpdir(), `xray-${label}-oidc-`));
  const dev = await startDevIssuer({ port: 0, dataDir, audience });
  const forge = await tokenForge({ dataDir, issuer: dev.issuer, audience });
  // Signed in through the issuer like a real user; the no-role token is forged with its key.
  const tokens: Record<Person, string> = {
    owner: await dev.mintToken('paramedic'),
    other: await dev.mintToken('paramedic2'),
    doctor: await dev.mintToken('doctor'),
    admin: await dev.mintToken('admin'),
    noRole: await forge.signed({ sub: SUBJECTS.noRole, roles: [], exp: now() + 3600 }),
  };
  return {
    issuer: dev.issuer,
    dataDir,
    forge,
    tokens,
    env: { AUTH_DISABLED: 'false', OIDC_ISSUER: dev.issuer, OIDC_AUDIENCE: audience },
    async stop() {
      await dev.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
