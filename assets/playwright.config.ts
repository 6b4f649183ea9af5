import { defineConfig } from '@playwright/test';

/**
 * Browser end-to-end tests against the real `purplebook` binary.
 *
 * e2e/global-setup.ts starts `purplebook serve` on a fresh temp data dir and a
 * loopback port the kernel picks, and exports its URL as
 * PURPLEBOOK_E2E_BASE_URL before the workers load this file; the function it
 * returns (Playwright's global teardown) stops it.
 *   PURPLEBOOK_BIN=/path/to/purplebook   use this binary (else: go build from the repo root)
 *   PURPLEBOOK_E2E_URL=http://host:port  test an already running server instead
 *   PURPLEBOOK_E2E_KEEP=1                keep the temp dir (data dir and server.log)
 *   CHROMIUM=/path/to/chromium           browser (default /usr/bin/chromium; never downloaded)
 */
export default defineConfig({
  testDir: './e2e',
  testMatch: '**/*.spec.ts',
  outputDir: './test-results',
  globalSetup: './e2e/global-setup.ts',
  // The summary reporter prints `e2e: N passed, N failed` as the very last line.
  reporter: [['list'], ['./e2e/summary-reporter.ts']],
  // One worker: specs share one server and its ATT&CK catalogue (some sync
  // or reset it), so running them side by side made results order-dependent.
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  timeout: 30_000,
  expect: { timeout: 10_000 },
  use: {
    baseURL: process.env.PURPLEBOOK_E2E_BASE_URL,
    browserName: 'chromium',
    viewport: { width: 1280, height: 800 },
    deviceScaleFactor: 1,
    locale: 'en-US',
    timezoneId: 'UTC',
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    serviceWorkers: 'block',
    launchOptions: {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  projects: [
    // auth.spec.ts resets the instance (first-run setup through the UI), which
    // wipes what other specs rely on: as the teardown of `chromium` it runs after
    // all of them (also when some failed), and restores the e2e admin at the end.
    // Alone: `npm run e2e -- e2e/auth.spec.ts`.
    { name: 'chromium', testIgnore: '**/auth.spec.ts', teardown: 'accounts' },
    { name: 'accounts', testMatch: '**/auth.spec.ts' },
  ],
});
