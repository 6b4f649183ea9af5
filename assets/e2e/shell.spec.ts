import { fileURLToPath } from 'node:url';
import { test, expect } from './fixtures';

test('unknown paths show the 404 page; links navigate without a reload', async ({ page }) => {
  await page.goto('/no/such/page');
  await expect(page.getByRole('heading', { level: 1, name: 'Page not found' })).toBeVisible();
  await expect(page.getByTestId('not-found')).toContainText('/no/such/page');
  await expect(page).toHaveTitle('Page not found · Purplebook');

  // A marker on window survives only if the navigation stays client-side.
  await page.evaluate(() => ((window as unknown as { __marker: number }).__marker = 42));
  await page.getByRole('link', { name: 'Go to Home' }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole('region', { name: 'Waiting for you' })).toBeVisible();
  expect(await page.evaluate(() => (window as unknown as { __marker?: number }).__marker)).toBe(42);

  // Back button returns to the 404 page (History API).
  await page.goBack();
  await expect(page.getByRole('heading', { level: 1, name: 'Page not found' })).toBeVisible();
  await page.screenshot({ path: fileURLToPath(new URL('../test-results/not-found.png', import.meta.url)) });
});

test('deep links load through the server fallback', async ({ page }) => {
  for (const p of ['/no-such-area/0190a4c2-7d3e-7abc-8def-0123456789ab', '/admin/no-such-page']) {
    const res = await page.goto(p);
    expect(res?.status()).toBe(200);
    await expect(page.getByRole('heading', { level: 1, name: 'Page not found' })).toBeVisible();
  }
});

test('navigation is labelled and marks the current page', async ({ page }) => {
  await page.goto('/');
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link', { name: 'Home' })).toHaveAttribute('aria-current', 'page');
  await expect(page.getByRole('banner')).toContainText('Purplebook');
});

test('the skip link moves keyboard focus to the main content', async ({ page }) => {
  await page.goto('/');
  await page.keyboard.press('Tab');
  const skip = page.getByRole('link', { name: 'Skip to main content' });
  await expect(skip).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.locator('#main-content')).toBeFocused();
});

// The session is restored after the first render: until /auth/refresh answers,
// the page shows the bare layout, then the shell. Holding that answer makes the
// order certain: a keyboard user who used the skip link meanwhile keeps focus
// on the main content when the shell appears (it once replaced <main>).
test('the skip link focus survives the session restore', async ({ page }) => {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route('**/api/v1/auth/refresh', async (route) => {
    await held;
    await route.continue();
  });
  await page.goto('/');
  await expect(page.getByTestId('bare-layout')).toBeVisible();
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Skip to main content' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.locator('#main-content')).toBeFocused();

  release();
  await expect(page.getByRole('navigation', { name: 'Main' })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Database' })).toBeVisible();
  await expect(page.locator('#main-content')).toBeFocused();
});

test('the theme toggle cycles system → light → dark and persists', async ({ page }) => {
  await page.emulateMedia({ colorScheme: 'light' });
  await page.goto('/');
  const toggle = page.getByTestId('theme-toggle');
  const html = page.locator('html');
  await expect(toggle).toHaveAttribute('data-pref', 'system');
  await expect(html).not.toHaveAttribute('data-theme', /.*/);

  await toggle.click();
  await expect(toggle).toHaveAttribute('data-pref', 'light');
  await expect(html).toHaveAttribute('data-theme', 'light');

  await toggle.click();
  await expect(toggle).toHaveAttribute('data-pref', 'dark');
  await expect(html).toHaveAttribute('data-theme', 'dark');
  expect(await page.evaluate(() => localStorage.getItem('purplebook.theme'))).toBe('dark');
  await expect(toggle).toHaveAccessibleName(/Theme: dark/);

  // Applied again before first paint after a reload (theme-init.js), though the system is light.
  await page.reload();
  await expect(html).toHaveAttribute('data-theme', 'dark');
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  expect(bg).toBe('rgb(13, 15, 20)');

  await toggle.click();
  await expect(toggle).toHaveAttribute('data-pref', 'system');
  expect(await page.evaluate(() => localStorage.getItem('purplebook.theme'))).toBeNull();
});

test.describe('narrow screen', () => {
  test.use({ viewport: { width: 390, height: 800 } });

  test('the navigation opens from the menu button and closes after navigating', async ({ page }) => {
    await page.goto('/no-such-page');
    const nav = page.getByRole('navigation', { name: 'Main' });
    await expect(nav).toBeHidden();
    const menu = page.getByRole('button', { name: 'Open navigation' });
    await expect(menu).toHaveAttribute('aria-expanded', 'false');
    await menu.click();
    await expect(nav).toBeVisible();
    await expect(page.getByRole('button', { name: 'Close navigation' })).toHaveAttribute('aria-expanded', 'true');
    await page.screenshot({ path: fileURLToPath(new URL('../test-results/mobile-nav.png', import.meta.url)) });
    await nav.getByRole('link', { name: 'Home' }).click();
    await expect(page.getByRole('region', { name: 'Waiting for you' })).toBeVisible();
    await expect(nav).toBeHidden();
    await page.screenshot({ path: fileURLToPath(new URL('../test-results/mobile-home.png', import.meta.url)), fullPage: true });
  });
});
