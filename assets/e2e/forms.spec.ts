/**
 * One way to validate (issue 13, item 6): inline errors under the field,
 * worded with its label, never the browser's bubbles. The new-mission form
 * end to end: empty name, dates in the wrong order, then the server's own
 * answer for the edit of the same mission, shown the same way.
 */
import { test, expect as baseExpect } from './fixtures';

// The machine running the suite may be busy: generous waits, never sleeps.
const expect = baseExpect.configure({ timeout: 30_000 });
import { shots, unique } from './helpers';

test.beforeEach(() => {
  test.slow();
  test.skip(!process.env.PURPLEBOOK_E2E_ADMIN_EMAIL, 'the server has no accounts');
});

test('new mission: inline errors with the field labels, no native popups', async ({ page, pageGuard }) => {
  pageGuard.allowConsoleErrors.push(/status of 422/); // the server's refusal, shown inline
  await page.goto('/missions');
  await page.getByRole('button', { name: 'New mission' }).click();
  const dialog = page.getByTestId('mission-create');
  await expect(dialog).toBeVisible();
  // The browser's validation is off: the form is novalidate and nothing is natively required.
  expect(await dialog.locator('form').evaluate((f: HTMLFormElement) => f.noValidate)).toBe(true);
  expect(await dialog.locator('[required]').count()).toBe(0);

  await dialog.getByRole('button', { name: 'Create mission' }).click();
  const name = dialog.getByLabel('Name');
  await expect(name).toHaveAccessibleDescription('Name is required.');
  await expect(name).toHaveAttribute('aria-invalid', 'true');
  await expect(name).toBeFocused();

  const missionName = unique('Forms');
  await name.fill(missionName);
  await expect(name).not.toHaveAttribute('aria-invalid', 'true'); // the error goes while typing
  await dialog.getByLabel('Start date').fill('2031-05-10');
  await dialog.getByLabel('End date').fill('2031-05-01');
  await dialog.getByRole('button', { name: 'Create mission' }).click();
  await expect(dialog.getByLabel('End date')).toHaveAccessibleDescription('End date must not be before the start date.');
  await shots(page, 'forms-new-mission-errors', { fullPage: false });

  await dialog.getByLabel('End date').fill('2031-05-20');
  await dialog.getByRole('button', { name: 'Create mission' }).click();
  await expect(page.getByRole('heading', { level: 1, name: missionName })).toBeVisible();

  // The edit dialog shows the server's own wording the same way: make the
  // server (not the client) refuse by sending a date the date input cannot hold.
  await page.getByTestId('mission-edit').click();
  const edit = page.getByTestId('mission-create');
  await expect(edit.getByLabel('Name')).toHaveValue(missionName);
  await page.route('**/api/v1/missions/*', async (route) => {
    if (route.request().method() !== 'PATCH') return route.fallback();
    const body = JSON.parse(route.request().postData() ?? '{}');
    await route.continue({ postData: JSON.stringify({ ...body, starts_on: '2031-06-01', ends_on: '2031-05-01' }) });
  });
  await edit.getByRole('button', { name: 'Save' }).click();
  await expect(edit.getByLabel('End date')).toHaveAccessibleDescription('End date must not be before the start date.');
  await page.unroute('**/api/v1/missions/*');
  await shots(page, 'forms-edit-mission-server-error', { fullPage: false });
});
