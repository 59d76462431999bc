import http from 'node:http';

/**
 * One plain node:http client for every contender (the sync server, the bare Node server and
 * Orthanc), so client overhead is the same on each side of a ratio. Keep-alive like a real client.
 */
export const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Written one after the other (no copy); Content-Length is their total. */
  body?: readonly Uint8Array[];
}

function send(
  url: string,
  opts: RequestOptions,
  onResponse: (res: http.IncomingMessage) => void,
  reject: (e: Error) => void,
) {
  const parts = opts.body ?? [];
  const length = parts.reduce((n, p) => n + p.length, 0);
  const req = http.request(url, {
    method: opts.method ?? 'GET',
    agent,
    headers: { ...(opts.body ? { 'content-length': String(length) } : {}), ...opts.headers },
  });
  req.on('error', reject);
  req.on('response', onResponse);
  // Write with backpressure so a slow receiver sees the body at its own pace.
  const write = (i: number): void => {
    if (i >= parts.length) {
      req.end();
      return;
    }
    const part = parts[i];
    if (part === undefined || req.write(part)) write(i + 1);
    else req.once('drain', () => write(i + 1));
  };
  write(0);
}

/** A request whose response body is read whole (small bodies: JSON, status lines). */
export function request(url: string, opts: RequestOptions = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    send(
      url,
      opts,
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
      reject,
    );
  });
}

/** A request whose response body is counted and dropped (downloads). */
export function fetchCounting(
  url: string,
  opts: RequestOptions = {},
): Promise<{ status: number; bytes: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    send(
      url,
      opts,
      (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, headers: res.headers }));
      },
      reject,
    );
  });
}

export function expectStatus(what: string, res: HttpResult, ...ok: number[]): HttpResult {
  if (!ok.includes(res.status))
    throw new Error(
      `${what}: HTTP ${res.status} (expected ${ok.join('/')}): ${res.body.toString('utf8').slice(0, 500)}`,
    );
  return res;
}

export function json<T>(res: HttpResult): T {
  return JSON.parse(res.body.toString('utf8')) as T;
}

export const basicAuth = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Polls until `probe` resolves true, or fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
