import { defineConfig } from 'vitest/config';

// The soak's own tests: its fault proxy and checks, and the 3-minute soak (a real stack).
export default defineConfig({
  test: {
    name: 'soak',
    include: ['test/**/*.test.ts'],
    testTimeout: 30 * 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
