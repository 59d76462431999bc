import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { lint, loadConfig } from '@redocly/openapi-core';
import { EVENT_TYPES } from '@xray/shared';
import { describe, expect, it } from 'vitest';
import { ERRORS } from '../errors.ts';
import { allowedMethods, API_OPERATIONS } from './api.operations.ts';
import { buildOpenApiDocument } from './openapi.ts';
import { defineOperations, RouteTable } from './route-table.ts';

const COMMITTED = new URL('../../openapi.json', import.meta.url);
const REDOCLY_CONFIG = fileURLToPath(new URL('../../redocly.yaml', import.meta.url));
const METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options'];

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const committed = (): Json => {
  const doc: unknown = JSON.parse(readFileSync(COMMITTED, 'utf8'));
  if (!isObject(doc)) throw new Error('openapi.json is not an object');
  return doc;
};
const entries = (v: unknown): [string, unknown][] => (isObject(v) ? Object.entries(v) : []);

/** Every operation of a document: `GET /xrays/{id}` → the operation object. */
function operationsOf(doc: Json): Map<string, Json> {
  const out = new Map<string, Json>();
  for (const [path, item] of entries(doc.paths))
    for (const [method, op] of entries(item))
      if (METHODS.includes(method) && isObject(op)) out.set(`${method.toUpperCase()} ${path}`, op);
  return out;
}

describe('OpenAPI document', () => {
  it('the committed openapi.json is the generated one (run `pnpm --filter @xray/sync-server openapi` to refresh)', () => {
    expect(committed()).toEqual(JSON.parse(JSON.stringify(buildOpenApiDocument())));
  });

  it('Redocly lints it clean: the recommended ruleset (and redocly.yaml overrides), no error, no warning', async () => {
    const config = await loadConfig({ configPath: REDOCLY_CONFIG });
    const problems = await lint({ ref: fileURLToPath(COMMITTED), config });
    const found = problems
      .filter((p) => !p.ignored)
      .map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer ?? '?'}`);
    expect(found).toEqual([]);
    // The lint is real: a document without operationIds or servers is not clean.
    const broken = committed();
    delete broken.servers;
    const [first] = operationsOf(broken).values();
    if (first) delete first.operationId;
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const file = `${mkdtempSync(`${tmpdir()}/openapi-lint-`)}/broken.json`;
    writeFileSync(file, JSON.stringify(broken));
    const rules = new Set((await lint({ ref: file, config })).map((p) => p.ruleId));
    expect(rules).toEqual(new Set(['no-empty-servers', 'operation-operationId']));
  });

  it('each operation has a unique operationId, declared tags and a security requirement; the document has servers', () => {
    const doc = committed();
    const ops = [...operationsOf(doc).values()];
    const ids = ops.map((op) => op.operationId);
    expect(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z0-9]+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    const tags = new Set(Array.isArray(doc.tags) ? doc.tags.map((t: unknown) => isObject(t) && t.name) : []);
    for (const op of ops) {
      expect(
        Array.isArray(op.tags) && op.tags.length > 0 && op.tags.every((t) => tags.has(t)),
        String(op.operationId),
      ).toBe(true);
      expect(Array.isArray(op.security), String(op.operationId)).toBe(true);
    }
    expect(doc.servers).toEqual([{ url: '/', description: 'The server this document is served by' }]);
    expect(buildOpenApiDocument({ publicUrl: 'https://xray.example.org/' }).servers).toEqual([
      { url: 'https://xray.example.org', description: 'This deployment (PUBLIC_URL)' },
    ]);
  });

  it('Problem.code is the enumerated error catalogue, each code documented with its status', () => {
    const schemas = committed().components;
    const code = isObject(schemas) && isObject(schemas.schemas) ? schemas.schemas.ProblemCode : undefined;
    expect(isObject(code) && code.enum).toEqual(Object.keys(ERRORS));
    const description = isObject(code) && typeof code.description === 'string' ? code.description : '';
    for (const [name, e] of Object.entries(ERRORS))
      expect(description).toContain(`- \`${name}\` (${e.status}): ${e.description}`);
    const problem = isObject(schemas) && isObject(schemas.schemas) ? schemas.schemas.Problem : undefined;
    expect(isObject(problem) && isObject(problem.properties) && problem.properties.code).toEqual({
      $ref: '#/components/schemas/ProblemCode',
    });
  });

  it('every error answer is problem+json, every answer names X-Request-Id, and no header is left undefined', () => {
    const doc = committed();
    const defined = new Set(entries(isObject(doc.components) ? doc.components.headers : undefined).map(([n]) => n));
    for (const [key, op] of operationsOf(doc)) {
      for (const [status, response] of entries(op.responses)) {
        if (!isObject(response)) throw new Error(`${key} ${status}`);
        const headers = entries(response.headers).map(([name, h]) => [name, isObject(h) ? h.$ref : undefined]);
        expect(headers, `${key} ${status}`).toContainEqual(['X-Request-Id', '#/components/headers/X-Request-Id']);
        for (const [name] of headers) expect(defined.has(String(name)), `${key} ${status} ${name}`).toBe(true);
        // HEAD has no body to carry a problem; /readyz answers its checks, in the same shape, when not ready;
        // STOW-RS answers 409 (no instance stored) with its response module, as PS3.18 10.5.3 says.
        const stowConflict = status === '409' && key.startsWith('POST /dicom-web/studies');
        if (Number(status) >= 400 && !key.startsWith('HEAD ') && key !== 'GET /readyz' && !stowConflict)
          expect(Object.keys(isObject(response.content) ? response.content : {}), `${key} ${status}`).toEqual([
            'application/problem+json',
          ]);
      }
    }
  });

  it('downloads are documented as the image types they are served as, not octet-stream', () => {
    const download = operationsOf(committed()).get('GET /xrays/{id}/download');
    const responses = isObject(download?.responses) ? download.responses : {};
    for (const status of ['200', '206']) {
      const r = responses[status];
      expect(Object.keys(isObject(r) && isObject(r.content) ? r.content : {})).toEqual([
        'application/dicom',
        'image/png',
        'image/jpeg',
      ]);
    }
  });

  it('webhooks: one per event type, each body a named event schema with an example', () => {
    const doc = committed();
    expect(Object.keys(isObject(doc.webhooks) ? doc.webhooks : {})).toEqual([...EVENT_TYPES]);
    for (const [type, item] of entries(doc.webhooks)) {
      const post = isObject(item) ? item.post : undefined;
      const body = isObject(post) && isObject(post.requestBody) ? post.requestBody.content : undefined;
      const json = isObject(body) ? body['application/json'] : undefined;
      expect(isObject(json) && json.schema, type).toEqual({
        $ref: expect.stringMatching(/^#\/components\/schemas\/Xray[A-Za-z]+Event$/),
      });
      expect(isObject(json) && isObject(json.example) && json.example.type, type).toBe(type);
    }
  });

  it('the upload body a generated client sends: metadata as application/json, file as binary', () => {
    const post = operationsOf(committed()).get('POST /xrays');
    const body = isObject(post?.requestBody) && isObject(post.requestBody.content) ? post.requestBody.content : {};
    expect(body['multipart/form-data']).toMatchObject({
      schema: { properties: { file: { type: 'string', format: 'binary' } }, required: ['metadata', 'file'] },
      encoding: { metadata: { contentType: 'application/json' } },
    });
  });
});

describe('route declarations', () => {
  const ops = defineOperations({
    getThing: {
      method: 'get',
      path: '/things/{id}',
      tags: ['xrays'],
      summary: 'A thing',
      access: 'public',
      responses: {},
    },
    dropThing: {
      method: 'delete',
      path: '/things/{id}',
      tags: ['xrays'],
      summary: 'Drop',
      access: 'public',
      responses: {},
    },
  });

  it('a router is built only when every declared operation has a handler', () => {
    const table = new RouteTable(ops).on('getThing', (req, res) => {
      res.json({ id: req.params.id });
    });
    expect(() => table.router()).toThrow('The declared operation dropThing has no handler');
    expect(() => table.on('getThing', (_req, res) => res.end())).toThrow('getThing has a handler already');
  });

  it('allowedMethods: the methods declared at a concrete path (HEAD where GET is), undefined off the API', () => {
    expect(allowedMethods('/xrays/3f6c1a52-8d0e-4b7a-9c21-5e4f7a9b0c13')).toEqual(['DELETE', 'GET', 'HEAD', 'PATCH']);
    expect(allowedMethods('/XRAYS/abc/')).toEqual(['DELETE', 'GET', 'HEAD', 'PATCH']);
    expect(allowedMethods('/xrays/abc/download')).toEqual(['GET', 'HEAD']);
    expect(allowedMethods('/uploads')).toEqual(['OPTIONS', 'POST']);
    expect(allowedMethods('/uploads/abc')).toEqual(['DELETE', 'HEAD', 'OPTIONS', 'PATCH']);
    expect(allowedMethods('/nowhere')).toBeUndefined();
    expect(allowedMethods('/xrays/a/b')).toBeUndefined();
    expect(API_OPERATIONS.length).toBe(operationsOf(committed()).size);
  });
});
