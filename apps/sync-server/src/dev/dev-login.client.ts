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
} from 'openid-client';

/** The edge app's public client at the development issuer. */
export const DEV_CLIENT_ID = 'xray-edge';
/** A loopback redirect (RFC 8252): never listened on here, the code is read off the Location header. */
const REDIRECT_URI = 'http://127.0.0.1/callback';
const MAX_HOPS = 12;

/** Minimal cookie jar: the dev issuer's interaction and session cookies, sent back on every hop. */
class CookieJar {
  #cookies = new Map<string, string>();
  store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (expired) this.#cookies.delete(name);
      else this.#cookies.set(name, pair.slice(eq + 1).trim());
    }
  }
  header(): string {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/**
 * Signs in as a demo user at the development issuer and returns an access token, through the same
 * authorization code + PKCE flow the edge app uses — driven over HTTP instead of by a browser
 * (the login page is a form that posts the chosen user). No back door: the issuer has no
 * endpoint that hands out tokens without the flow.
 */
export async function signInAsDemoUser(opts: {
  issuer: string;
  user: string;
  /** Bind the token to this key pair (DPoP, RFC 9449), as the edge app does. */
  dpop?: CryptoKeyPair;
}): Promise<string> {
  const issuerUrl = new URL(opts.issuer);
  const oidc = await discovery(issuerUrl, DEV_CLIENT_ID, undefined, None(), {
    execute: issuerUrl.protocol === 'http:' ? [allowInsecureRequests] : [],
  });
  const verifier = randomPKCECodeVerifier();
  const state = randomState();
  const authUrl = buildAuthorizationUrl(oidc, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid profile',
    code_challenge: await calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });

  const jar = new CookieJar();
  let next: { url: URL; init: RequestInit } = { url: authUrl, init: {} };
  for (let hop = 0; hop < MAX_HOPS; hop++) {
    const res = await fetch(next.url, {
      ...next.init,
      redirect: 'manual',
      headers: { ...headersOf(next.init), cookie: jar.header() },
    });
    jar.store(res);
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel();
      const to = new URL(location, next.url);
      if (`${to.origin}${to.pathname}` === REDIRECT_URI) {
        const tokens = await authorizationCodeGrant(
          oidc,
          to,
          { pkceCodeVerifier: verifier, expectedState: state },
          undefined,
          opts.dpop ? { DPoP: getDPoPHandle(oidc, opts.dpop) } : undefined,
        );
        return tokens.access_token;
      }
      next = { url: to, init: {} };
      continue;
    }
    const body = await res.text();
    const interaction = /^\/interaction\/([A-Za-z0-9_-]+)$/.exec(next.url.pathname);
    if (res.status === 200 && interaction) {
      // The login page: pick the user, as a person would with a click.
      next = {
        url: new URL(`${next.url.pathname}/login`, next.url),
        init: {
          method: 'POST',
          body: new URLSearchParams({ user: opts.user }),
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        },
      };
      continue;
    }
    throw new Error(
      `sign-in as "${opts.user}" failed at ${next.url.pathname}: HTTP ${res.status} ${body
        .replace(/<[^>]+>/g, ' ')
        .replace(/\s+/g, ' ')
        .slice(0, 300)}`,
    );
  }
  throw new Error(`sign-in as "${opts.user}" did not finish after ${MAX_HOPS} redirects`);
}

function headersOf(init: RequestInit): Record<string, string> {
  const h = new Headers(init.headers);
  return Object.fromEntries(h.entries());
}
