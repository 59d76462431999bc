import { once } from 'node:events';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider, { errors, type Configuration, type Interaction } from 'oidc-provider';
import type { Logger } from '../observability/logger.ts';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from '../storage/private-files.ts';
import { DEMO_USERS, isDemoUserName, userBySub, type DemoUserName } from './demo-users.ts';
import { DEV_CLIENT_ID, signInAsDemoUser } from './dev-login.client.ts';

/**
 * A development OIDC issuer (oidc-provider) so the service runs with real tokens and no outside
 * identity provider: demo users, one public client for the edge app (authorization code + PKCE),
 * JWT access tokens for the API audience. Only ever started in development and by tests; in
 * production the config guard requires OIDC_ISSUER and this module is never imported.
 */

export interface DevIssuerOptions {
  /** 0 picks a free port. */
  port: number;
  host?: string;
  /** Signing and cookie keys are kept in DATA_DIR/dev-oidc so tokens survive restarts. */
  dataDir: string;
  /** `aud` of the access tokens (the sync server's OIDC_AUDIENCE). */
  audience: string;
  /** Where the roles go in the access token (OIDC_ROLES_CLAIM split on dots); default top-level `roles`. */
  rolesClaim?: string[];
  accessTokenTtlS?: number;
  log?: Logger;
}

export interface DevIssuer {
  /** The issuer identifier (http://127.0.0.1:<port>), what OIDC_ISSUER is set to. */
  issuer: string;
  port: number;
  /** A real access token for a demo user, through the authorization code + PKCE flow over HTTP. */
  mintToken(user: DemoUserName): Promise<string>;
  /** Adds a new signing key and signs with it from now on; older keys stay published. Returns its kid. */
  rotateKeys(): Promise<string>;
  /** Key ids in the published key set, newest (the one signing) first. */
  keyIds(): string[];
  /** How many times the key set (JWKS) was fetched: shows that verifiers cache it. */
  jwksFetches(): number;
  stop(): Promise<void>;
}

interface StoredKeys {
  /** Private signing JWKs, newest first: the first one signs. */
  signing: JWK[];
  cookieKeys: string[];
}

const keysFile = (dataDir: string): string => path.join(dataDir, 'dev-oidc', 'keys.json');

async function newSigningKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: 'RS256', use: 'sig' };
}

function isStoredKeys(v: unknown): v is StoredKeys {
  if (typeof v !== 'object' || v === null) return false;
  const signing: unknown = Reflect.get(v, 'signing');
  const cookieKeys: unknown = Reflect.get(v, 'cookieKeys');
  return (
    Array.isArray(signing) &&
    signing.length > 0 &&
    signing.every((k) => typeof k === 'object' && k !== null && typeof Reflect.get(k, 'kid') === 'string') &&
    Array.isArray(cookieKeys) &&
    cookieKeys.every((k) => typeof k === 'string')
  );
}

/** The development issuer's private keys (tests use them to sign tokens the issuer would never issue). */
export async function loadDevKeys(dataDir: string): Promise<StoredKeys | undefined> {
  try {
    const parsed: unknown = JSON.parse(await readFile(keysFile(dataDir), 'utf8'));
    return isStoredKeys(parsed) ? parsed : undefined;
  } catch (err) {
    if (err instanceof Error && Reflect.get(err, 'code') === 'ENOENT') return undefined;
    throw err;
  }
}

async function saveDevKeys(dataDir: string, keys: StoredKeys): Promise<void> {
  const file = keysFile(dataDir);
  await ensurePrivateDir(path.dirname(file));
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(keys, null, 2), { mode: PRIVATE_FILE_MODE });
  await rename(tmp, file);
}

async function loadOrCreateKeys(dataDir: string): Promise<StoredKeys> {
  const existing = await loadDevKeys(dataDir);
  if (existing) return existing;
  const { randomBytes } = await import('node:crypto');
  const keys = { signing: [await newSigningKey()], cookieKeys: [randomBytes(32).toString('base64url')] };
  await saveDevKeys(dataDir, keys);
  return keys;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
/** Any http loopback URL: the Vite dev server (localhost:5173) and Electron's RFC 8252 loopback redirect. */
const isLoopbackHttp = (value: string): boolean => {
  const u = URL.parse(value);
  return u !== null && u.protocol === 'http:' && LOOPBACK.has(u.hostname) && !value.includes('#');
};

/** Puts `value` at `pathParts` inside a fresh object: ['realm_access','roles'] → { realm_access: { roles } }. */
function nest(pathParts: string[], value: unknown): Record<string, unknown> {
  const [head, ...rest] = pathParts;
  if (!head) return {};
  return { [head]: rest.length ? nest(rest, value) : value };
}

const html = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

function loginPage(uid: string, clientId: string): string {
  const buttons = Object.entries(DEMO_USERS)
    .map(
      ([login, u]) =>
        `<button type="submit" name="user" value="${html(login)}"><b>${html(u.name)}</b><br><small>${html(login)} · ${html(u.roles.join(', '))}</small></button>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>X-ray Service – development sign-in</title>
<style>body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem}
button{display:block;width:100%;margin:.5rem 0;padding:.75rem;text-align:left;font-size:1rem;cursor:pointer}
p.note{color:#a00}</style></head>
<body><h1>Development sign-in</h1>
<p>Signing in to <code>${html(clientId)}</code>. Pick a demo user.</p>
<p class="note">Development issuer: no passwords. Never used in production.</p>
<form method="post" action="/interaction/${html(uid)}/login">
${buttons}
</form>
<p><a href="/interaction/${html(uid)}/abort">Cancel</a></p>
</body></html>`;
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += b.length;
    if (size > 16 * 1024) throw new Error('form too large');
    chunks.push(b);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

const stringList = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

export async function startDevIssuer(opts: DevIssuerOptions): Promise<DevIssuer> {
  const host = opts.host ?? '127.0.0.1';
  const rolesClaim = opts.rolesClaim?.length ? opts.rolesClaim : ['roles'];
  // The resource indicator must be an absolute URI (RFC 8707); the audience need not be one.
  const resource = URL.canParse(opts.audience) ? opts.audience : `urn:xray-service:${opts.audience}`;
  let keys = await loadOrCreateKeys(opts.dataDir);
  let jwksFetches = 0;

  const http = createServer();
  http.listen(opts.port, host);
  await once(http, 'listening');
  const address = http.address();
  if (!address || typeof address === 'string') throw new Error('dev OIDC issuer: no TCP address');
  const { port } = address;
  const issuer = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const configuration = (): Configuration => ({
    clients: [
      {
        client_id: DEV_CLIENT_ID,
        client_name: 'X-ray edge app',
        // native: RFC 8252 loopback redirects on any port (Electron); the web app at localhost:5173 too.
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: ['http://127.0.0.1/callback', 'http://localhost:5173/callback'],
      },
    ],
    jwks: { keys: keys.signing },
    cookies: { keys: keys.cookieKeys },
    scopes: ['openid', 'profile', 'offline_access'],
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'] },
    pkce: { required: () => true },
    ttl: {
      AccessToken: opts.accessTokenTtlS ?? 3600,
      IdToken: 3600,
      Interaction: 15 * 60,
      Session: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
      RefreshToken: 14 * 24 * 3600,
      AuthorizationCode: 60,
    },
    findAccount: (_ctx, sub) => {
      const found = userBySub(sub);
      if (!found) return undefined;
      return {
        accountId: sub,
        claims: () => ({ sub, name: found.user.name, preferred_username: found.login }),
      };
    },
    // Roles and names go into the JWT access token, where the API reads them.
    extraTokenClaims: (_ctx, token) => {
      const found = 'accountId' in token && token.accountId ? userBySub(token.accountId) : undefined;
      if (!found) return undefined;
      return {
        name: found.user.name,
        preferred_username: found.login,
        ...nest(rolesClaim, [...found.user.roles]),
      };
    },
    features: {
      devInteractions: { enabled: false },
      // Device-bound tokens (RFC 9449): a token request with a DPoP proof gets a token whose
      // cnf.jkt names the proof's key (and, for this public client, a refresh token bound to it).
      dPoP: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator) => {
          if (indicator !== resource) throw new errors.InvalidTarget();
          return {
            scope: 'xrays',
            audience: opts.audience,
            accessTokenFormat: 'jwt',
            accessTokenTTL: opts.accessTokenTtlS ?? 3600,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    clientBasedCORS: (_ctx, origin, client) => client.clientId === DEV_CLIENT_ID && isLoopbackHttp(origin),
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    renderError: (ctx, out) => {
      ctx.type = 'html';
      ctx.body = `<!doctype html><title>Sign-in error</title><h1>Sign-in error</h1><pre>${html(JSON.stringify(out, null, 2))}</pre>`;
    },
  });

  const build = (): Provider => {
    const p = new Provider(issuer, configuration());
    const allowed = p.Client.prototype.redirectUriAllowed;
    // Any loopback http redirect for the dev client (edge web app on any path, Electron on any port).
    p.Client.prototype.redirectUriAllowed = function (value: string): boolean {
      return allowed.call(this, value) || (this.clientId === DEV_CLIENT_ID && isLoopbackHttp(value));
    };
    p.on('server_error', (_ctx, err) => opts.log?.error({ err }, 'dev OIDC issuer error'));
    return p;
  };
  let provider = build();
  let handle = provider.callback();

  /** Consent is implied for the dev client: grant what the provider says is missing and go on. */
  async function grantConsent(req: IncomingMessage, res: ServerResponse, details: Interaction): Promise<void> {
    const accountId = details.session?.accountId;
    const clientId = details.params.client_id;
    if (!accountId || typeof clientId !== 'string') throw new Error('consent without a signed-in user');
    const grant = details.grantId
      ? ((await provider.Grant.find(details.grantId)) ?? new provider.Grant({ accountId, clientId }))
      : new provider.Grant({ accountId, clientId });
    const d = details.prompt.details;
    const scopes = stringList(d.missingOIDCScope);
    if (scopes.length) grant.addOIDCScope(scopes.join(' '));
    const claims = stringList(d.missingOIDCClaims);
    if (claims.length) grant.addOIDCClaims(claims);
    const missingResources: unknown = d.missingResourceScopes;
    if (typeof missingResources === 'object' && missingResources !== null) {
      for (const [indicator, list] of Object.entries(missingResources))
        grant.addResourceScope(indicator, stringList(list).join(' '));
    }
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  async function interaction(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const m = /^\/interaction\/([A-Za-z0-9_-]+)(\/login|\/abort)?$/.exec(url.pathname);
    if (!m) return false;
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== m[1]) throw new Error('interaction mismatch');
    const clientId = typeof details.params.client_id === 'string' ? details.params.client_id : '';
    if (m[2] === '/abort') {
      await provider.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'The user cancelled the sign-in.' },
        { mergeWithLastSubmission: false },
      );
    } else if (m[2] === '/login' && req.method === 'POST') {
      const login = (await readForm(req)).get('user');
      if (!isDemoUserName(login) || details.prompt.name !== 'login') {
        res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' }).end(loginPage(details.uid, clientId));
        return true;
      }
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: DEMO_USERS[login].sub } },
        { mergeWithLastSubmission: false },
      );
    } else if (details.prompt.name === 'consent') {
      await grantConsent(req, res, details);
    } else {
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
        .end(loginPage(details.uid, clientId));
    }
    return true;
  }

  http.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', issuer);
    if (url.pathname === '/jwks') jwksFetches++;
    interaction(req, res, url)
      .then((handled) => {
        if (!handled) void handle(req, res);
      })
      .catch((err: unknown) => {
        opts.log?.warn({ err }, 'dev OIDC interaction failed');
        if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain' });
        res.end(`Sign-in failed: ${err instanceof Error ? err.message : String(err)}. Start again from the app.`);
      });
  });

  return {
    issuer,
    port,
    mintToken: (user) => signInAsDemoUser({ issuer, user }),
    async rotateKeys() {
      const key = await newSigningKey();
      keys = { ...keys, signing: [key, ...keys.signing] };
      await saveDevKeys(opts.dataDir, keys);
      // The keystore is fixed per Provider: build a new one (sessions live in the shared memory adapter).
      provider = build();
      handle = provider.callback();
      return String(key.kid);
    },
    keyIds: () => keys.signing.map((k) => String(k.kid)),
    jwksFetches: () => jwksFetches,
    async stop() {
      http.close();
      http.closeAllConnections();
      await once(http, 'close').catch(() => undefined);
    },
  };
}
