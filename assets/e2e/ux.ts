/** Helpers of the work-page, mission and admin UX specs: layout checks and second browser contexts. */
import type { Browser, Page } from '@playwright/test';
import { expect, watchPage } from './fixtures';
import { signInWithForm, type TestUser } from './helpers';

const base = () => process.env.PURPLEBOOK_E2E_BASE_URL!;

/** The page does not scroll sideways: everything fits the viewport's width. */
export async function noHorizontalScroll(page: Page): Promise<void> {
  const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
  expect(scroll, `page width ${scroll} px at a ${inner} px viewport`).toBeLessThanOrEqual(inner);
}

/** A new browser context signed in through the login page at `path`; with its CSP/console guard. */
export async function signedInPage(
  browser: Browser,
  user: TestUser,
  path: string,
  viewport = { width: 1280, height: 800 },
): Promise<{ page: Page; check: () => void; allow: (re: RegExp) => void; close: () => Promise<void> }> {
  const ctx = await browser.newContext({ baseURL: base(), viewport, locale: 'en-US', timezoneId: 'UTC' });
  const page = await ctx.newPage();
  const watch = await watchPage(page, new URL(base()).origin);
  await page.goto(path);
  await expect(page).toHaveURL(/\/login/);
  await signInWithForm(page, user.email, user.password);
  await expect(page).toHaveURL(new RegExp(`${path.replace(/[/]/g, '\\/')}$`));
  return { page, check: watch.check, allow: (re) => watch.guard.allowConsoleErrors.push(re), close: () => ctx.close() };
}
