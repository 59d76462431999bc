import { once } from 'node:events';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/config.ts';
import { EdgeServerConfigSchema } from '@xray/shared';
import { edgeAppConfig, edgeAppCsp, edgeAppRoutes } from './edge-app.routes.ts';

describe('edge app routes', () => {
  let dir: string;
  let server: Server;
  let base: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'edge-app-'));
    await mkdir(path.join(dir, 'assets'));
    await writeFile(path.join(dir, 'index.html'), '<!doctype html><title>app</title>');
    await writeFile(path.join(dir, 'sw.js'), 'self.addEventListener("fetch", () => {});');
    await writeFile(path.join(dir, 'assets', 'main-abc123.js'), 'console.log(1)');
    const config = loadConfig({
      EDGE_APP_DIR: dir,
      OIDC_ISSUER: 'https://idp.example.org/realms/x',
      PATIENT_SERVICE_URL: 'https://patients.example.org/api',
      MAX_UPLOAD_BYTES: '500000000',
      EDGE_UPLOAD_STALL_MS: '15000',
    });
    server = express().use(edgeAppRoutes(config)).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('GET /edge-config tells the app its issuer, Patient Service, upload limit and offline grace period, to any origin', async () => {
    const res = await fetch(`${base}/edge-config`);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(await res.json()).toEqual({
      oidc: { issuer: 'https://idp.example.org/realms/x', audience: 'xray-api' },
      patientServiceUrl: 'https://patients.example.org/api',
      maxUploadBytes: 500_000_000,
      uploadStallMs: 15_000,
      offlineGraceMs: 12 * 60 * 60 * 1000,
    });
  });

  it("GET /edge-config names the hospital's patient id issuer when PATIENT_ID_ISSUER is set (absent above, unset)", () => {
    const app = edgeAppConfig(loadConfig({ PATIENT_ID_ISSUER: ' HOSPITAL-A ' }));
    expect(app.patientIdIssuer).toBe('HOSPITAL-A');
    // The shared contract the edge app parses (and caches) it with.
    expect(EdgeServerConfigSchema.parse(JSON.parse(JSON.stringify(app)))).toMatchObject({
      patientIdIssuer: 'HOSPITAL-A',
    });
    expect(edgeAppConfig(loadConfig({}))).not.toHaveProperty('patientIdIssuer');
  });

  it('serves the app: its CSP on the HTML, no HTTP caching of HTML and service worker, hashed assets for good', async () => {
    const html = await fetch(`${base}/`);
    expect(html.status).toBe(200);
    const csp = html.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self' https://idp.example.org https://patients.example.org");
    expect(csp).not.toContain('unsafe');
    expect(html.headers.get('cache-control')).toBe('no-cache');
    expect((await fetch(`${base}/sw.js`)).headers.get('cache-control')).toBe('no-cache');
    const asset = await fetch(`${base}/assets/main-abc123.js`);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('names only the issuer and Patient Service origins it knows', () => {
    expect(edgeAppCsp({ oidc: { issuer: null, audience: 'a' }, patientServiceUrl: null, maxUploadBytes: 1 })).toContain(
      "connect-src 'self';",
    );
  });
});
