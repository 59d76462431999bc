import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'sync-server',
    globalSetup: ['./test/global-setup.ts'],
    // SCALE=1: the measurements over a large index instead (test/scale, `npm run scale` here).
    include: process.env.SCALE ? ['test/scale/*.scale.ts'] : ['test/**/*.test.ts', 'src/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
  },
});
