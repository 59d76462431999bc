import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { listeningUrl } from '../http/public-url.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';

export interface MetricsListener {
  /** Base URL; Prometheus scrapes `${url}/metrics`. */
  url: string;
  stop(): Promise<void>;
}

/**
 * `GET /metrics` on a listener of its own (METRICS_HOST:METRICS_PORT), never on the API port: the
 * series name routes, error codes and volumes, which no one on the API's network needs to see.
 * Bind it to loopback or to the network Prometheus scrapes from. Nothing else is served here.
 */
export async function listenForMetrics(
  settings: { host: string; port: number },
  metrics: Metrics,
  log: Logger,
): Promise<MetricsListener> {
  const server: Server = createServer((req, res) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-store');
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not found: GET /metrics\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'Content-Type': metrics.registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        log.error({ err }, 'could not collect metrics');
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Metrics could not be collected.\n');
      },
    );
  });
  server.listen(settings.port, settings.host);
  await once(server, 'listening').catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EADDRINUSE') throw err;
    throw new Error(
      `the metrics listener cannot bind ${settings.host}:${settings.port}: in use; set METRICS_PORT to a free port (0: any), or off`,
      { cause: err },
    );
  });
  const { port } = server.address() as AddressInfo;
  const url = listeningUrl(settings.host, port);
  return {
    url,
    async stop() {
      server.close();
      server.closeAllConnections();
      await once(server, 'close').catch(() => undefined);
    },
  };
}
