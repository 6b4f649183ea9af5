/**
 * Shared test fixture: every test fails on a CSP violation, an uncaught page
 * error, an unexpected console error, or a request that leaves the server's
 * origin (nothing may be loaded from the internet).
 */
import { test as base, expect, type Page } from '@playwright/test';

export interface Guard {
  /** Console errors matching one of these are expected by the test. */
  allowConsoleErrors: RegExp[];
}

interface Options {
  /** Sign the browser context in before the test (default true). */
  signedIn: boolean;
}

interface Fixtures {
  pageGuard: Guard;
  /**
   * The e2e admin's access token when signed in ('' otherwise). Signing in
   * posts to /api/v1/auth/login from the page's context, which sets the
   * HttpOnly refresh cookie as the login screen would; the app then restores
   * the session from it.
   */
  accessToken: string;
}

/**
 * Watches a page for CSP violations, uncaught errors, unexpected console
 * errors and requests to other origins; check() fails the test with what it
 * saw. The `pageGuard` fixture does this for `page`; call it yourself for
 * pages of extra browser contexts (browser.newContext()).
 */
export async function watchPage(page: Page, origin: string): Promise<{ guard: Guard; check: () => void }> {
  const guard: Guard = { allowConsoleErrors: [] };
  const csp: string[] = [];
  const consoleErrors: string[] = [];
  const pageErrors: string[] = [];
  const foreign: string[] = [];

  await page.exposeFunction('__pbReportCsp', (v: string) => csp.push(v));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      const report = (window as unknown as { __pbReportCsp: (v: string) => void }).__pbReportCsp;
      report(`${e.violatedDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    // Restoring a session without a refresh cookie is answered 401: the normal signed-out start.
    if (/status of 401/.test(text) && msg.location().url.endsWith('/api/v1/auth/refresh')) return;
    if (/Content[- ]Security[- ]Policy/i.test(text)) csp.push(text);
    else consoleErrors.push(text);
  });
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  page.on('request', (req) => {
    const url = req.url();
    if (url.startsWith('data:') || url.startsWith('blob:') || url === 'about:blank') return;
    if (new URL(url).origin !== origin) foreign.push(url);
  });

  return {
    guard,
    check() {
      expect(csp, 'Content-Security-Policy violations').toEqual([]);
      expect(pageErrors, 'uncaught errors in the page').toEqual([]);
      expect(foreign, 'requests leaving the server origin').toEqual([]);
      const unexpected = consoleErrors.filter((t) => !guard.allowConsoleErrors.some((re) => re.test(t)));
      expect(unexpected, 'console errors').toEqual([]);
    },
  };
}

export const test = base.extend<Options & Fixtures>({
  signedIn: [true, { option: true }],

  pageGuard: [
    async ({ page, baseURL }, use) => {
      const watch = await watchPage(page, new URL(baseURL!).origin);
      await use(watch.guard);
      watch.check();
    },
    { auto: true },
  ],

  accessToken: [
    async ({ page, signedIn }, use) => {
      const email = process.env.PURPLEBOOK_E2E_ADMIN_EMAIL;
      const password = process.env.PURPLEBOOK_E2E_ADMIN_PASSWORD;
      if (!signedIn || !email || !password) {
        await use(''); // signed out, or a server without accounts
        return;
      }
      const res = await page.request.post('/api/v1/auth/login', { data: { email, password } });
      expect(res.status(), await res.text()).toBe(200);
      const body = (await res.json()) as { access_token: string };
      await use(body.access_token);
    },
    { auto: true },
  ],
});

export { expect };
