import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SERVER_CONFIG, serverConfigSource } from './server-config.ts';

class MemoryStorage {
  readonly items = new Map<string, string>();
  getItem(k: string): string | null {
    return this.items.get(k) ?? null;
  }
  setItem(k: string, v: string): void {
    this.items.set(k, v);
  }
}

const config = {
  oidc: { issuer: 'https://idp.example', audience: 'xray-api' },
  patientServiceUrl: 'https://patients.example',
  maxUploadBytes: 500_000_000,
  // The hospital's assigning authority: kept with the rest, the wrong-patient hold needs it offline too.
  patientIdIssuer: 'HOSPITAL-A',
};

describe('server config (/edge-config)', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.close();
    if (server) await once(server, 'close');
  });

  it('is fetched, cached per server, and the cache stands while the server cannot be reached', async () => {
    server = createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(config)),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const storage = new MemoryStorage();
    const source = serverConfigSource({ serverUrl: url, storage });
    expect(source.current()).toEqual(DEFAULT_SERVER_CONFIG);
    expect(await source.refresh()).toEqual(config);

    server.close();
    await once(server, 'close');
    server = undefined;
    // A new start, offline: the last known config at once.
    const offline = serverConfigSource({ serverUrl: url, storage, timeoutMs: 500 });
    expect(offline.current()).toEqual(config);
    expect(await offline.refresh()).toEqual(config);
    expect(serverConfigSource({ serverUrl: 'http://127.0.0.1:1', storage }).current()).toEqual(DEFAULT_SERVER_CONFIG);
  });
});
