/**
 * Sign-in, sign-out, the 401 → login → back flow, and the profile screens
 * (name, password, two-factor authentication, API tokens) against the real
 * server. Each test works on its own fresh account, so the e2e admin is
 * never changed.
 */
import { readFileSync } from 'node:fs';
import { test, expect as baseExpect } from './fixtures';
import { apiAs, apiLogin } from './accounts';
import { makeUser, shots, signInWithForm, shot } from './helpers';
import { totp } from './totp';

// Generous limits: these flows sign in several times (argon2) and the e2e machine may be busy.
const expect = baseExpect.configure({ timeout: 20_000 });
test.describe.configure({ timeout: 120_000 });

const base = () => process.env.PURPLEBOOK_E2E_BASE_URL!;
const admin = () => ({ email: process.env.PURPLEBOOK_E2E_ADMIN_EMAIL!, password: process.env.PURPLEBOOK_E2E_ADMIN_PASSWORD! });

test.beforeEach(() => {
  test.skip(!process.env.PURPLEBOOK_E2E_ADMIN_EMAIL, 'the server has no accounts');
});

test.describe('signed out', () => {
  test.use({ signedIn: false });

  test('the login page: server message for a wrong password, then back to ?next', async ({ page, pageGuard }) => {
    pageGuard.allowConsoleErrors.push(/status of 401/);
    const user = await makeUser(base(), await apiLogin(base(), admin().email, admin().password));

    await page.goto('/account');
    await expect(page).toHaveURL(/\/login\?next=%2Faccount$/);
    await expect(page).toHaveTitle('Sign in · Purplebook');
    const card = page.getByTestId('login');
    await expect(card.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
    await expect(card).toContainText('Sign in to continue to /account.');
    await expect(page.getByRole('navigation', { name: 'Main' })).toHaveCount(0); // bare layout
    await expect(card.getByLabel('Email')).toBeFocused();
    await shots(page, 'login');

    // Empty form: inline errors, no request.
    await card.getByRole('button', { name: 'Sign in' }).click();
    await expect(card.getByLabel('Email')).toHaveAccessibleDescription('Email is required.');

    await signInWithForm(page, user.email, 'not-the-password');
    await expect(page.getByTestId('login-error')).toHaveText('Email or password is incorrect.');
    await page.screenshot({ path: shot('login-error.png') });

    await signInWithForm(page, user.email, user.password);
    await expect(page).toHaveURL(/\/account$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Your account' })).toBeVisible();
    await expect(page.getByTestId('profile-email')).toHaveText(user.email);
  });

  test('a 429 shows when the next attempt is possible', async ({ page, pageGuard }) => {
    pageGuard.allowConsoleErrors.push(/status of 429/);
    await page.route('**/api/v1/auth/login', (route) =>
      route.fulfill({
        status: 429,
        contentType: 'application/json',
        headers: { 'Retry-After': '3' },
        body: JSON.stringify({
          error: { code: 'too_many_requests', message: 'Too many failed logins. Try again in 3 seconds.', details: { retry_after_seconds: 3 } },
          request_id: 'r1',
        }),
      }),
    );
    // The page's clock is the test's: the countdown moves when the test moves it.
    await page.clock.install();
    await page.goto('/login');
    await page.clock.pauseAt(Date.now() + 1000);
    await signInWithForm(page, 'someone@example.org', 'whatever-password');
    await expect(page.getByTestId('login-error')).toHaveText('Too many failed logins. Try again in 3 seconds.');
    await expect(page.getByTestId('login-wait')).toContainText('You can try again in 3 s');
    const submit = page.getByTestId('login').getByRole('button', { name: 'Try again in 3 s' });
    await expect(submit).toBeDisabled();
    await page.screenshot({ path: shot('login-429.png') });
    // The page updates its countdown once a second: one second on, 2 or 3 s are left
    // (depending on where that second's tick falls); four on, none.
    await page.clock.runFor(1000);
    await expect(page.getByTestId('login').getByRole('button', { name: /^Try again in [23] s$/ })).toBeDisabled();
    await page.clock.runFor(3000);
    await expect(page.getByTestId('login').getByRole('button', { name: 'Sign in' })).toBeEnabled();
    await expect(page.getByTestId('login-wait')).toHaveCount(0);
  });
});

test('the user menu works from the keyboard and signs out', async ({ page }) => {
  await page.goto('/');
  const menuButton = page.getByRole('button', { name: /Account menu for/ });
  await expect(menuButton).toBeVisible();
  await menuButton.focus();
  await page.keyboard.press('Enter');
  const menu = page.getByRole('menu', { name: 'Account' });
  await expect(menu).toBeVisible();
  await expect(menu.getByRole('menuitem', { name: 'Your account' })).toBeFocused();
  await page.keyboard.press('ArrowDown');
  await expect(menu.getByRole('menuitem', { name: 'Sign out' })).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(menu).toBeHidden();
  await expect(menuButton).toBeFocused();

  await menuButton.click();
  await page.screenshot({ path: shot('user-menu.png') });
  await page.getByRole('menuitem', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByRole('status').filter({ hasText: 'You are signed out.' })).toBeVisible();
  // The refresh cookie is gone: a reload stays signed out.
  await page.reload();
  await expect(page.getByTestId('login')).toBeVisible();
  await page.goto('/');
  await expect(page).toHaveURL(/\/login$/);
});

test('tabs share the session: simultaneous refreshes do not revoke it, sign-out reaches every tab', async ({ page, context }) => {
  const second = await context.newPage();
  await Promise.all([page.goto('/'), second.goto('/account')]);
  await expect(page.getByRole('heading', { level: 1, name: 'Home' })).toBeVisible();
  await expect(second.getByRole('heading', { level: 1, name: 'Your account' })).toBeVisible();
  // Both tabs restore their session from the one refresh cookie at the same moment,
  // three times over: the refreshes take turns (navigator.locks), so the rotated
  // token is never presented twice, which would revoke the whole session.
  for (let i = 0; i < 3; i++) {
    await Promise.all([page.reload(), second.reload()]);
    await expect(page.getByRole('heading', { level: 1, name: 'Home' })).toBeVisible();
    await expect(second.getByRole('heading', { level: 1, name: 'Your account' })).toBeVisible();
  }
  // Signing out in one tab signs out the other at once.
  await page.getByRole('button', { name: /Account menu for/ }).click();
  await page.getByRole('menuitem', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await expect(second).toHaveURL(/\/login\?next=%2Faccount$/);
  await second.close();
});

test('a 401 anywhere sends the user to the login and back to the page afterwards', async ({ page, context, pageGuard }) => {
  pageGuard.allowConsoleErrors.push(/status of 401/);
  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1, name: 'Home' })).toBeVisible();

  // The session ends behind the app's back: the refresh cookie is gone and the API refuses the token.
  await context.clearCookies();
  let refused = 0;
  await page.route('**/api/v1/users?*', (route) => {
    refused++;
    return route.fulfill({
      status: 401,
      contentType: 'application/json',
      body: JSON.stringify({ error: { code: 'token_expired', message: 'The access token has expired.', details: {} } }),
    });
  });
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
  await expect(page).toHaveURL(/\/login\?next=%2Fadmin%2Fusers$/);
  expect(refused).toBeGreaterThan(0);
  await page.unroute('**/api/v1/users?*');

  await signInWithForm(page, admin().email, admin().password);
  await expect(page).toHaveURL(/\/admin\/users$/);
  await expect(page.getByRole('table', { name: 'Users' })).toBeVisible();
});

test.describe('profile', () => {
  test.use({ signedIn: false });

  test('change the name and the password', async ({ page, pageGuard }) => {
    pageGuard.allowConsoleErrors.push(/status of 422/);
    const user = await makeUser(base(), await apiLogin(base(), admin().email, admin().password));
    await page.goto('/login?next=%2Faccount');
    await signInWithForm(page, user.email, user.password);
    await expect(page.getByRole('heading', { level: 1, name: 'Your account' })).toBeVisible();

    const profile = page.getByRole('region', { name: 'Profile' });
    await profile.getByLabel('Name').fill('Renamed Person');
    await profile.getByRole('button', { name: 'Save name' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Your name was saved.' })).toBeVisible();
    await expect(page.getByRole('button', { name: 'Account menu for Renamed Person' })).toBeVisible();

    const pw = page.getByRole('region', { name: 'Password' });
    await pw.getByRole('textbox', { name: 'Current password', exact: true }).fill('wrong-current-password');
    await pw.getByRole('textbox', { name: 'New password', exact: true }).fill('a brand new passphrase');
    await pw.getByRole('textbox', { name: 'Repeat the new password', exact: true }).fill('a brand new passphrase');
    await pw.getByRole('button', { name: 'Change password' }).click();
    await expect(pw.getByRole('textbox', { name: 'Current password', exact: true })).toHaveAccessibleDescription('Current password is incorrect.');

    await pw.getByRole('textbox', { name: 'Current password', exact: true }).fill(user.password);
    await pw.getByRole('button', { name: 'Change password' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Your password was changed.' })).toBeVisible();
    await expect(pw.getByRole('textbox', { name: 'Current password', exact: true })).toHaveValue('');
    await expect(apiLogin(base(), user.email, 'a brand new passphrase')).resolves.toBeTruthy();
  });

  test('two-factor authentication: enrol, recovery codes, sign in with a recovery code and with the app, turn off', async ({ page, pageGuard }) => {
    pageGuard.allowConsoleErrors.push(/status of 422/);
    const user = await makeUser(base(), await apiLogin(base(), admin().email, admin().password));
    await page.goto('/login?next=%2Faccount');
    await signInWithForm(page, user.email, user.password);

    const card = page.getByRole('region', { name: 'Two-factor authentication' });
    await expect(card.getByText('Off', { exact: true })).toBeVisible();
    await card.getByRole('button', { name: 'Set up two-factor authentication' }).click();
    const qr = card.getByRole('img', { name: /QR code/ });
    await expect(qr).toBeVisible();
    expect(await qr.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
    expect(await qr.getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    const secret = (await card.getByTestId('mfa-secret').inputValue()).replace(/\s/g, '');
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    await expect(card.getByLabel('Code')).toBeFocused();
    await shots(page, 'account-mfa-enrol');

    await card.getByLabel('Code').fill('12');
    await card.getByRole('button', { name: 'Turn on' }).click();
    await expect(card.getByLabel('Code')).toHaveAccessibleDescription(/6-digit code/);

    await card.getByLabel('Code').fill(totp(secret));
    await card.getByRole('button', { name: 'Turn on' }).click();
    const codes = card.getByTestId('recovery-codes').getByRole('listitem');
    await expect(codes).toHaveCount(10);
    const recovery = (await codes.allTextContents()).map((c) => c.trim());
    await shots(page, 'account-mfa-codes');

    // Download as text: made in the browser (blob:), nothing sent.
    const [download] = await Promise.all([page.waitForEvent('download'), card.getByRole('button', { name: 'Download as text' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^purplebook-recovery-codes-.*\.txt$/);
    const text = readFileSync(await download.path(), 'utf8');
    for (const c of recovery) expect(text).toContain(c);

    await card.getByRole('button', { name: 'I have saved them' }).click();
    await expect(card.getByText('On', { exact: true })).toBeVisible();
    await expect(card.getByTestId('mfa-codes-left')).toContainText('10 of 10');

    // Sign out, then in with a recovery code.
    await page.getByRole('button', { name: /Account menu for/ }).click();
    await page.getByRole('menuitem', { name: 'Sign out' }).click();
    await signInWithForm(page, user.email, user.password);
    const step = page.getByTestId('login-mfa');
    await expect(step.getByRole('heading', { name: 'Two-factor authentication' })).toBeVisible();
    await expect(step.getByLabel('Authentication code')).toBeFocused();
    await shots(page, 'login-mfa');
    await step.getByRole('button', { name: 'Use a recovery code' }).click();
    await expect(step.getByLabel('Recovery code')).toBeFocused();
    await step.getByLabel('Recovery code').fill(recovery[0]);
    await step.getByRole('button', { name: 'Verify and sign in' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Home' })).toBeVisible();

    // Sign out, then in with the app's next code.
    await page.getByRole('button', { name: /Account menu for/ }).click();
    await page.getByRole('menuitem', { name: 'Sign out' }).click();
    await signInWithForm(page, user.email, user.password);
    await page.getByTestId('login-mfa').getByLabel('Authentication code').fill(totp(secret));
    await page.getByTestId('login-mfa').getByRole('button', { name: 'Verify and sign in' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Home' })).toBeVisible();

    await page.goto('/account');
    await expect(card.getByTestId('mfa-codes-left')).toContainText('9 of 10');
    await card.getByRole('button', { name: 'Turn off' }).click();
    const dialog = page.getByRole('dialog', { name: 'Turn off two-factor authentication?' });
    await expect(dialog.getByRole('button', { name: 'Turn off' })).toBeDisabled();
    await dialog.getByRole('textbox', { name: 'Your password', exact: true }).fill('wrong password here');
    await dialog.getByRole('button', { name: 'Turn off' }).click();
    await expect(dialog.getByRole('textbox', { name: 'Your password', exact: true })).toHaveAccessibleDescription('Password is incorrect.');
    await dialog.getByRole('textbox', { name: 'Your password', exact: true }).fill(user.password);
    await dialog.getByRole('button', { name: 'Turn off' }).click();
    await expect(dialog).toBeHidden();
    await expect(card.getByText('Off', { exact: true })).toBeVisible();
  });

  test('API tokens: empty state, create with a permission subset, copy once, use, revoke', async ({ page, context }) => {
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    const user = await makeUser(base(), await apiLogin(base(), admin().email, admin().password), { groups: ['Red team'] });
    await page.goto('/login?next=%2Faccount');
    await signInWithForm(page, user.email, user.password);

    const card = page.getByRole('region', { name: 'API tokens' });
    await expect(card.getByText('No API tokens')).toBeVisible();
    await card.getByRole('button', { name: 'New token' }).click();
    const dialog = page.getByRole('dialog', { name: 'New API token' });
    await dialog.getByRole('button', { name: 'Create token' }).click();
    await expect(dialog.getByLabel('Name')).toHaveAccessibleDescription('Name is required.');
    await dialog.getByLabel('Name').fill('CI pipeline');
    await expect(dialog.getByLabel('Name')).not.toHaveAttribute('aria-invalid', 'true'); // the error goes as the field is edited
    await dialog.getByLabel('Expires after').selectOption('30');
    await dialog.getByLabel('Only the ones I choose').check();
    await dialog.getByRole('checkbox', { name: /^mission\.read/ }).check();
    await shots(page, 'account-token-create', { fullPage: false });
    await dialog.getByRole('button', { name: 'Create token' }).click();

    const created = page.getByRole('dialog', { name: 'Copy your new token' });
    const value = await created.getByTestId('new-token').inputValue();
    expect(value).toMatch(/^pbk_/);
    await created.getByRole('button', { name: /Copy token/ }).click();
    await expect(created.getByRole('button', { name: /Copy token/ })).toContainText('Copied');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(value);
    await page.screenshot({ path: shot('account-token-created.png') });
    await created.getByRole('button', { name: 'Done' }).click();

    // The token acts as the user, narrowed to the chosen permission.
    const me = await apiAs<{ permissions: string[] }>(base(), value, 'GET', '/auth/me');
    expect(me.permissions).toEqual(['mission.read']);

    const row = card.getByRole('row').filter({ hasText: 'CI pipeline' });
    await expect(row).toContainText(value.slice(0, 10));
    await expect(row).toContainText('1 selected');
    await expect(row).toContainText('Active');
    await expect(row).toContainText('Never'); // not used yet… until the next list
    await shots(page, 'account');

    await row.getByRole('button', { name: 'Revoke CI pipeline' }).click();
    const confirm = page.getByRole('dialog', { name: 'Revoke “CI pipeline”?' });
    await confirm.getByRole('button', { name: 'Revoke token' }).click();
    await expect(confirm).toBeHidden();
    await expect(row).toContainText('Revoked');
    await expect(apiAs(base(), value, 'GET', '/auth/me')).rejects.toThrow(/answered 401/);
  });
});

test.describe('narrow screen, signed out', () => {
  test.use({ viewport: { width: 390, height: 844 }, signedIn: false });

  test('the login page fits a phone', async ({ page }) => {
    await page.goto('/login');
    await expect(page.getByTestId('login')).toBeVisible();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: shot('narrow-login.png'), fullPage: true });
  });
});
