import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { makePng, sha256Hex } from '@xray/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_OPERATIONS } from '../src/http/api.operations.ts';
import { mountedRoutesOf } from '../src/http/route-table.ts';
import { apiClient, headerActor, startTestServer, uploadXray, type TestServer } from './harness.ts';

const PUBLIC_URL = 'https://xray.example.org/api';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const committed = (): Json => {
  const doc: unknown = JSON.parse(readFileSync(new URL('../openapi.json', import.meta.url), 'utf8'));
  if (!isObject(doc)) throw new Error('openapi.json is not an object');
  return doc;
};

/** `GET /xrays/{id}` for every operation of the committed document. */
function documentedRoutes(doc: Json): string[] {
  const paths = isObject(doc.paths) ? doc.paths : {};
  return Object.entries(paths).flatMap(([path, item]) =>
    Object.keys(isObject(item) ? item : {}).map((method) => `${method.toUpperCase()} ${path}`),
  );
}

/**
 * The router registers what the document shows: the Express stack of the running server against
 * openapi.json, and each declaration's access against real requests.
 */
describe('routes and the OpenAPI document', () => {
  let server: TestServer;

  beforeAll(async () => {
    // Many refused requests in a row from one address: the failure limiter must not turn them into 429s.
    server = await startTestServer('fs', { PUBLIC_URL, AUTH_FAILURE_LIMIT: '1000' }, { authenticate: headerActor });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('every route Express mounts is documented, and every documented operation is mounted', () => {
    const mounted = mountedRoutesOf(server.app).sort();
    expect(new Set(mounted).size, 'a route mounted twice').toBe(mounted.length);
    expect(mounted).toEqual(documentedRoutes(committed()).sort());
  });

  it("each operation's declared access holds: credentials required (401 problem) or public", async () => {
    const got: string[] = [];
    const want: string[] = [];
    for (const op of API_OPERATIONS) {
      const path = op.path.replace(/\{[^}]+\}/g, randomUUID());
      const res = await fetch(`${server.url}${path}`, { method: op.method.toUpperCase() });
      // HEAD answers carry no body: the status says it.
      const code =
        op.method !== 'head' && res.headers.get('content-type')?.includes('problem+json')
          ? String(((await res.json()) as { code?: unknown }).code)
          : (await res.arrayBuffer(), '');
      const label = `${op.operationId} (${op.method.toUpperCase()} ${op.path}): `;
      if (op.access === 'public') {
        got.push(label + (res.status === 401 || res.status === 404 || res.status === 405 ? `${res.status}` : 'served'));
        want.push(`${label}served`);
      } else {
        got.push(`${label}${res.status} ${code}`);
        want.push(`${label}401 ${op.method === 'head' ? '' : 'unauthenticated'}`);
      }
    }
    expect(got).toEqual(want);
  });

  it('/openapi.json is the committed document with this deployment as its server', async () => {
    const res = await fetch(`${server.url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const served = (await res.json()) as Json;
    expect(served.servers).toEqual([{ url: PUBLIC_URL, description: 'This deployment (PUBLIC_URL)' }]);
    expect({ ...served, servers: null }).toEqual({ ...committed(), servers: null });
  });

  it('the generated client uploads as the document declares (metadata an application/json part) and downloads the type documented', async () => {
    const png = makePng({ width: 64, height: 48, seed: 24 });
    const api = apiClient(server.url, { actor: 'medic-24; paramedic' });
    const id = randomUUID();
    const metadata = {
      id,
      patientId: 'P-2024',
      capturedAt: '2026-11-27T08:15:00Z',
      bodyPart: 'CHEST',
      view: 'PA',
      priority: 'urgent',
      sha256: sha256Hex(png),
    } as const;
    const { data, response } = await uploadXray(api, metadata, new Blob([new Uint8Array(png)]));
    expect(response.status).toBe(201);
    // Under PUBLIC_URL, its /api prefix kept: a relative /xrays/{id} would miss the prefix.
    expect(response.headers.get('location')).toBe(`${PUBLIC_URL}/xrays/${id}`);
    expect(data).toMatchObject({ id, patientId: 'P-2024', contentType: 'image/png', sha256: sha256Hex(png) });

    const download = await api.GET('/xrays/{id}/download', { params: { path: { id } }, parseAs: 'arrayBuffer' });
    const documented = committed().paths;
    const item = isObject(documented) ? documented['/xrays/{id}/download'] : undefined;
    const get = isObject(item) ? item.get : undefined;
    const ok = isObject(get) && isObject(get.responses) ? get.responses['200'] : undefined;
    expect(Object.keys(isObject(ok) && isObject(ok.content) ? ok.content : {})).toContain('image/png');
    expect(download.response.status).toBe(200);
    expect(download.response.headers.get('content-type')).toBe('image/png');
    expect(download.response.headers.get('etag')).toBe(`"${sha256Hex(png)}"`);
    expect(download.data && sha256Hex(new Uint8Array(download.data))).toBe(sha256Hex(png));
  });
});
