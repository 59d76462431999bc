import { defineConfig } from 'vitest/config';

// Unit tests in Node (fake-indexeddb); the browser behaviour is proven in e2e/ with Chromium.
export default defineConfig({
  test: {
    name: 'edge',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    setupFiles: ['fake-indexeddb/auto'],
  },
});
