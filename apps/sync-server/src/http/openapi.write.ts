// Regenerates the committed OpenAPI document and the client types generated from it:
// `pnpm --filter @xray/sync-server openapi`.
import { readFileSync, writeFileSync } from 'node:fs';
import { buildOpenApiDocument } from './openapi.ts';
import { CLIENT_TYPES_FILE, clientTypesOf } from './openapi.client-types.ts';

const target = new URL('../../openapi.json', import.meta.url);
writeFileSync(target, JSON.stringify(buildOpenApiDocument(), null, 2) + '\n');
console.log(`wrote ${target.pathname}`);
// From the document as written (what the drift test reads back), not the in-memory one.
writeFileSync(CLIENT_TYPES_FILE, await clientTypesOf(JSON.parse(readFileSync(target, 'utf8'))));
console.log(`wrote ${CLIENT_TYPES_FILE.pathname}`);
