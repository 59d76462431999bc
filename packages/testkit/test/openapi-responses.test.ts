import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentedOperations, responseCheckFailure, summarizeResponseCheck } from '../src/openapi-responses.ts';

const document = {
  paths: {
    '/xrays': { get: { responses: {} }, post: { responses: {} } },
    '/xrays/{id}': { parameters: [], delete: { responses: {} } },
  },
};

describe('the OpenAPI response check report', () => {
  let dir: string;
  let file: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'openapi-report-'));
    file = path.join(dir, 'responses.jsonl');
    const lines = [
      { kind: 'seen', operation: 'GET /xrays', status: 200 },
      { kind: 'seen', operation: 'POST /xrays', status: 400 },
      { kind: 'seen', operation: 'DELETE /xrays/{id}', status: 204 },
      {
        kind: 'violation',
        operation: 'GET /xrays',
        request: 'GET /xrays?a=1',
        status: 200,
        problems: ['body/items must be array'],
      },
      {
        kind: 'violation',
        operation: 'GET /xrays',
        request: 'GET /xrays?a=2',
        status: 200,
        problems: ['body/items must be array'],
      },
    ];
    await writeFile(file, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('lists the operations a document declares', () => {
    expect(documentedOperations(document)).toEqual(['GET /xrays', 'POST /xrays', 'DELETE /xrays/{id}']);
  });

  it('groups each kind of difference with its count and one request', () => {
    const summary = summarizeResponseCheck(file);
    expect(summary.violations).toEqual(['GET /xrays → 200: body/items must be array (2×, e.g. GET /xrays?a=1)']);
    expect(summary.unexercised).toEqual([]);
    expect(responseCheckFailure(summary, 'here')).toContain('1 kind(s) of response differ from openapi.json (here)');
  });

  it('with the document: names each operation no test got a 2xx answer from', () => {
    const summary = summarizeResponseCheck(file, document);
    expect(summary.unexercised).toEqual(['POST /xrays']);
    expect(responseCheckFailure(summary, 'here')).toContain(
      '1 documented operation(s) never answered 2xx in this run:\n  - POST /xrays',
    );
  });

  it('is no failure when there is no report (no server ran) and nothing is asked of it', () => {
    expect(responseCheckFailure(summarizeResponseCheck(path.join(dir, 'none.jsonl')), 'here')).toBeUndefined();
  });
});
