import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  createResponseChecker,
  eventPayloadProblems,
  OPENAPI_DOCUMENT,
  type ResponseCheckRecord,
} from './openapi.response-check.ts';

// A small document in the shape zod-to-openapi writes: named schemas, problem+json errors, headers.
const doc = {
  openapi: '3.1.0',
  info: { title: 't', version: '1' },
  components: {
    schemas: {
      Problem: {
        type: 'object',
        properties: { status: { type: 'integer' }, code: { type: 'string' } },
        required: ['status', 'code'],
      },
      Thing: {
        type: 'object',
        properties: { id: { type: 'string', format: 'uuid' }, size: { type: 'integer' } },
        required: ['id', 'size'],
        additionalProperties: false,
      },
    },
    headers: { Version: { required: true, schema: { type: 'string', pattern: '^v[0-9]+$' } } },
    responses: {
      NotFound: {
        description: 'none',
        content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
      },
    },
  },
  paths: {
    '/things/{id}': {
      get: {
        responses: {
          200: {
            description: 'a thing',
            headers: { 'X-Version': { $ref: '#/components/headers/Version' } },
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } },
          },
          404: { $ref: '#/components/responses/NotFound' },
        },
      },
    },
    '/things/{id}/raw': {
      get: {
        responses: {
          200: {
            description: 'bytes',
            headers: { 'Content-Length': { required: true, schema: { type: 'integer', minimum: 0 } } },
            content: { 'application/dicom': { schema: { type: 'string', contentMediaType: 'application/dicom' } } },
          },
        },
      },
    },
    '/things/latest/raw': { delete: { responses: { 204: { description: 'gone' } } } },
  },
};

const ID = '0b7c3f0e-1a2b-4c3d-8e9f-001122334455';
const records: ResponseCheckRecord[] = [];
let server: Server;
let base: string;

beforeAll(async () => {
  const app = express();
  app.use(createResponseChecker(doc, (r) => records.push(r)).handler);
  app.get('/things/:id', (req, res) => {
    const mode = req.query.mode;
    if (req.params.id === 'none') return void res.status(404).type('application/problem+json').json({ status: 404 });
    if (mode === 'teapot') return void res.status(418).json({ no: true });
    if (mode === 'noversion') return void res.json({ id: ID, size: 1 });
    if (mode === 'badversion') return void res.set('X-Version', '1').json({ id: ID, size: 1 });
    if (mode === 'extra') return void res.set('X-Version', 'v1').json({ id: ID, size: '1', secret: true });
    if (mode === 'text') return void res.set('X-Version', 'v1').type('text/plain').send('hi');
    res.set('X-Version', 'v1').json({ id: ID, size: 1 });
  });
  app.get('/things/:id/raw', (_req, res) => {
    // A stream written with writeHead's own headers, as @tus/server and the download route do.
    res.writeHead(200, { 'Content-Type': 'application/dicom', 'Content-Length': '6' });
    Readable.from([Buffer.from('abc'), Buffer.from('def')]).pipe(res);
  });
  app.delete('/things/latest/raw', (_req, res) => void res.status(204).end());
  app.use(
    (_req, res) => void res.status(404).type('application/problem+json').json({ status: 404, code: 'not_found' }),
  );
  server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** Requests the path and waits for its check (it runs after the answer). */
async function exchange(path: string, init: RequestInit = {}): Promise<ResponseCheckRecord[]> {
  const from = records.length;
  const res = await fetch(`${base}${path}`, init);
  await res.arrayBuffer();
  await new Promise((r) => setTimeout(r, 50));
  return records.slice(from);
}

const problemsOf = (rs: ResponseCheckRecord[]): string[] =>
  rs.flatMap((r) => (r.kind === 'violation' ? r.problems : []));

describe('the OpenAPI response check', () => {
  it('records a documented answer as seen and nothing else', async () => {
    const rs = await exchange(`/things/${ID}`);
    expect(rs).toEqual([{ kind: 'seen', operation: 'GET /things/{id}', status: 200 }]);
    // Once per operation and status.
    expect(await exchange(`/things/${ID}`)).toEqual([]);
  });

  it('finds an undocumented status, a missing required header, a body off its schema, an undocumented media type', async () => {
    expect(problemsOf(await exchange(`/things/${ID}?mode=teapot`))).toEqual([
      'status 418 is not documented for GET /things/{id}',
    ]);
    expect(problemsOf(await exchange(`/things/${ID}?mode=noversion`))).toEqual(['required header X-Version missing']);
    const extra = problemsOf(await exchange(`/things/${ID}?mode=extra`));
    expect(extra).toEqual(
      expect.arrayContaining(['body/size must be integer', 'body must NOT have additional properties']),
    );
    expect(problemsOf(await exchange(`/things/${ID}?mode=badversion`))).toEqual([
      'header X-Version must match pattern "^v[0-9]+$"',
    ]);
    expect(problemsOf(await exchange(`/things/${ID}?mode=text`))).toEqual([
      'Content-Type text/plain not documented (documented: application/json)',
    ]);
  });

  it('checks $ref responses and problem bodies', async () => {
    const rs = await exchange('/things/none');
    expect(rs[0]).toEqual({ kind: 'seen', operation: 'GET /things/{id}', status: 404 });
    expect(rs[1]).toMatchObject({ kind: 'violation', request: 'GET /things/none', status: 404 });
    expect(problemsOf(rs)).toEqual(["body must have required property 'code'"]);
  });

  it('checks a streamed binary answer by its headers (writeHead ones included) without keeping its body', async () => {
    expect(await exchange(`/things/${ID}/raw`)).toEqual([
      { kind: 'seen', operation: 'GET /things/{id}/raw', status: 200 },
    ]);
  });

  it('matches a literal path before a templated one, and HEAD as GET', async () => {
    expect(await exchange('/things/latest/raw', { method: 'DELETE' })).toEqual([
      { kind: 'seen', operation: 'DELETE /things/latest/raw', status: 204 },
    ]);
    expect(problemsOf(await exchange(`/things/${ID}`, { method: 'HEAD' }))).toEqual([]);
  });

  it("accepts a problem on an undocumented path or method, refuses other API JSON there (not the web app's files)", async () => {
    expect(await exchange('/nowhere')).toEqual([]);
    expect(await exchange('/nowhere', { method: 'HEAD' })).toEqual([]);
    expect(problemsOf(await exchange(`/things/${ID}`, { method: 'PUT' }))).toEqual([]);
    const checker = createResponseChecker(doc, () => undefined);
    const json = new Map([['content-type', 'application/json']]);
    const manifest = new Map([['content-type', 'application/manifest+json']]);
    expect(checker.check('GET', '/manifest.webmanifest', 200, manifest, Buffer.from('{}'))).toEqual([]);
    expect(checker.check('GET', '/other', 200, json, Buffer.from('{}'))).toEqual([
      'undocumented path: a JSON answer (application/json) the document does not show',
    ]);
    expect(checker.check('POST', `/things/${ID}`, 201, json, Buffer.from('{}'))).toEqual([
      'POST is not documented for /things/{id}',
      'undocumented method POST: a JSON answer (application/json) the document does not show',
    ]);
  });

  it('compiles every response body and header schema of the committed openapi.json (none is skipped unchecked)', () => {
    const committed: unknown = JSON.parse(readFileSync(OPENAPI_DOCUMENT, 'utf8'));
    if (typeof committed !== 'object' || committed === null) throw new Error('openapi.json is not an object');
    expect(createResponseChecker({ ...committed }, () => undefined).compileAll()).toEqual([]);
    expect(createResponseChecker(doc, () => undefined).compileAll()).toEqual([]);
  });

  it('reports a header the committed document requires where it is always sent, and only there', () => {
    const committed: unknown = JSON.parse(readFileSync(OPENAPI_DOCUMENT, 'utf8'));
    if (typeof committed !== 'object' || committed === null) throw new Error('openapi.json is not an object');
    const { check } = createResponseChecker({ ...committed }, () => undefined);
    const sent = (headers: Record<string, string>) => new Map(Object.entries({ 'x-request-id': 'r-1', ...headers }));
    const etag = { etag: `"${'a'.repeat(64)}"` };

    expect(check('DELETE', `/xrays/${ID}`, 204, new Map(), undefined)).toEqual([
      'required header X-Request-Id missing',
    ]);
    expect(check('GET', `/xrays/${ID}`, 304, sent({}), undefined)).toEqual(['required header ETag missing']);
    expect(check('HEAD', `/xrays/${ID}/download`, 206, sent(etag), undefined)).toEqual([
      'required header Content-Range missing',
    ]);
    expect(
      check('HEAD', `/xrays/${ID}/download`, 206, sent({ ...etag, 'content-range': 'bytes 0-9/100' }), undefined),
    ).toEqual([]);
    expect(check('HEAD', `/xrays/${ID}/download`, 416, sent({}), undefined)).toEqual([
      'required header Content-Range missing',
    ]);
    expect(check('PATCH', `/uploads/${ID}`, 204, sent({ 'tus-resumable': '1.0.0' }), undefined)).toEqual([
      'required header Upload-Offset missing',
    ]);
    expect(check('HEAD', `/uploads/${ID}`, 200, sent({ 'upload-offset': '0' }), undefined)).toEqual([
      'required header Tus-Resumable missing',
    ]);
    // A creation without bytes answers no Upload-Offset; a Location it always has.
    expect(
      check('POST', '/uploads', 201, sent({ 'tus-resumable': '1.0.0', location: '/uploads/x' }), undefined),
    ).toEqual([]);
    expect(check('POST', '/uploads', 201, sent({ 'tus-resumable': '1.0.0' }), undefined)).toEqual([
      'required header Location missing',
    ]);
  });

  it("validates event payloads against the document's webhooks: each published example passes, a damaged one does not", () => {
    const committed: unknown = JSON.parse(readFileSync(OPENAPI_DOCUMENT, 'utf8'));
    const hooks = typeof committed === 'object' && committed !== null ? Reflect.get(committed, 'webhooks') : {};
    const types = Object.keys(hooks ?? {});
    expect(types.length).toBeGreaterThan(0);
    for (const type of types) {
      const example: unknown = Reflect.get(hooks, type)?.post?.requestBody?.content?.['application/json']?.example;
      expect(example, type).toBeDefined();
      expect(eventPayloadProblems(type, example), type).toEqual([]);
      expect(eventPayloadProblems(type, { ...Object(example), sequence: 'first' }).length, type).toBeGreaterThan(0);
    }
    expect(eventPayloadProblems('xray.exploded', {})).toEqual(['no webhook xray.exploded in the document']);
  });
});
