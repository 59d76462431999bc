import { defineConfig } from 'vitest/config';

// One test run for the whole workspace; each package keeps its own config.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/sync-server', 'apps/edge', 'soak'],
  },
});
