import { once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** One request as the proxy saw it. */
export interface ProxiedRequest {
  method: string;
  path: string;
  /** The tus Upload-Metadata `id` of a creation (POST /uploads): the capture's id. */
  createsId?: string;
  startedAt: number;
  /** Body bytes received from the page (what went over the page's uplink). */
  bodyBytes: number;
  /** Held: the body was read, nothing was forwarded, no answer was ever sent. */
  held: boolean;
  status?: number;
  /** The Location of a creation's answer: the path its PATCHes go to. */
  location?: string;
  /** X-Xray-Id of the answer: the response that says the X-ray was created. */
  xrayId?: string;
  answeredAt?: number;
}

/**
 * The page's uplink, between the browser and the sync server: every request goes through it
 * (serve the page from `url`, so the app's origin is the proxy and tus' Location points here).
 * It can throttle the request bodies of all requests together (one shared uplink, like a cell
 * modem), and hold a request: read its body, forward nothing and never answer (a tunnel, a
 * handover). It logs each request, with the bytes the page sent.
 */
export class UplinkProxy {
  readonly log: ProxiedRequest[] = [];
  /** Uplink rate in bytes per second for request bodies; undefined: as fast as it goes. */
  rate: number | undefined;
  /** Returns true for a request to hold. */
  hold: ((req: IncomingMessage) => boolean) | undefined;
  #nextFree = 0;
  readonly #sockets = new Set<Socket>();
  readonly #server: http.Server;
  readonly #upstream: URL;
  url = '';

  constructor(upstream: string) {
    this.#upstream = new URL(upstream);
    this.#server = http.createServer((req, res) => {
      void this.#handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(502);
        res.destroy();
      });
    });
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  async start(): Promise<this> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Body bytes of the PATCH requests the page sent since entry `from` of the log. */
  patchBytes(from = 0): number {
    return this.log
      .slice(from)
      .filter((r) => r.method === 'PATCH')
      .reduce((n, r) => n + r.bodyBytes, 0);
  }

  /** The path of the tus upload created for capture `id`. */
  uploadPathOf(id: string): string | undefined {
    return this.log.find((r) => r.createsId === id && r.location)?.location;
  }

  /** Waits its turn on the shared uplink for `n` bytes. */
  async #throttle(n: number): Promise<void> {
    if (!this.rate) return;
    const now = Date.now();
    this.#nextFree = Math.max(now, this.#nextFree) + (1000 * n) / this.rate;
    const wait = this.#nextFree - now;
    if (wait > 1) await sleep(wait);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const entry: ProxiedRequest = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      startedAt: Date.now(),
      bodyBytes: 0,
      held: false,
    };
    const meta = req.headers['upload-metadata'];
    if (req.method === 'POST' && typeof meta === 'string') {
      const pair = meta.split(',').find((p) => p.trim().startsWith('id '));
      if (pair) entry.createsId = Buffer.from(pair.trim().slice(3), 'base64').toString('utf8');
    }
    this.log.push(entry);

    if (this.hold?.(req)) {
      entry.held = true;
      for await (const chunk of req) entry.bodyBytes += (chunk as Buffer).length;
      return; // never forwarded, never answered: the socket stays open until the page gives up
    }

    const upstream = http.request({
      host: this.#upstream.hostname,
      port: this.#upstream.port,
      method: req.method,
      path: req.url,
      // Host stays the proxy's: the server builds tus Location URLs from it.
      headers: req.headers,
    });
    const answered = new Promise<void>((resolve, reject) => {
      upstream.once('error', reject);
      upstream.once('response', (up) => {
        entry.status = up.statusCode;
        const xrayId = up.headers['x-xray-id'];
        if (typeof xrayId === 'string') entry.xrayId = xrayId;
        if (up.headers.location) entry.location = new URL(up.headers.location, this.url).pathname;
        entry.answeredAt = Date.now();
        res.writeHead(up.statusCode ?? 502, up.rawHeaders);
        up.pipe(res);
        up.once('end', resolve);
        up.once('error', reject);
      });
    });
    // The page went away (an abort): drop the upstream request too, as a cut connection would.
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    answered.catch(() => undefined);
    const SLICE = 16 * 1024;
    try {
      for await (const chunk of req) {
        const buf = chunk as Buffer;
        for (let at = 0; at < buf.length; at += SLICE) {
          const part = buf.subarray(at, at + SLICE);
          await this.#throttle(part.length);
          entry.bodyBytes += part.length;
          if (!upstream.write(part)) await once(upstream, 'drain');
        }
      }
    } catch (err) {
      upstream.destroy();
      throw err;
    }
    upstream.end();
    await answered;
  }
}
