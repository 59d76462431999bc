import { describe, expect, it } from 'vitest';
import { decideNavigation, isOpenableAuthorizationUrl, isTrustedSender } from './navigation.ts';
import { parseStoredShellConfig, resolveShellConfig } from './shell-config.ts';
import { BASELINE_CSP, mainWindowOptions, withContentSecurityPolicy } from './window-options.ts';

describe('main window', () => {
  it('runs the page without Node, isolated and sandboxed, at the tablet size', () => {
    const o = mainWindowOptions('/app/preload.cjs');
    expect(o.webPreferences).toMatchObject({
      preload: '/app/preload.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
    });
    expect([o.width, o.height]).toEqual([1280, 800]);
  });

  it('adds the baseline CSP only when the server sent none', () => {
    const added = withContentSecurityPolicy({ 'Content-Type': ['text/html'] }, BASELINE_CSP);
    expect(added['Content-Security-Policy']).toEqual([BASELINE_CSP]);
    expect(BASELINE_CSP).toContain("script-src 'self'");
    expect(BASELINE_CSP).not.toContain('unsafe-eval');
    const server = { 'content-security-policy': ["default-src 'self'; connect-src 'self' https://idp.example"] };
    expect(withContentSecurityPolicy(server, BASELINE_CSP)).toEqual(server);
  });
});

describe('navigation', () => {
  const app = 'https://xray.example.org';
  it('keeps the window on the app; https links go to the system browser; the rest is refused', () => {
    expect(decideNavigation('https://xray.example.org/?code=1', app)).toBe('allow');
    expect(decideNavigation('https://idp.example.org/authorize', app)).toBe('open-external');
    expect(decideNavigation('http://xray.example.org/', app)).toBe('deny');
    expect(decideNavigation('file:///etc/passwd', app)).toBe('deny');
    expect(decideNavigation('javascript:alert(1)', app)).toBe('deny');
    expect(decideNavigation('not a url', app)).toBe('deny');
  });
  it('answers IPC only from the app origin, opens only https (or local) sign-in pages', () => {
    expect(isTrustedSender('https://xray.example.org/index.html', app)).toBe(true);
    expect(isTrustedSender('https://evil.example/', app)).toBe(false);
    expect(isTrustedSender(undefined, app)).toBe(false);
    expect(isOpenableAuthorizationUrl('https://idp.example/auth?x=1')).toBe(true);
    expect(isOpenableAuthorizationUrl('http://127.0.0.1:8081/auth')).toBe(true);
    expect(isOpenableAuthorizationUrl('http://idp.example/auth')).toBe(false);
    expect(isOpenableAuthorizationUrl('file:///tmp/x')).toBe(false);
  });
});

describe('shell config', () => {
  it('takes the environment over what was stored, and requires HTTPS beyond this machine', () => {
    expect(resolveShellConfig({}, {})).toEqual({
      ok: true,
      config: { serverUrl: 'http://127.0.0.1:8080', watchDir: null },
    });
    expect(
      resolveShellConfig(
        { XRAY_SERVER_URL: 'https://xray.example.org/', XRAY_WATCH_DIR: '/media/detector' },
        { serverUrl: 'https://old.example.org', watchDir: '/old' },
      ),
    ).toEqual({ ok: true, config: { serverUrl: 'https://xray.example.org', watchDir: '/media/detector' } });
    const refused = resolveShellConfig({ XRAY_SERVER_URL: 'http://xray.example.org' }, {});
    expect(refused).toEqual({
      ok: false,
      message: 'The server address http://xray.example.org must use HTTPS (plain HTTP only for localhost).',
    });
    expect(parseStoredShellConfig({ serverUrl: 5, watchDir: '/x', other: true })).toEqual({ watchDir: '/x' });
    expect(parseStoredShellConfig('nonsense')).toEqual({});
  });
});
