import { defineConfig } from 'vitest/config';

// Unit tests in Node (fake-indexeddb; the Electron shell's plain modules); the browser behaviour
// is proven in e2e/ with Chromium. Each test sits beside the module it tests; shared fixtures are in
// test/fixtures.ts.
export default defineConfig({
  test: {
    name: 'edge',
    include: ['src/**/*.test.{ts,tsx}', 'electron/**/*.test.ts', 'vite.config.test.ts'],
    setupFiles: ['fake-indexeddb/auto'],
  },
});
