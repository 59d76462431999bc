import {
  allowInsecureRequests,
  authorizationCodeGrant,
  buildAuthorizationUrl,
  calculatePKCECodeChallenge,
  discovery,
  getDPoPHandle,
  None,
  randomPKCECodeVerifier,
  randomState,
  refreshTokenGrant,
  ResponseBodyError,
  type Configuration,
  type DPoPOptions,
  type TokenEndpointResponse,
  type TokenEndpointResponseHelpers,
} from 'openid-client';
import { isLoopbackUrl } from '../config/app-settings.ts';
import type { EdgeDb } from '../db/edge.db.ts';
import type { LoopbackSignIn } from '../shell/shell.api.ts';
import { clearSession, loadSession, saveSession, type StoredSession } from './token.vault.ts';

export interface AuthUser {
  sub: string;
  name: string;
}

/** What the banner shows: no one, someone, or someone whose sign-in the issuer no longer accepts. */
export type AuthState =
  | { status: 'signed-out' }
  | { status: 'signed-in'; user: AuthUser }
  | { status: 'expired'; user: AuthUser; reason: string };

/** Why a sign-in could not start or finish, in words for the person at the device. */
export class SignInError extends Error {
  override readonly name = 'SignInError';
}

export interface AuthSessionOptions {
  db: EdgeDb;
  /** The app's public client at the issuer. */
  clientId: string;
  /** The issuer the sync server trusts (from /edge-config); null while it is not known. */
  issuer: () => Promise<string | null>;
  /** Web: where the issuer sends the browser back (the app's own address). */
  redirectUri: string;
  /** Electron: the system browser and a loopback redirect (RFC 8252) instead of navigating away. */
  loopback?: LoopbackSignIn;
  /** Where the PKCE verifier waits while the browser is at the issuer (sessionStorage). */
  pending?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;
  navigate?: (url: string) => void;
  now?: () => number;
  /**
   * The device's DPoP key (RFC 9449): token requests prove it, so the issuer binds the access
   * (and refresh) tokens to it and a copied token is useless elsewhere. Unset: unbound tokens.
   */
  dpopKey?: () => Promise<CryptoKeyPair>;
}

const PENDING_KEY = 'xray-edge.sign-in';
/** Ask again this long before the access token runs out, so no upload starts with a dying one. */
const EXPIRY_MARGIN_MS = 60_000;
const SCOPE = 'openid profile offline_access';

interface PendingSignIn {
  issuer: string;
  verifier: string;
  state: string;
  redirectUri: string;
}

const isPending = (v: unknown): v is PendingSignIn =>
  typeof v === 'object' &&
  v !== null &&
  ['issuer', 'verifier', 'state', 'redirectUri'].every((k) => typeof Reflect.get(v, k) === 'string');

/**
 * Sign-in with OIDC authorization code + PKCE (openid-client) for a public client. The refresh
 * token is kept sealed (token.vault.ts); the access token lives in memory only and is renewed
 * when it is about to run out. Nothing here blocks capturing: without a token the sync engine
 * simply waits.
 */
export class AuthSession {
  readonly #o: AuthSessionOptions;
  #state: AuthState = { status: 'signed-out' };
  readonly #listeners = new Set<() => void>();
  #session: StoredSession | undefined;
  #access: { token: string; expiresAt: number } | undefined;
  #refreshing: Promise<string | null> | undefined;
  readonly #configs = new Map<string, Promise<Configuration>>();

  constructor(opts: AuthSessionOptions) {
    this.#o = opts;
  }

  get state(): AuthState {
    return this.#state;
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #set(state: AuthState): void {
    this.#state = state;
    for (const l of this.#listeners) l();
  }

  #now(): number {
    return this.#o.now?.() ?? Date.now();
  }

  /** Reads the sealed session from the device (no network). */
  async load(): Promise<void> {
    this.#session = await loadSession(this.#o.db);
    this.#set(this.#session ? { status: 'signed-in', user: userOf(this.#session) } : { status: 'signed-out' });
  }

  async #config(issuer: string): Promise<Configuration> {
    let config = this.#configs.get(issuer);
    if (!config) {
      const url = new URL(issuer);
      config = discovery(url, this.#o.clientId, undefined, None(), {
        // Plain HTTP only for an issuer on this machine (the development issuer).
        ...(url.protocol === 'http:' && isLoopbackUrl(url) ? { execute: [allowInsecureRequests] } : {}),
        timeout: 10,
      });
      this.#configs.set(issuer, config);
      config.catch(() => this.#configs.delete(issuer));
    }
    return config;
  }

  async #issuer(): Promise<string> {
    const issuer = await this.#o.issuer();
    if (!issuer)
      throw new SignInError('The server did not say where to sign in. Check the server address in Settings.');
    return issuer;
  }

  /**
   * Starts a sign-in. In the browser this leaves the page for the issuer (the app completes the
   * sign-in with `completeRedirect` when it is loaded again); in Electron it opens the system
   * browser and resolves once the sign-in is done.
   */
  async signIn(): Promise<void> {
    const issuer = await this.#issuer();
    let config: Configuration;
    try {
      config = await this.#config(issuer);
    } catch (cause) {
      throw new SignInError(`The sign-in service at ${issuer} cannot be reached. Try again when online.`, { cause });
    }
    const verifier = randomPKCECodeVerifier();
    const state = randomState();
    const redirectUri = this.#o.loopback ? (await this.#o.loopback.start()).redirectUri : this.#o.redirectUri;
    const url = buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: SCOPE,
      // A shared tablet: whoever signs in picks who they are; consent makes the issuer hand out
      // a refresh token (offline_access).
      prompt: 'login consent',
      code_challenge: await calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    const pending: PendingSignIn = { issuer, verifier, state, redirectUri };
    if (this.#o.loopback) {
      const callback = await this.#o.loopback.complete(url.href);
      await this.#finish(pending, new URL(callback));
      return;
    }
    this.#o.pending?.setItem(PENDING_KEY, JSON.stringify(pending));
    (this.#o.navigate ?? ((to: string) => globalThis.location.assign(to)))(url.href);
  }

  /**
   * The page was loaded at `url`: when it is the issuer's answer to our sign-in, finish it and
   * say so (the caller then removes the code from the address bar).
   */
  async completeRedirect(url: URL): Promise<boolean> {
    const params = url.searchParams;
    if (!params.has('state') || !(params.has('code') || params.has('error'))) return false;
    const raw = this.#o.pending?.getItem(PENDING_KEY);
    this.#o.pending?.removeItem(PENDING_KEY);
    let pending: unknown;
    try {
      pending = raw ? JSON.parse(raw) : undefined;
    } catch {
      pending = undefined;
    }
    if (!isPending(pending)) throw new SignInError('This sign-in was not started here or has expired. Sign in again.');
    await this.#finish(pending, url);
    return true;
  }

  async #finish(pending: PendingSignIn, callback: URL): Promise<void> {
    const error = callback.searchParams.get('error');
    if (error) {
      const description = callback.searchParams.get('error_description');
      throw new SignInError(description ? `Sign-in refused: ${description}` : `Sign-in refused (${error}).`);
    }
    let tokens: TokenEndpointResponse & TokenEndpointResponseHelpers;
    try {
      const config = await this.#config(pending.issuer);
      tokens = await authorizationCodeGrant(
        config,
        callback,
        { pkceCodeVerifier: pending.verifier, expectedState: pending.state },
        undefined,
        await this.#dpop(config),
      );
    } catch (cause) {
      throw new SignInError(`The sign-in could not be completed: ${messageOf(cause)}`, { cause });
    }
    const claims = tokens.claims();
    if (!claims) throw new SignInError('The sign-in answer had no ID token.');
    const name = typeof claims.name === 'string' ? claims.name : claims.sub;
    this.#remember(tokens);
    if (!tokens.refresh_token) {
      // Without a refresh token the session ends with the access token: keep it in memory only.
      this.#session = undefined;
      await clearSession(this.#o.db);
    } else {
      this.#session = { issuer: pending.issuer, refreshToken: tokens.refresh_token, sub: claims.sub, name };
      await saveSession(this.#o.db, this.#session);
    }
    this.#set({ status: 'signed-in', user: { sub: claims.sub, name } });
  }

  /** The DPoP handle for token requests (openid-client keeps the issuer's nonce per handle). */
  async #dpop(config: Configuration): Promise<DPoPOptions | undefined> {
    if (!this.#o.dpopKey) return undefined;
    return { DPoP: getDPoPHandle(config, await this.#o.dpopKey()) };
  }

  #remember(tokens: TokenEndpointResponse & TokenEndpointResponseHelpers): void {
    const expiresIn = tokens.expiresIn() ?? 300;
    this.#access = { token: tokens.access_token, expiresAt: this.#now() + expiresIn * 1000 };
  }

  /**
   * A valid access token, renewed with the refresh token when needed; null while there is none
   * (signed out, refused, or offline with an expired one): the sync engine then waits.
   */
  async getAccessToken(): Promise<string | null> {
    if (this.#access && this.#access.expiresAt - EXPIRY_MARGIN_MS > this.#now()) return this.#access.token;
    if (!this.#session) return null;
    this.#refreshing ??= this.#refresh().finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  /**
   * The server says `token` has expired (401 token_expired) though this device's clock still
   * thought it valid (clock skew): forget it, so the next getAccessToken refreshes.
   */
  expireAccessToken(token: string): void {
    if (this.#access?.token === token) this.#access = undefined;
  }

  async #refresh(): Promise<string | null> {
    const session = this.#session;
    if (!session) return null;
    if (globalThis.navigator?.onLine === false) return null;
    try {
      const config = await this.#config(session.issuer);
      const tokens = await refreshTokenGrant(config, session.refreshToken, undefined, await this.#dpop(config));
      // Someone signed in (or out) meanwhile: this answer belongs to the previous person's session
      // and must not replace the new one (a shared tablet would upload as the previous user).
      if (this.#session !== session) return this.#access?.token ?? null;
      this.#remember(tokens);
      if (tokens.refresh_token && tokens.refresh_token !== session.refreshToken) {
        // Rotated: the old one is spent.
        this.#session = { ...session, refreshToken: tokens.refresh_token };
        await saveSession(this.#o.db, this.#session);
      }
      if (this.#state.status !== 'signed-in') this.#set({ status: 'signed-in', user: userOf(session) });
      return tokens.access_token;
    } catch (err) {
      if (this.#session !== session) return this.#access?.token ?? null;
      if (err instanceof ResponseBodyError && err.error === 'invalid_grant') {
        // The issuer ended the session (expired, revoked): a person must sign in again.
        this.#session = undefined;
        this.#access = undefined;
        await clearSession(this.#o.db);
        this.#set({ status: 'expired', user: userOf(session), reason: 'The sign-in has expired.' });
      }
      // Anything else (no network, issuer down): keep the session and try again later.
      return null;
    }
  }

  /** Forgets the tokens on this device. Queued captures stay and wait for the next sign-in. */
  async signOut(): Promise<void> {
    this.#session = undefined;
    this.#access = undefined;
    await clearSession(this.#o.db);
    this.#set({ status: 'signed-out' });
  }
}

const userOf = (s: StoredSession): AuthUser => ({ sub: s.sub, name: s.name });
const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));
