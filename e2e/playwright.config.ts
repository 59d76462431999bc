import { defineConfig } from '@playwright/test';
import { chromiumLaunchOptions } from '@xray/testkit';

export default defineConfig({
  testDir: './tests',
  // One real server stack for the run; tests read its counters, so they run one at a time.
  workers: 1,
  fullyParallel: false,
  timeout: 300_000,
  expect: { timeout: 30_000 },
  reporter: [['list'], ['json', { outputFile: '../.tmp/playwright-report.json' }]],
  globalSetup: './support/global-setup.ts',
  use: {
    browserName: 'chromium',
    launchOptions: chromiumLaunchOptions(),
    trace: 'retain-on-failure',
  },
});
