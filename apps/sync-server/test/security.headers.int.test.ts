import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makePng } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIssuer } from '../src/dev/oidc-issuer.ts';
import { blobOf, postXray, startTestServer, storedObjects, validMetadata, type TestServer } from './harness.ts';
import { encodeMeta, sealed, tusCreate } from './tus-client.ts';

const EDGE_ORIGIN = 'https://edge.example.org';
const FOREIGN_ORIGIN = 'https://evil.example.com';
const HSTS = 'max-age=31536000; includeSubDomains';
const DOWNLOAD_CSP = "sandbox; default-src 'none'";

/** The permission bits of a file or directory (0o600, 0o700, …). */
const modeOf = async (p: string): Promise<number> => (await stat(p)).mode & 0o777;

/** What every answer of the API must carry; `noStore` for answers that may carry patient data. */
function expectHardened(res: Response, opts: { noStore: boolean } = { noStore: true }): void {
  expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  if (opts.noStore) expect(res.headers.get('cache-control') ?? '').toContain('no-store');
  // Same-origin by default: nobody else reads our answers.
  expect(res.headers.get('access-control-allow-origin')).toBeNull();
  // Plain HTTP here (no TLS_TERMINATED_BY_PROXY): no HSTS.
  expect(res.headers.get('strict-transport-security')).toBeNull();
}

const json = (body: unknown): RequestInit => ({
  headers: { 'Content-Type': 'application/json', Origin: FOREIGN_ORIGIN },
  body: JSON.stringify(body),
});

describe('answers: headers on every route family, metrics apart, files private', () => {
  let server: TestServer;
  let edgeDir: string;
  let base: string;
  let xrayId: string;
  let created: Response;

  beforeAll(async () => {
    edgeDir = await mkdtemp(path.join(tmpdir(), 'xray-edge-app-'));
    await mkdir(path.join(edgeDir, 'assets'));
    await writeFile(path.join(edgeDir, 'index.html'), '<!doctype html><title>app</title>');
    await writeFile(path.join(edgeDir, 'icon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    await writeFile(path.join(edgeDir, 'assets', 'main-abc123.js'), 'console.log(1)');
    await writeFile(path.join(edgeDir, 'assets', 'main-abc123.js.map'), '{"sourcesContent":["secret source"]}');
    server = await startTestServer('fs', { EDGE_APP_DIR: edgeDir });
    base = server.url;
    created = await postXray(base, validMetadata({ notes: 'before' }), blobOf(makePng({ seed: 31 })), {
      Origin: FOREIGN_ORIGIN,
    });
    expect(created.status).toBe(201);
    xrayId = ((await created.json()) as { id: string }).id;
  });
  afterAll(async () => {
    await server?.close();
    await rm(edgeDir, { recursive: true, force: true });
  });

  it('X-ray routes: POST, list, get, PATCH are nosniff and no-store, readable by no other origin', async () => {
    expectHardened(created);
    const headers = { Origin: FOREIGN_ORIGIN };
    const list = await fetch(`${base}/xrays?patientId=P-1001`, { headers });
    expect(list.status).toBe(200);
    expectHardened(list);
    const one = await fetch(`${base}/xrays/${xrayId}`, { headers });
    expect(one.status).toBe(200);
    expectHardened(one);
    const patched = await fetch(`${base}/xrays/${xrayId}`, { method: 'PATCH', ...json({ notes: 'after' }) });
    expect(patched.status).toBe(200);
    expectHardened(patched);
  });

  it('a download is a sandboxed attachment, nosniff and no-store', async () => {
    const res = await fetch(`${base}/xrays/${xrayId}/download`, { headers: { Origin: FOREIGN_ORIGIN } });
    expect(res.status).toBe(200);
    expectHardened(res);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="?xray-[0-9a-f-]+\.png"?$/);
    expect(res.headers.get('content-security-policy')).toBe(DOWNLOAD_CSP);
    await res.arrayBuffer();
    const head = await fetch(`${base}/xrays/${xrayId}/download`, { method: 'HEAD' });
    expect(head.headers.get('content-security-policy')).toBe(DOWNLOAD_CSP);
    expectHardened(head);
  });

  it('problems (404, 400, unknown route) are nosniff and no-store', async () => {
    for (const url of [`/xrays/00000000-0000-4000-8000-000000000000`, '/xrays/not-an-id', '/no/such/route']) {
      const res = await fetch(`${base}${url}`, { headers: { Origin: FOREIGN_ORIGIN } });
      expect([400, 404]).toContain(res.status);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expectHardened(res);
    }
  });

  it('audit and admin answers are nosniff and no-store', async () => {
    for (const url of ['/audit', '/admin/outbox']) {
      const res = await fetch(`${base}${url}`, { headers: { Origin: FOREIGN_ORIGIN } });
      expect(res.status).toBe(200);
      expectHardened(res);
    }
  });

  it('tus: POST /uploads and HEAD /uploads/{id} are nosniff and no-store, with no Access-Control-Allow-Origin', async () => {
    const { body, metadata } = await sealed(base, makePng({ seed: 32 }));
    const created = await fetch(`${base}/uploads`, {
      method: 'POST',
      headers: {
        'Tus-Resumable': '1.0.0',
        'Upload-Length': String(body.length),
        'Upload-Metadata': encodeMeta(metadata),
        Origin: FOREIGN_ORIGIN,
      },
    });
    expect(created.status).toBe(201);
    expectHardened(created);
    const head = await fetch(created.headers.get('location') ?? '', {
      method: 'HEAD',
      headers: { 'Tus-Resumable': '1.0.0', Origin: FOREIGN_ORIGIN },
    });
    expect(head.status).toBe(200);
    expectHardened(head);
    const preflight = await fetch(`${base}/uploads`, {
      method: 'OPTIONS',
      headers: { Origin: FOREIGN_ORIGIN, 'Access-Control-Request-Method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('a foreign preflight is answered before authentication: no CORS headers, no audit row, no failed login', async () => {
    const requestId = `preflight-${Date.now()}`;
    const preflight = await fetch(`${base}/xrays`, {
      method: 'OPTIONS',
      headers: {
        Origin: FOREIGN_ORIGIN,
        'Access-Control-Request-Method': 'GET',
        'Access-Control-Request-Headers': 'authorization',
        'X-Request-Id': requestId,
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect(preflight.headers.get('access-control-allow-methods')).toBeNull();
    const { rows } = await server.pool.query('SELECT 1 FROM audit_events WHERE request_id = $1', [requestId]);
    expect(rows).toEqual([]);
  });

  it('DELETE /xrays/{id} is nosniff and no-store', async () => {
    const created = await postXray(base, validMetadata(), blobOf(makePng({ seed: 33 })));
    const { id } = (await created.json()) as { id: string };
    const res = await fetch(`${base}/xrays/${id}`, { method: 'DELETE', headers: { Origin: FOREIGN_ORIGIN } });
    expect(res.status).toBe(204);
    expectHardened(res);
  });

  it('public answers: nosniff everywhere, their own caching where they are cacheable', async () => {
    for (const url of ['/healthz', '/readyz', '/openapi.json']) {
      const res = await fetch(`${base}${url}`);
      expect(res.status).toBe(200);
      expectHardened(res);
    }
    const key = await fetch(`${base}/keys/upload`);
    expectHardened(key, { noStore: false });
    expect(key.headers.get('cache-control')).toBe('public, max-age=300');
  });

  it('the edge app: nosniff, its CSP and caching kept, no source maps served', async () => {
    const html = await fetch(`${base}/`);
    expect(html.status).toBe(200);
    expectHardened(html, { noStore: false });
    expect(html.headers.get('cache-control')).toBe('no-cache');
    expect(html.headers.get('content-security-policy')).toContain("script-src 'self'");
    const asset = await fetch(`${base}/assets/main-abc123.js`);
    expectHardened(asset, { noStore: false });
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const icon = await fetch(`${base}/icon.svg`);
    expect(icon.status).toBe(200);
    expectHardened(icon, { noStore: false });
    expect(icon.headers.get('cache-control')).not.toContain('no-store');
    const map = await fetch(`${base}/assets/main-abc123.js.map`);
    expect(map.status).toBe(404);
    expect(await map.text()).not.toContain('secret source');
  });

  it('/metrics is not on the API port; it is on its own listener', async () => {
    const onApi = await fetch(`${base}/metrics`);
    expect(onApi.status).toBe(404);
    expect(await onApi.text()).not.toContain('http_request_duration_seconds');
    expect(server.metricsUrl).toBeDefined();
    expect(new URL(server.metricsUrl ?? '').port).not.toBe(new URL(base).port);
    const scraped = await fetch(`${server.metricsUrl}/metrics`);
    expect(scraped.status).toBe(200);
    expect(scraped.headers.get('content-type')).toContain('text/plain');
    expect(scraped.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await scraped.text()).toContain('http_request_duration_seconds');
    expect((await fetch(`${server.metricsUrl}/xrays`)).status).toBe(404);
  });

  it('on disk: DATA_DIR 0700; stored objects and unfinished tus uploads 0600 in 0700 directories; dev keys 0600', async () => {
    if (server.config.storage.kind !== 'fs') throw new Error('disk storage expected');
    const root = server.config.storage.dir;
    expect(await modeOf(server.config.dataDir)).toBe(0o700);
    expect(await modeOf(root)).toBe(0o700);

    const keys = (await storedObjects(server)).filter((k) => k.includes(xrayId));
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(await modeOf(path.join(root, key))).toBe(0o600);
      for (let dir = path.dirname(path.join(root, key)); dir !== root; dir = path.dirname(dir))
        expect(await modeOf(dir)).toBe(0o700);
    }

    // An upload that has not received its bytes yet: its data file and info file.
    const { body, metadata } = await sealed(base, makePng({ seed: 34 }));
    const uploadId = new URL(await tusCreate(base, body, metadata)).pathname.split('/').pop() ?? '';
    const uploads = path.join(root, 'uploads');
    expect(await modeOf(uploads)).toBe(0o700);
    expect(await modeOf(path.join(uploads, uploadId))).toBe(0o600);
    expect(await modeOf(path.join(uploads, `${uploadId}.json`))).toBe(0o600);

    const devKeys = path.join(server.config.dataDir, 'keys');
    expect(await modeOf(devKeys)).toBe(0o700);
    expect(await modeOf(path.join(devKeys, 'dev-keys.json'))).toBe(0o600);
  });
});

describe('answers: configured CORS allow-list, HSTS behind a TLS proxy, metrics off', () => {
  let server: TestServer;
  let dataDir: string;

  beforeAll(async () => {
    // A DATA_DIR from before, readable by everyone: tightened at start.
    dataDir = await mkdtemp(path.join(tmpdir(), 'xray-old-data-'));
    await chmod(dataDir, 0o755);
    server = await startTestServer('fs', {
      DATA_DIR: dataDir,
      CORS_ALLOWED_ORIGINS: EDGE_ORIGIN,
      TLS_TERMINATED_BY_PROXY: 'true',
      METRICS_PORT: 'off',
    });
  });
  afterAll(async () => {
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('an allowed origin gets itself echoed on /xrays and /uploads, and its preflights answered', async () => {
    const list = await fetch(`${server.url}/xrays`, { headers: { Origin: EDGE_ORIGIN } });
    expect(list.status).toBe(200);
    expect(list.headers.get('access-control-allow-origin')).toBe(EDGE_ORIGIN);
    expect(list.headers.get('vary')).toContain('Origin');
    expect(list.headers.get('access-control-allow-credentials')).toBeNull();

    const { body, metadata } = await sealed(server.url, makePng({ seed: 35 }));
    const created = await fetch(`${server.url}/uploads`, {
      method: 'POST',
      headers: {
        'Tus-Resumable': '1.0.0',
        'Upload-Length': String(body.length),
        'Upload-Metadata': encodeMeta(metadata),
        Origin: EDGE_ORIGIN,
      },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('access-control-allow-origin')).toBe(EDGE_ORIGIN);

    const preflight = await fetch(`${server.url}/uploads/${metadata.id}`, {
      method: 'OPTIONS',
      headers: {
        Origin: EDGE_ORIGIN,
        'Access-Control-Request-Method': 'PATCH',
        'Access-Control-Request-Headers': 'authorization, tus-resumable, upload-offset, content-type',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(EDGE_ORIGIN);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('PATCH');
    const allowed = (preflight.headers.get('access-control-allow-headers') ?? '').toLowerCase();
    for (const h of ['authorization', 'tus-resumable', 'upload-offset', 'content-type']) expect(allowed).toContain(h);
  });

  it('an origin not on the list still gets no Access-Control-Allow-Origin', async () => {
    const list = await fetch(`${server.url}/xrays`, { headers: { Origin: FOREIGN_ORIGIN } });
    expect(list.headers.get('access-control-allow-origin')).toBeNull();
    const { body, metadata } = await sealed(server.url, makePng({ seed: 36 }));
    const created = await fetch(`${server.url}/uploads`, {
      method: 'POST',
      headers: {
        'Tus-Resumable': '1.0.0',
        'Upload-Length': String(body.length),
        'Upload-Metadata': encodeMeta(metadata),
        Origin: FOREIGN_ORIGIN,
      },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('HSTS on every answer when TLS is terminated in front', async () => {
    for (const url of ['/healthz', '/xrays', '/xrays/not-an-id', '/keys/upload']) {
      const res = await fetch(`${server.url}${url}`);
      expect(res.headers.get('strict-transport-security')).toBe(HSTS);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it('METRICS_PORT=off: no metrics anywhere', async () => {
    expect(server.metricsUrl).toBeUndefined();
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
  });

  it('an existing DATA_DIR is tightened to 0700', async () => {
    expect(await modeOf(dataDir)).toBe(0o700);
  });
});

describe('development issuer keys', () => {
  it('are 0600 in a 0700 directory', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'xray-dev-oidc-'));
    const dev = await startDevIssuer({ port: 0, dataDir, audience: 'xray-api' });
    try {
      expect(await modeOf(path.join(dataDir, 'dev-oidc'))).toBe(0o700);
      expect(await modeOf(path.join(dataDir, 'dev-oidc', 'keys.json'))).toBe(0o600);
    } finally {
      await dev.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
