import { defineConfig } from '@playwright/test';

// Browser tests of the ops console (test/browser/*.browser.ts) on Debian's Chromium: Playwright's
// own browser download is not used. The global setup starts the built service and seeds a market.
export default defineConfig({
  testDir: 'test/browser',
  testMatch: '*.browser.ts',
  globalSetup: './test/browser/global-setup.ts',
  workers: 1,
  fullyParallel: false,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list']],
  outputDir: 'dist/playwright',
  use: {
    launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium' },
    viewport: { width: 1440, height: 900 },
    screenshot: 'only-on-failure',
  },
});
