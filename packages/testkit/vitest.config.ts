import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'testkit',
    include: ['test/**/*.test.ts'],
    // Writes 18 MB and 50 MB files and runs dcmtk on them.
    testTimeout: 30_000,
  },
});
