/** Small helpers of the accounts specs: unique users made through the API, screenshots in both themes. */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Page } from '@playwright/test';
import { apiAs } from './accounts';

/** Where screenshots go: test-results/ (git-ignored), or $PURPLEBOOK_E2E_SHOTS. */
export const shot = (name: string) =>
  process.env.PURPLEBOOK_E2E_SHOTS ? `${process.env.PURPLEBOOK_E2E_SHOTS}/${name}` : fileURLToPath(new URL(`../test-results/${name}`, import.meta.url));

/**
 * Screenshots in light and dark (`<name>-light.png`, `<name>-dark.png`). With
 * fullPage the viewport grows to the page's height first (Playwright's own
 * full-page capture repeats the sticky top bar).
 */
export async function shots(page: Page, name: string, opts: { fullPage?: boolean } = {}): Promise<void> {
  const size = page.viewportSize() ?? { width: 1280, height: 800 };
  if (opts.fullPage ?? true) {
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    await page.setViewportSize({ width: size.width, height: Math.min(Math.max(size.height, height), 4000) });
  }
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.screenshot({ path: shot(`${name}-${scheme}.png`), animations: 'disabled' });
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize(size);
}

export function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

export interface TestUser {
  id: string;
  email: string;
  name: string;
  password: string;
}

interface GroupLite {
  id: string;
  name: string;
}

export async function groupId(baseURL: string, adminToken: string, name: string): Promise<string> {
  const page = await apiAs<{ items: GroupLite[] }>(baseURL, adminToken, 'GET', '/groups?per_page=200');
  const g = page.items.find((x) => x.name === name);
  if (!g) throw new Error(`e2e: no group named ${name}`);
  return g.id;
}

/** A new account in the named groups (default: Viewers). */
export async function makeUser(baseURL: string, adminToken: string, opts: { groups?: string[]; name?: string } = {}): Promise<TestUser> {
  const tag = unique('u');
  const email = `${tag}@example.org`;
  const name = opts.name ?? `Tess ${tag.slice(-6)}`;
  const password = `pw-${randomBytes(9).toString('hex')}`;
  const ids: string[] = [];
  for (const g of opts.groups ?? ['Viewers']) ids.push(await groupId(baseURL, adminToken, g));
  const u = await apiAs<{ id: string }>(baseURL, adminToken, 'POST', '/users', { email, name, password, group_ids: ids });
  return { id: u.id, email, name, password };
}

/** Signs in through the login form (the page must be on /login). */
export async function signInWithForm(page: Page, email: string, password: string): Promise<void> {
  const form = page.getByTestId('login');
  await form.getByLabel('Email').fill(email);
  await form.getByRole('textbox', { name: 'Password', exact: true }).fill(password);
  await form.getByRole('button', { name: 'Sign in' }).click();
}
