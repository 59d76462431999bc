import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

/**
 * The receiving end of a native app's sign-in (RFC 8252 §7.3): a one-shot HTTP listener on the
 * loopback interface, on a port the OS picks. The system browser is sent to the issuer with
 * `redirectUri`; the issuer redirects it here with the code; `callback` resolves with that URL
 * and the listener closes. Nothing else is served.
 */
export interface LoopbackListener {
  /** http://127.0.0.1:<port>/callback */
  redirectUri: string;
  /** The full URL the browser was redirected to (with code and state, or error). */
  callback: Promise<string>;
  close(): Promise<void>;
}

export interface LoopbackOptions {
  /** Give up after this long (the person walked away from the browser). */
  timeoutMs?: number;
  path?: string;
}

const page = (title: string, text: string): string =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>` +
  `<body style="font-family:system-ui,sans-serif;font-size:20px;max-width:36rem;margin:3rem auto">` +
  `<h1>${title}</h1><p>${text}</p></body></html>`;

export class LoopbackTimeoutError extends Error {
  override readonly name = 'LoopbackTimeoutError';
}

export async function startLoopbackListener(opts: LoopbackOptions = {}): Promise<LoopbackListener> {
  const path = opts.path ?? '/callback';
  const server = createServer();
  // 127.0.0.1, not "localhost": RFC 8252 §8.3 (no DNS, no IPv6/IPv4 mix-up, no firewall prompt).
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('loopback listener has no TCP port');
  const redirectUri = `http://127.0.0.1:${address.port}${path}`;

  let settle: { resolve(url: string): void; reject(err: Error): void } | undefined;
  const callback = new Promise<string>((resolve, reject) => (settle = { resolve, reject }));
  // A listener nobody awaits yet must not crash the process on timeout.
  callback.catch(() => undefined);
  const timer = setTimeout(
    () => settle?.reject(new LoopbackTimeoutError('The sign-in was not completed in time.')),
    opts.timeoutMs ?? 5 * 60_000,
  );

  const close = async (): Promise<void> => {
    clearTimeout(timer);
    if (!server.listening) return;
    server.close();
    server.closeAllConnections();
    await once(server, 'close').catch(() => undefined);
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', redirectUri);
    const answer = url.searchParams.has('code') || url.searchParams.has('error');
    if (req.method !== 'GET' || url.pathname !== path || !answer) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found');
      return;
    }
    const failed = url.searchParams.has('error');
    res
      .writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
      })
      .end(
        failed
          ? page('Sign-in not completed', 'You can close this tab and try again in the X-ray app.')
          : page('Signed in', 'You can close this tab and go back to the X-ray app.'),
      );
    settle?.resolve(url.href);
    void close();
  });

  return { redirectUri, callback, close };
}
