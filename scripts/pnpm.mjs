#!/usr/bin/env node
// Runs the pnpm version pinned in package.json's `packageManager`, fetched with npx.
// Corepack is not used: its signature check fails against registries that serve
// metadata without signatures (docs/testing.md, "pnpm without corepack").
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const root = new URL('..', import.meta.url);
const { packageManager } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
const result = spawnSync('npx', ['--yes', packageManager, ...process.argv.slice(2)], {
  stdio: 'inherit',
  cwd: root,
  env: { ...process.env, npm_config_update_notifier: 'false' },
});
process.exit(result.status ?? 1);
