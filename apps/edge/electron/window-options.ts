/**
 * The main window's options and the app's Content-Security-Policy, as plain values (no electron
 * import) so the security settings are tested in Node and main.ts only passes them on.
 */
export function mainWindowOptions(preload: string) {
  return {
    width: 1280,
    height: 800,
    minWidth: 1024,
    minHeight: 700,
    backgroundColor: '#f4f6f8',
    autoHideMenuBar: true,
    show: false,
    title: 'X-ray capture',
    webPreferences: {
      preload,
      // The renderer is a web page: no Node.js, its own JavaScript world, the Chromium sandbox.
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      spellcheck: false,
    },
  } as const;
}

/**
 * Applied to the app's responses when the server sent no policy of its own (the sync server
 * sends a stricter one naming its issuer and Patient Service): own scripts and styles only,
 * no eval, no plugins, no framing.
 */
export const BASELINE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob:",
  "connect-src 'self' https: http://127.0.0.1:* http://localhost:*",
  "worker-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export type ResponseHeaders = Record<string, string | string[]>;

/** The response headers with `policy` as Content-Security-Policy unless they carry one already. */
export function withContentSecurityPolicy(headers: ResponseHeaders | undefined, policy: string): ResponseHeaders {
  const out: ResponseHeaders = { ...headers };
  const has = Object.keys(out).some((k) => k.toLowerCase() === 'content-security-policy');
  if (!has) out['Content-Security-Policy'] = [policy];
  return out;
}
