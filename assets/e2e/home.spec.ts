import { fileURLToPath } from 'node:url';
import { test, expect } from './fixtures';
import { signInWithForm } from './helpers';

const shots = (name: string) => fileURLToPath(new URL(`../test-results/${name}`, import.meta.url));

test('the server sends the strict CSP with the app', async ({ page }) => {
  const res = await page.goto('/');
  expect(res?.status()).toBe(200);
  const csp = res?.headers()['content-security-policy'] ?? '';
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("style-src 'self'");
  expect(csp).not.toContain('unsafe-inline');
});

test('home shows the Database card with the real table count', async ({ page, request, accessToken }) => {
  const headers: Record<string, string> = accessToken ? { Authorization: `Bearer ${accessToken}` } : {};
  const diag = await (await request.get('/api/v1/diag/db', { headers })).json();
  const health = await (await request.get('/api/v1/health')).json();
  expect(diag.reachable).toBe(true);

  await page.goto('/');
  await expect(page).toHaveTitle('Home · Purplebook');
  await expect(page.getByRole('heading', { level: 1, name: 'Home' })).toBeVisible();

  const card = page.getByRole('region', { name: 'Database' });
  await expect(card).toBeVisible();
  await expect(card.getByTestId('db-status')).toHaveAttribute('data-state', 'ok');
  await expect(card.getByTestId('db-status')).toHaveText('Reachable');
  // The exact number of tables is checked against the migrations in Go
  // (app/db schema tests); here the card must show what the server counts.
  expect(diag.table_count).toBeGreaterThan(0);
  await expect(card.getByTestId('db-table-count')).toHaveText(String(diag.table_count));
  await expect(card.getByTestId('db-driver')).toHaveText(/^sqlite$/i);
  await expect(card.getByTestId('db-migration-version')).toContainText(String(diag.migration_version));
  await expect(card.getByTestId('db-dirty')).toHaveAttribute('data-dirty', 'false');
  await expect(card.getByTestId('db-dirty')).toHaveText('Clean');

  // Footer: the server version from /health.
  await expect(page.getByTestId('server-version')).toHaveText(`Version ${health.version}`);
  await expect(page.getByRole('contentinfo')).toContainText('Server online');
});

test('screenshots of home in light and dark theme', async ({ page }) => {
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.goto('/');
    await expect(page.getByTestId('db-table-count')).toHaveText(/^[1-9]\d*$/);
    await expect(page.getByTestId('server-version')).toContainText('Version');
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    // The theme follows the system preference: dark background in dark mode and vice versa.
    const [r, g, b] = bg.match(/\d+/g)!.map(Number);
    const luminance = (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
    if (scheme === 'dark') expect(luminance).toBeLessThan(0.2);
    else expect(luminance).toBeGreaterThan(0.8);
    await page.screenshot({ path: shots(`home-${scheme}.png`), fullPage: true });
  }
});

test('the Database card shows an unreachable database instead of crashing', async ({ page, pageGuard }) => {
  pageGuard.allowConsoleErrors.push(/status of 503/);
  await page.route('**/api/v1/diag/db', (route) =>
    route.fulfill({
      status: 503,
      contentType: 'application/json',
      body: JSON.stringify({ reachable: false, driver: 'sqlite', migration_version: 0, dirty: false, table_count: 0, error: 'the database does not answer' }),
    }),
  );
  await page.goto('/');
  const card = page.getByRole('region', { name: 'Database' });
  await expect(card.getByTestId('db-status')).toHaveAttribute('data-state', 'down');
  await expect(card.getByTestId('db-status')).toHaveText('Unreachable');
  await expect(card.getByRole('alert')).toContainText('Database unreachable');
  await expect(card.getByRole('alert')).toContainText('The database does not answer.');
  await expect(card.getByTestId('db-table-count')).toHaveText('—');
  await page.screenshot({ path: shots('home-db-unreachable.png') });
});

test.describe('signed out', () => {
  test.use({ signedIn: false });

  test('Home asks to sign in first, then shows the Database card', async ({ page }) => {
    test.skip(!process.env.PURPLEBOOK_E2E_ADMIN_EMAIL, 'the server has no accounts');
    await page.goto('/');
    await expect(page).toHaveURL(/\/login$/);
    // The footer needs no session.
    await expect(page.getByTestId('server-version')).toContainText('Version');
    await signInWithForm(page, process.env.PURPLEBOOK_E2E_ADMIN_EMAIL!, process.env.PURPLEBOOK_E2E_ADMIN_PASSWORD!);
    await expect(page).toHaveURL(/\/$/);
    const card = page.getByRole('region', { name: 'Database' });
    await expect(card.getByTestId('db-status')).toHaveAttribute('data-state', 'ok');
    await expect(card.getByTestId('db-table-count')).not.toHaveText('—');
  });
});

test('a network failure is reported with a clear message', async ({ page, pageGuard }) => {
  pageGuard.allowConsoleErrors.push(/ERR_FAILED|ERR_CONNECTION|Failed to load resource/);
  await page.route('**/api/v1/diag/db', (route) => route.abort('connectionrefused'));
  await page.goto('/');
  const card = page.getByRole('region', { name: 'Database' });
  await expect(card.getByTestId('db-status')).toHaveAttribute('data-state', 'unknown');
  await expect(card.getByTestId('db-error')).toContainText('Cannot reach the Purplebook server');
});
