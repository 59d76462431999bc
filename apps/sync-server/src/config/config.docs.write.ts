// Regenerates docs/configuration.md from the config schema: `pnpm --filter @xray/sync-server run config-docs`.
import { writeFileSync } from 'node:fs';
import { CONFIG_DOCS_PATH, renderConfigDocs } from './config.docs.ts';

writeFileSync(CONFIG_DOCS_PATH, await renderConfigDocs(CONFIG_DOCS_PATH));
console.log(`wrote ${CONFIG_DOCS_PATH.pathname}`);
