import { describe, expect, it } from 'vitest';
import { LoopbackTimeoutError, startLoopbackListener } from './loopback-login.ts';

describe('loopback sign-in listener (RFC 8252)', () => {
  it('listens on 127.0.0.1, resolves with the redirect the browser brings, then closes', async () => {
    const listener = await startLoopbackListener();
    expect(listener.redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    // What a browser does after the issuer's redirect: GET the redirect URI with the code.
    const stray = await fetch(new URL('/favicon.ico', listener.redirectUri));
    expect(stray.status).toBe(404);
    const res = await fetch(`${listener.redirectUri}?code=abc&state=xyz&iss=https%3A%2F%2Fidp.example`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('go back to the X-ray app');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await listener.callback).toBe(`${listener.redirectUri}?code=abc&state=xyz&iss=https%3A%2F%2Fidp.example`);
    // One shot: nothing listens any more.
    await expect(fetch(`${listener.redirectUri}?code=again&state=x`)).rejects.toThrow();
  });

  it('passes an error answer on (the app shows it) and ignores requests without code or error', async () => {
    const listener = await startLoopbackListener();
    expect((await fetch(listener.redirectUri)).status).toBe(404);
    const res = await fetch(`${listener.redirectUri}?error=access_denied&state=s`);
    expect(await res.text()).toContain('Sign-in not completed');
    expect(new URL(await listener.callback).searchParams.get('error')).toBe('access_denied');
  });

  it('gives up after the timeout and frees the port', async () => {
    const listener = await startLoopbackListener({ timeoutMs: 50 });
    await expect(listener.callback).rejects.toBeInstanceOf(LoopbackTimeoutError);
    await listener.close();
    await expect(fetch(`${listener.redirectUri}?code=late&state=s`)).rejects.toThrow();
  });
});
