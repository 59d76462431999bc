import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// One test run for the whole workspace; each package keeps its own config.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/sync-server', 'apps/edge', 'soak'],
    // Vitest's default is one worker fewer than the cores: one on a 2-core machine, where the
    // files (mostly waiting on servers, PostgreSQL and S3) then ran one after another for 32
    // minutes. Two files at once there took 17 (each file has its own database, bucket and ports).
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});
