import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuthSession } from './auth.session.ts';
import { loadSession, saveSession } from './token.vault.ts';
import { freshDb } from '../../test/fixtures.ts';

// The issuer, stubbed: discovery answers at once; the grants are driven by each test.
const grants = vi.hoisted(() => ({
  code: vi.fn<() => Promise<unknown>>(),
  refresh: vi.fn<(config: unknown, refreshToken: string) => Promise<unknown>>(),
}));
vi.mock('openid-client', async (importOriginal) => {
  const real = await importOriginal<typeof import('openid-client')>();
  return {
    ...real,
    discovery: vi.fn(async () => ({})),
    authorizationCodeGrant: grants.code,
    refreshTokenGrant: grants.refresh,
  };
});

const tokensFor = (sub: string, name: string, refreshToken: string) => ({
  access_token: `access-${sub}`,
  refresh_token: refreshToken,
  token_type: 'bearer',
  expiresIn: () => 300,
  claims: () => ({ sub, name }),
});

afterEach(() => vi.clearAllMocks());

describe('auth session on a shared tablet', () => {
  it('a refresh of the previous person’s session that answers after a new sign-in does not replace it', async () => {
    const db = await freshDb();
    // Dana Doctor was signed in on this device; the page comes back from the issuer with Pat's code.
    await saveSession(db, { issuer: 'https://idp.example', refreshToken: 'rt-dana', sub: 'demo-doctor', name: 'Dana' });
    const pending = new Map<string, string>();
    const auth = new AuthSession({
      db,
      clientId: 'xray-edge',
      issuer: async () => 'https://idp.example',
      redirectUri: 'https://edge.example/',
      pending: {
        getItem: (k) => pending.get(k) ?? null,
        setItem: (k, v) => void pending.set(k, v),
        removeItem: (k) => void pending.delete(k),
      },
      navigate: () => undefined,
    });
    await auth.load();
    // Pat's sign-in was started on this page (what signIn() leaves while the browser is at the issuer).
    const pendingSignIn = {
      issuer: 'https://idp.example',
      verifier: 'v',
      state: 's-pat',
      redirectUri: 'https://edge.example/',
    };
    pending.set('xray-edge.sign-in', JSON.stringify(pendingSignIn));

    // The queue wakes on load and asks for a token: a refresh of Dana's session starts...
    let answerRefresh: (v: unknown) => void = () => undefined;
    grants.refresh.mockImplementationOnce(() => new Promise((resolve) => (answerRefresh = resolve)));
    const early = auth.getAccessToken();
    await vi.waitFor(() => expect(grants.refresh).toHaveBeenCalledTimes(1));
    // ...while Pat's code exchange finishes first.
    grants.code.mockResolvedValueOnce(tokensFor('demo-paramedic', 'Pat', 'rt-pat'));
    expect(await auth.completeRedirect(new URL('https://edge.example/?code=c&state=s-pat'))).toBe(true);
    // Dana's refresh answers late (rotated refresh token).
    answerRefresh(tokensFor('demo-doctor', 'Dana', 'rt-dana-2'));

    expect(await early).toBe('access-demo-paramedic');
    expect(await auth.getAccessToken()).toBe('access-demo-paramedic');
    expect(auth.state).toEqual({ status: 'signed-in', user: { sub: 'demo-paramedic', name: 'Pat' } });
    expect(await loadSession(db)).toMatchObject({ sub: 'demo-paramedic', refreshToken: 'rt-pat' });
  });

  it('a token the server calls expired is forgotten and refreshed, though this clock still thinks it valid', async () => {
    const db = await freshDb();
    await saveSession(db, { issuer: 'https://idp.example', refreshToken: 'rt-1', sub: 'demo-paramedic', name: 'Pat' });
    const auth = new AuthSession({
      db,
      clientId: 'xray-edge',
      issuer: async () => 'https://idp.example',
      redirectUri: 'https://edge.example/',
      navigate: () => undefined,
    });
    await auth.load();
    grants.refresh.mockResolvedValueOnce({ ...tokensFor('demo-paramedic', 'Pat', 'rt-2'), access_token: 'first' });
    expect(await auth.getAccessToken()).toBe('first');
    // Cached while valid by this device's clock.
    expect(await auth.getAccessToken()).toBe('first');
    expect(grants.refresh).toHaveBeenCalledTimes(1);
    // Another token than the one held: nothing to forget.
    auth.expireAccessToken('someone-elses');
    expect(await auth.getAccessToken()).toBe('first');
    // The server said 401 token_expired for it (the device clock is behind): refreshed.
    grants.refresh.mockResolvedValueOnce({ ...tokensFor('demo-paramedic', 'Pat', 'rt-3'), access_token: 'second' });
    auth.expireAccessToken('first');
    expect(await auth.getAccessToken()).toBe('second');
    expect(grants.refresh).toHaveBeenCalledTimes(2);
  });
});
