import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from './openapi.ts';

describe('OpenAPI document', () => {
  it('the committed openapi.json matches the zod schemas (run `pnpm --filter @xray/sync-server openapi` to refresh)', () => {
    const committed: unknown = JSON.parse(readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(buildOpenApiDocument())));
  });

  it('documents every X-ray route with problem+json errors', () => {
    const doc = buildOpenApiDocument();
    expect(Object.keys(doc.paths ?? {})).toEqual(
      expect.arrayContaining(['/xrays', '/xrays/{id}', '/xrays/{id}/download']),
    );
    expect(doc.components?.schemas?.Problem).toBeDefined();
  });
});
