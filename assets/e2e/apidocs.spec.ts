/**
 * The API page (/help/api) renders the server's own OpenAPI document for any
 * signed-in user: routes grouped by tag with method, path and permission, a
 * search box, and a route that opens to its parameters and schemas. It fits
 * at 1280 and 390 px and passes axe.
 */
import { test, expect } from './fixtures';
import { apiLogin } from './accounts';
import { makeUser, shot, shots } from './helpers';
import { expectAccessible } from './a11y';
import { noHorizontalScroll, signedInPage } from './ux';

const base = () => process.env.PURPLEBOOK_E2E_BASE_URL!;
const admin = () => ({ email: process.env.PURPLEBOOK_E2E_ADMIN_EMAIL!, password: process.env.PURPLEBOOK_E2E_ADMIN_PASSWORD! });

test('the API page lists, searches and expands the documented routes', async ({ browser }) => {
  test.skip(!process.env.PURPLEBOOK_E2E_ADMIN_EMAIL, 'the server has no accounts');
  test.setTimeout(120_000);
  const token = await apiLogin(base(), admin().email, admin().password);
  const viewer = await makeUser(base(), token, { groups: ['Viewers'] });
  const doc = (await (await fetch(`${base()}/api/v1/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
  const total = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);

  for (const viewport of [
    { width: 1280, height: 800 },
    { width: 390, height: 844 },
  ]) {
    const s = await signedInPage(browser, viewer, '/', viewport);
    const page = s.page;
    // In the navigation for a user without any admin permission.
    if (viewport.width > 800) {
      await page.getByRole('link', { name: 'API', exact: true }).click();
    } else {
      await page.goto('/help/api');
    }
    await expect(page).toHaveURL(/\/help\/api$/);
    await expect(page.getByRole('heading', { level: 1, name: 'API' })).toBeVisible();
    await expect(page.getByTestId('api-op')).toHaveCount(total);
    await expect(page.getByRole('heading', { level: 2, name: 'missions' })).toBeVisible();
    await noHorizontalScroll(page);

    // Search narrows to the mission test routes; the URL keeps the query.
    await page.getByRole('searchbox', { name: 'Search the API' }).fill('missions tests tid');
    await page.keyboard.press('Enter');
    await expect(page).toHaveURL(/q=missions/);
    const patch = page.locator('[data-op="PATCH /api/v1/missions/{id}/tests/{tid}"]');
    await expect(patch).toBeVisible();
    await expect(page.locator('[data-op="GET /api/v1/health"]')).toHaveCount(0);
    const shown = await page.getByTestId('api-op').count();
    expect(shown).toBeGreaterThan(0);
    expect(shown).toBeLessThan(total);

    // Expand a route: its permission, path parameters, request schema and answers.
    await patch.locator('summary').first().click();
    await expect(patch).toContainText('mission.read');
    await expect(patch).toContainText('tid');
    await expect(patch.getByText('Request body')).toBeVisible();
    await expect(patch.getByText('application/json').first()).toBeVisible();
    await patch.getByText('200 OK').click();
    await expect(patch.locator('code.name', { hasText: /^version$/ }).first()).toBeVisible();
    await noHorizontalScroll(page);
    await expectAccessible(page, `API page at ${viewport.width}`);
    await shots(page, `api-docs-${viewport.width}`);

    // Nothing matches: an empty state, not a blank page.
    await page.getByRole('searchbox', { name: 'Search the API' }).fill('no-such-route-anywhere');
    await page.keyboard.press('Enter');
    await expect(page.getByText('No route matches')).toBeVisible();
    if (viewport.width > 800) await page.screenshot({ path: shot('api-docs-empty.png') });
    s.check();
    await s.close();
  }
});
