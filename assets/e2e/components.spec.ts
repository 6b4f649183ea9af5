import { fileURLToPath } from 'node:url';
import { test, expect } from './fixtures';

const shots = (name: string) => fileURLToPath(new URL(`../test-results/${name}`, import.meta.url));

test.beforeEach(async ({ page }) => {
  await page.goto('/_ui');
  await expect(page.getByRole('heading', { level: 1, name: 'Components' })).toBeVisible();
});

test('dialog: focus moves in, Tab is trapped, Esc closes and focus returns', async ({ page }) => {
  const opener = page.getByTestId('open-dialog');
  await opener.click();
  const dialog = page.getByRole('dialog', { name: 'Invite a team member' });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByLabel('Name')).toBeFocused();

  // Tab through every control and wrap around without leaving the dialog.
  for (let i = 0; i < 8; i++) {
    await page.keyboard.press('Tab');
    expect(await dialog.evaluate((d) => d.contains(document.activeElement))).toBe(true);
  }
  await page.keyboard.press('Shift+Tab');
  expect(await dialog.evaluate((d) => d.contains(document.activeElement))).toBe(true);

  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await expect(opener).toBeFocused();
});

test('form fields show the server details as inline errors', async ({ page }) => {
  await page.getByTestId('open-dialog').click();
  const dialog = page.getByRole('dialog', { name: 'Invite a team member' });
  await dialog.getByRole('button', { name: 'Create invitation' }).click();

  const name = dialog.getByLabel('Name');
  await expect(name).toHaveAttribute('aria-invalid', 'true');
  await expect(name).toHaveAccessibleDescription('Name is required.');
  const email = dialog.getByLabel('Email');
  await expect(email).toHaveAccessibleDescription(/The link is shown once.*Email must be an email address/);
  // The error toast shows above the modal dialog and can be dismissed there.
  const errorToast = page.getByRole('alert').getByTestId('toast').filter({ hasText: 'Some fields are invalid.' });
  await expect(errorToast).toBeVisible();
  await page.screenshot({ path: shots('components-dialog.png') });
  await errorToast.getByRole('button', { name: 'Dismiss notification' }).click();
  await expect(errorToast).toBeHidden();
  await expect(dialog).toBeVisible();

  await name.fill('Ana Analyst');
  await email.fill('ana@example.org');
  await dialog.getByRole('button', { name: 'Create invitation' }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByRole('status').filter({ hasText: 'Invitation for Ana Analyst created.' })).toBeVisible();
});

test('drawer opens as a labelled dialog and closes with its close button', async ({ page }) => {
  await page.getByTestId('open-drawer').click();
  const drawer = page.getByRole('dialog', { name: 'T1059.001 PowerShell' });
  await expect(drawer).toBeVisible();
  await drawer.getByRole('button', { name: 'Close' }).click();
  await expect(drawer).toBeHidden();
  await expect(page.getByTestId('open-drawer')).toBeFocused();
});

test('table: sortable headers and pagination', async ({ page }) => {
  const table = page.getByRole('table', { name: 'Sample results' });
  const firstId = () => table.locator('tbody tr').first().locator('td').first();
  await expect(table.locator('tbody tr')).toHaveCount(5);
  await expect(firstId()).toHaveText('T1003.001');
  await expect(page.getByTestId('sample-table')).toContainText('1–5 of 8');

  const idHeader = table.getByRole('columnheader', { name: 'ID' });
  await expect(idHeader).toHaveAttribute('aria-sort', 'ascending');
  await idHeader.getByRole('button').click();
  await expect(idHeader).toHaveAttribute('aria-sort', 'descending');
  await expect(firstId()).toHaveText('T1566.001');

  const controls = table.getByRole('columnheader', { name: 'Controls' });
  await controls.getByRole('button').focus();
  await page.keyboard.press('Enter');
  await expect(controls).toHaveAttribute('aria-sort', 'ascending');
  await expect(idHeader).toHaveAttribute('aria-sort', 'none');
  await expect(firstId()).toHaveText('T1082');

  await page.getByRole('button', { name: 'Next page' }).click();
  await expect(table.locator('tbody tr')).toHaveCount(3);
  await expect(page.getByTestId('sample-table')).toContainText('6–8 of 8');
  await expect(page.getByRole('button', { name: 'Next page' })).toBeDisabled();
});

test('toasts are announced in live regions and can be dismissed', async ({ page }) => {
  await page.getByTestId('toast-success').click();
  const toast = page.getByRole('status').getByTestId('toast').filter({ hasText: 'Saved.' });
  await expect(toast).toBeVisible();
  await toast.getByRole('button', { name: 'Dismiss notification' }).click();
  await expect(toast).toBeHidden();
});

test('screenshots of the component gallery', async ({ page }) => {
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.screenshot({ path: shots(`components-${scheme}.png`), fullPage: true });
  }
});
