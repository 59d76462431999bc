import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLIENT_TYPES_FILE, clientTypesOf } from './openapi.client-types.ts';

describe('the generated client types', () => {
  it('packages/shared/src/api/openapi.d.ts is what openapi.json generates (run `pnpm --filter @xray/sync-server openapi` to refresh)', async () => {
    const document: unknown = JSON.parse(readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8'));
    expect(readFileSync(CLIENT_TYPES_FILE, 'utf8')).toBe(await clientTypesOf(document));
  });
});
