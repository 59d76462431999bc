import { defineConfig } from 'vitest/config';

// Unit tests in Node (fake-indexeddb; the Electron shell's plain modules); the browser behaviour
// is proven in e2e/ with Chromium.
export default defineConfig({
  test: {
    name: 'edge',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'electron/**/*.test.ts'],
    setupFiles: ['fake-indexeddb/auto'],
  },
});
