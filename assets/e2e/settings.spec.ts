/**
 * Screens for what the API already did (issue 13, item 7): detection levels
 * and security controls settings, and the admin reset of a user's MFA.
 * Everything it changes it puts back (other specs use the default controls).
 */
import { test, expect as baseExpect } from './fixtures';

// The machine running the suite may be busy: generous waits, never sleeps.
const expect = baseExpect.configure({ timeout: 30_000 });
import { apiAs, apiLogin } from './accounts';
import { makeUser, shots, unique } from './helpers';
import { totp } from './totp';

const base = () => process.env.PURPLEBOOK_E2E_BASE_URL!;

test.beforeEach(({ accessToken }) => {
  test.slow();
  test.skip(!accessToken, 'the settings need the e2e admin');
});

test('detection levels: add, reorder with the keyboard, edit colour and "counts as detected", delete', async ({ page }) => {
  await page.goto('/admin/settings');
  await expect(page.getByRole('heading', { level: 1, name: 'Settings' })).toBeVisible();
  const card = page.getByTestId('detection-levels');
  const rows = card.getByTestId('level-row');
  await expect(rows.first()).toBeVisible();
  const before = await rows.count();

  // Add: the key follows the name; an empty name is refused inline.
  await card.getByTestId('level-add').click();
  const form = page.getByTestId('level-form');
  await form.getByRole('button', { name: 'Add level' }).click();
  await expect(form.getByLabel('Name')).toHaveAccessibleDescription('Name is required.');
  const name = `Found by IR ${unique('x').slice(-4)}`;
  await form.getByLabel('Name').fill(name);
  await expect(form.getByRole('textbox', { name: 'Key' })).toHaveValue(/^found_by_ir_/);
  await form.getByRole('checkbox', { name: /Counts as detected/ }).check();
  await form.getByRole('button', { name: 'Add level' }).click();
  await expect(form).toBeHidden();
  await expect(rows).toHaveCount(before + 1);
  await expect(rows.last()).toContainText(name);
  await expect(rows.last()).toContainText('counts as detected');

  // Reorder with the keyboard: the move button keeps the focus.
  const up = card.getByRole('button', { name: `Move ${name} up` });
  await up.focus();
  await page.keyboard.press('Enter');
  await expect(rows.nth(before - 1)).toContainText(name);
  await expect(up).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(rows.nth(before - 2)).toContainText(name);
  await page.reload();
  await expect(rows.nth(before - 2)).toContainText(name);

  // Edit: colour and "counts as detected".
  await card.getByRole('button', { name: `Edit ${name}` }).click();
  await form.getByRole('textbox', { name: 'Colour', exact: true }).fill('#12345g');
  await form.getByRole('button', { name: 'Save' }).click();
  await expect(form.getByRole('textbox', { name: 'Colour', exact: true })).toHaveAccessibleDescription(/Colour must be a colour in the form #rrggbb/);
  await form.getByRole('textbox', { name: 'Colour', exact: true }).fill('#0a7f5a');
  await form.getByRole('checkbox', { name: /Counts as detected/ }).uncheck();
  await form.getByRole('button', { name: 'Save' }).click();
  await expect(form).toBeHidden();
  const row = rows.filter({ hasText: name });
  await expect(row).toContainText('not detected');
  await shots(page, 'settings');

  // Delete (unused).
  await card.getByRole('button', { name: `Delete ${name}` }).click();
  await page.getByRole('button', { name: 'Delete level' }).click();
  await expect(rows).toHaveCount(before);
});

test('security controls: add, reorder, save; a duplicate is refused', async ({ page }) => {
  await page.goto('/admin/settings');
  const card = page.getByTestId('security-controls');
  const names = card.getByTestId('control-name');
  await expect(names.first()).toBeVisible();
  const original = await names.evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value));

  await card.getByRole('button', { name: 'Add control' }).click();
  await expect(names.last()).toBeFocused();
  await page.keyboard.type(original[0].toLowerCase());
  await card.getByTestId('controls-save').click();
  await expect(card.getByTestId('controls-error')).toContainText(`Security controls must not name a control twice (${original[0].toLowerCase()})`);
  await names.last().fill('Deception');
  await card.getByRole('button', { name: 'Move Deception up' }).click();
  await card.getByTestId('controls-save').click();
  await expect(page.getByText('The security controls were saved.')).toBeVisible();
  await page.reload();
  await expect(names.first()).toBeVisible();
  const saved = await names.evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value));
  expect(saved).toEqual([...original.slice(0, -1), 'Deception', original[original.length - 1]]);
  await shots(page, 'settings-controls', { fullPage: false });

  // Put the defaults back for the other specs.
  await card.getByRole('button', { name: 'Remove Deception' }).click();
  await card.getByTestId('controls-save').click();
  await expect(page.getByText('The security controls were saved.').first()).toBeVisible();
  await page.reload();
  await expect(names.first()).toBeVisible();
  expect(await names.evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value))).toEqual(original);
});

test('an administrator resets the MFA of a user who lost the phone', async ({ page, accessToken }) => {
  const u = await makeUser(base(), accessToken, { name: `Lost Phone ${unique('p').slice(-4)}` });
  const tok = await apiLogin(base(), u.email, u.password);
  const enrol = await apiAs<{ secret: string }>(base(), tok, 'POST', '/auth/mfa/enroll');
  await apiAs(base(), tok, 'POST', '/auth/mfa/confirm', { code: totp(enrol.secret) });

  await page.goto(`/admin/users?q=${encodeURIComponent(u.email)}`);
  const row = page.getByRole('row').filter({ hasText: u.email });
  await expect(row).toContainText('2FA');
  await row.getByRole('button', { name: `Reset two-factor authentication of ${u.name}` }).click();
  const dialog = page.getByTestId('user-mfa-reset-dialog');
  await expect(dialog).toContainText(u.email);
  await shots(page, 'users-mfa-reset', { fullPage: false });
  await dialog.getByRole('button', { name: 'Reset two-factor authentication' }).click();
  await expect(row).not.toContainText('2FA');
  await expect(row.getByRole('button', { name: /Reset two-factor/ })).toHaveCount(0);
  // The password alone signs in now.
  const again = await page.request.post('/api/v1/auth/login', { data: { email: u.email, password: u.password } });
  expect(await again.json()).toHaveProperty('access_token');
});
