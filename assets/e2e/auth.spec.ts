/**
 * The accounts story end to end, on a fresh instance: first-run setup in
 * the browser → sign-in → a group with two permissions and an invitation for
 * it → the invitation accepted in a second browser context → the new user
 * sees only what the group allows.
 *
 * It resets the instance (POST /api/v1/diag/reset), which wipes every
 * account and what other specs made: the `accounts` project runs it after
 * all other specs (playwright.config.ts), and it restores the e2e admin at
 * the end the way the global setup created it (e2e/accounts.ts), so the
 * other specs can run again after it too.
 */
import { test, expect as baseExpect, watchPage } from './fixtures';
import { apiAs, apiLogin, createAdmin, e2eAdmin, readSetupToken, resetInstance, restoreE2eAdmin, serverState } from './accounts';
import { totp } from './totp';
import { shot, shots, signInWithForm } from './helpers';

// Generous limits: these flows sign in several times (argon2) and the e2e machine may be busy.
const expect = baseExpect.configure({ timeout: 20_000 });
test.describe.configure({ timeout: 240_000 });

test.use({ signedIn: false });
test.describe.configure({ mode: 'serial' });

const OWNER = { email: 'owner@example.org', name: 'Olivia Owner', password: 'first run passphrase' };
const READER = { email: 'reader@example.org', name: 'Rafael Reader', password: 'reader passphrase 42' };
const GROUP = 'Library readers';

const state = serverState();
const admin = e2eAdmin();
const base = process.env.PURPLEBOOK_E2E_BASE_URL ?? '';
const dataDir = state?.dataDir ?? '';

/** A recovery code of the owner, once the second test turned MFA on for them. */
let ownerRecovery: string | null = null;

/** The owner's access token, through the MFA step (a recovery code) when it is on. */
async function ownerToken(): Promise<string> {
  const res = await fetch(`${base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: OWNER.email, password: OWNER.password }),
  });
  const body = (await res.json()) as { access_token?: string; mfa_token?: string };
  if (body.access_token) return body.access_token;
  if (!body.mfa_token || !ownerRecovery) throw new Error(`e2e: cannot sign in as ${OWNER.email}: ${JSON.stringify(body)}`);
  const step = await fetch(`${base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ mfa_token: body.mfa_token, code: ownerRecovery }),
  });
  return ((await step.json()) as { access_token: string }).access_token;
}

test.beforeAll(async () => {
  test.skip(!dataDir || !admin, 'resets the instance: only against the server the e2e setup started');
  await resetInstance(base, await apiLogin(base, admin!.email, admin!.password));
});

test.afterAll(async () => {
  if (!dataDir || !admin) return;
  // Put the e2e admin back for the other specs: reset again and set up as the global setup does.
  const res = await fetch(`${base}/api/v1/setup`);
  const { needed } = (await res.json()) as { needed: boolean };
  if (needed) await createAdmin(base, dataDir, admin);
  else await restoreE2eAdmin(base, dataDir, await ownerToken());
  await expect(apiLogin(base, admin.email, admin.password)).resolves.toBeTruthy();
});

test('first-run setup → sign-in → group and invitation → the invited user sees only what the group allows', async ({ page, browser, pageGuard }) => {
  pageGuard.allowConsoleErrors.push(/status of 403/, /status of 410/);
  {
    // 1. Every path leads to the setup wizard while no account exists.
    await page.goto('/admin/users');
    await expect(page).toHaveURL(/\/setup$/);
    await expect(page).toHaveTitle('Set up Purplebook · Purplebook');
    const setup = page.getByTestId('setup');
    await expect(setup.getByRole('heading', { level: 1, name: 'Set up Purplebook' })).toBeVisible();
    await expect(setup.getByLabel('Setup token')).toBeFocused();
    await expect(setup.getByLabel('Setup token')).toHaveAccessibleDescription(/setup-token in the server's data directory/);
    await shots(page, 'setup');

    // A wrong token: the server's message on the field.
    await setup.getByLabel('Setup token').fill('not-the-token');
    await setup.getByLabel('Name').fill(OWNER.name);
    await setup.getByLabel('Email').fill(OWNER.email);
    await setup.getByRole('textbox', { name: 'Password', exact: true }).fill(OWNER.password);
    await setup.getByRole('textbox', { name: 'Repeat the password', exact: true }).fill(OWNER.password);
    await setup.getByRole('button', { name: 'Create the administrator' }).click();
    await expect(setup.getByLabel('Setup token')).toHaveAccessibleDescription(/The setup token is wrong/);
    await expect(setup.getByLabel('Setup token')).toBeFocused();
    await page.screenshot({ path: shot('setup-wrong-token.png') });

    // The link the server prints (?token=) fills it in; the token leaves the address bar.
    await page.goto(`/setup?token=${encodeURIComponent(readSetupToken(dataDir))}`);
    await expect(page).toHaveURL(/\/setup$/);
    await expect(setup.getByTestId('setup-token-from-link')).toBeVisible();
    await setup.getByLabel('Name').fill(OWNER.name);
    await setup.getByLabel('Email').fill(OWNER.email);
    await setup.getByRole('textbox', { name: 'Password', exact: true }).fill(OWNER.password);
    await setup.getByRole('textbox', { name: 'Repeat the password', exact: true }).fill(OWNER.password);
    await setup.getByRole('button', { name: 'Create the administrator' }).click();
    await expect(page).toHaveURL(/\/$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Home' })).toBeVisible();
    await expect(page.getByRole('region', { name: 'Waiting for you' })).toBeVisible(); // the work page
    await expect(page.getByRole('button', { name: `Account menu for ${OWNER.name}` })).toBeVisible();
    await page.goto('/setup');
    await expect(page).toHaveURL(/\/$/); // done: /setup leads Home

    // 2. Sign out and in again through the login page.
    await page.getByRole('button', { name: `Account menu for ${OWNER.name}` }).click();
    await page.getByRole('menuitem', { name: 'Sign out' }).click();
    await expect(page).toHaveURL(/\/login$/);
    await signInWithForm(page, OWNER.email, OWNER.password);
    await expect(page.getByRole('heading', { level: 1, name: 'Home' })).toBeVisible();

    // 3. A group with exactly two permissions: one in the dialog, one in the matrix.
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Groups' }).click();
    await page.getByRole('button', { name: 'New group' }).click();
    const dialog = page.getByRole('dialog', { name: 'New group' });
    await dialog.getByLabel('Name').fill(GROUP);
    await dialog.getByLabel('Description').fill('Reads templates and missions');
    await dialog.getByRole('checkbox', { name: /^test_template\.read/ }).check();
    await dialog.getByRole('button', { name: 'Create group' }).click();
    await expect(dialog).toBeHidden();
    const matrix = page.getByTestId('permission-matrix');
    await matrix.getByRole('checkbox', { name: `mission.read for ${GROUP}` }).check();
    await matrix.getByRole('button', { name: `Save permissions of ${GROUP}` }).click();
    await expect(page.getByTestId('matrix-unsaved')).toBeHidden();

    // 4. An invitation for the group; the link is shown once.
    await nav.getByRole('link', { name: 'Invitations' }).click();
    await expect(page.getByText('No invitations yet')).toBeVisible();
    await page.getByRole('button', { name: 'New invitation' }).click();
    const inv = page.getByRole('dialog', { name: 'New invitation' });
    await inv.getByLabel('Email').fill(READER.email);
    await inv.getByRole('checkbox', { name: GROUP }).check();
    await inv.getByRole('button', { name: 'Create invitation' }).click();
    const link = await page.getByRole('dialog', { name: 'Invitation created' }).getByTestId('invitation-link').inputValue();
    expect(link).toContain('/invite/');
    await page.getByRole('dialog', { name: 'Invitation created' }).getByRole('button', { name: 'Done' }).click();

    // 5. The invited person, in a browser of their own.
    const other = await browser.newContext({ baseURL: base, viewport: { width: 1280, height: 800 }, locale: 'en-US', timezoneId: 'UTC' });
    try {
      const p2 = await other.newPage();
      const watch = await watchPage(p2, new URL(base).origin);
      watch.guard.allowConsoleErrors.push(/status of 410/);
      await p2.goto(link);
      const card = p2.getByTestId('invite');
      await expect(card.getByRole('heading', { level: 1, name: 'Join Purplebook' })).toBeVisible();
      await expect(card.getByLabel('Your name')).toBeFocused();
      // The page says which address is invited, by whom, into which groups.
      await expect(card.getByTestId('invite-who')).toContainText(READER.email);
      await expect(card.getByTestId('invite-who')).toContainText(GROUP);
      await shots(p2, 'invite');
      await card.getByRole('button', { name: 'Create my account' }).click();
      await expect(card.getByLabel('Your name')).toHaveAccessibleDescription('Your name is required.');
      await card.getByLabel('Your name').fill(READER.name);
      await card.getByRole('textbox', { name: 'Password', exact: true }).fill(READER.password);
      await card.getByRole('textbox', { name: 'Repeat the password', exact: true }).fill(READER.password);
      await card.getByRole('button', { name: 'Create my account' }).click();
      await expect(p2).toHaveURL(/\/$/);
      await expect(p2.getByRole('heading', { level: 1, name: 'Home' })).toBeVisible();
      await expect(p2.getByRole('button', { name: `Account menu for ${READER.name}` })).toBeVisible();

      // Only what the group allows: no administration in the navigation, a message on its pages.
      const nav2 = p2.getByRole('navigation', { name: 'Main' });
      await expect(nav2.getByRole('link', { name: 'Home' })).toBeVisible();
      for (const name of ['Users', 'Groups', 'Invitations', 'Audit log']) await expect(nav2.getByRole('link', { name })).toHaveCount(0);
      await shots(p2, 'reader-home');
      for (const path of ['/admin/users', '/admin/groups', '/admin/invitations', '/admin/audit']) {
        await p2.goto(path);
        await expect(p2.getByRole('heading', { level: 1, name: 'You do not have access to this page' })).toBeVisible();
      }
      await expect(p2.getByTestId('forbidden')).toContainText('audit.read');
      await p2.goto('/account');
      await expect(p2.getByTestId('profile-groups')).toHaveText(GROUP);
      const me = await apiAs<{ permissions: string[] }>(base, await apiLogin(base, READER.email, READER.password), 'GET', '/auth/me');
      expect(me.permissions).toEqual(['mission.read', 'test_template.read']);

      // The link works once: the page says so before anyone types (the public
      // lookup does not tell used, expired and unknown links apart).
      watch.guard.allowConsoleErrors.push(/status of 404/);
      await p2.goto(link);
      const used = p2.getByTestId('invite-unusable');
      await expect(used.getByRole('heading', { name: 'This invitation link is not valid' })).toBeVisible();
      await expect(used).toContainText('it may have expired, been used or been replaced');
      await shots(p2, 'invite-used');
      watch.check();
    } finally {
      await other.close();
    }

    // The administrator sees the invitation accepted.
    await page.reload();
    await expect(page.getByRole('table', { name: 'Invitations' }).getByRole('row').filter({ hasText: READER.email })).toContainText('Accepted');
  }
});

test('an administrator requires two-factor authentication: the reader must set it up before anything else', async ({ page, browser, pageGuard }) => {
  pageGuard.allowConsoleErrors.push(/status of 403/, /status of 422/);
  // The policy needs MFA on the administrator's own account (the server says so): enrol through the API.
  const token = await apiLogin(base, OWNER.email, OWNER.password);
  const enrol = await apiAs<{ secret: string }>(base, token, 'POST', '/auth/mfa/enroll');
  const confirmed = await apiAs<{ recovery_codes: string[] }>(base, token, 'POST', '/auth/mfa/confirm', { code: totp(enrol.secret) });
  ownerRecovery = confirmed.recovery_codes[0];

  await page.goto('/login?next=%2Fadmin%2Fusers');
  await signInWithForm(page, OWNER.email, OWNER.password);
  await page.getByTestId('login-mfa').getByLabel('Authentication code').fill(totp(enrol.secret));
  await page.getByTestId('login-mfa').getByRole('button', { name: 'Verify and sign in' }).click();
  await expect(page).toHaveURL(/\/admin\/users$/);
  const policy = page.getByTestId('signin-policy');
  await policy.getByRole('checkbox', { name: /Require two-factor authentication/ }).click();
  await page.getByRole('dialog', { name: 'Require two-factor authentication?' }).getByRole('button', { name: 'Require it' }).click();
  await expect(policy.getByText('On', { exact: true })).toBeVisible();
  await shots(page, 'admin-signin-policy', { fullPage: false });

  // The reader signs in and is kept on the profile until two-factor is on.
  const other = await browser.newContext({ baseURL: base, viewport: { width: 1280, height: 800 }, locale: 'en-US', timezoneId: 'UTC' });
  try {
    const p2 = await other.newPage();
    const watch = await watchPage(p2, new URL(base).origin);
    watch.guard.allowConsoleErrors.push(/status of 403/);
    await p2.goto('/login');
    await signInWithForm(p2, READER.email, READER.password);
    await expect(p2).toHaveURL(/\/account$/);
    await expect(p2.getByTestId('mfa-required')).toBeVisible();
    await p2.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Home' }).click();
    await expect(p2).toHaveURL(/\/account$/);
    await shots(p2, 'account-mfa-required', { fullPage: false });
    const card = p2.getByRole('region', { name: 'Two-factor authentication' });
    await card.getByRole('button', { name: 'Set up two-factor authentication' }).click();
    const secret = (await card.getByTestId('mfa-secret').inputValue()).replace(/\s/g, '');
    await card.getByLabel('Code').fill(totp(secret));
    await card.getByRole('button', { name: 'Turn on' }).click();
    await expect(card.getByTestId('recovery-codes').getByRole('listitem')).toHaveCount(10);
    await expect(p2.getByTestId('mfa-required')).toHaveCount(0);
    await p2.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Home' }).click();
    await expect(p2.getByRole('heading', { level: 1, name: 'Home' })).toBeVisible();
    watch.check();
  } finally {
    await other.close();
  }
});
