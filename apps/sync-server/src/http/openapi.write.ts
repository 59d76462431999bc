// Regenerates the committed OpenAPI document: `pnpm --filter @xray/sync-server openapi`.
import { writeFileSync } from 'node:fs';
import { buildOpenApiDocument } from './openapi.ts';

const target = new URL('../../openapi.json', import.meta.url);
writeFileSync(target, JSON.stringify(buildOpenApiDocument(), null, 2) + '\n');
console.log(`wrote ${target.pathname}`);
