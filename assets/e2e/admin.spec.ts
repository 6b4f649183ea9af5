/**
 * The administration screens against the real server: users (search,
 * create, edit, disable, new password, delete, the last-admin message),
 * groups (create, permission matrix, members, delete), invitations (link,
 * status, revoke) and the audit log (filters). Everything made here has a
 * unique name, so parallel specs are not affected.
 */
import { test, expect as baseExpect } from './fixtures';
import { apiAs, apiLogin } from './accounts';
import { groupId, makeUser, shot, shots, signInWithForm, unique } from './helpers';

// Generous limits: these flows sign in several times (argon2) and the e2e machine may be busy.
const expect = baseExpect.configure({ timeout: 20_000 });
test.describe.configure({ timeout: 120_000 });

const base = () => process.env.PURPLEBOOK_E2E_BASE_URL!;

test.beforeEach(() => {
  test.skip(!process.env.PURPLEBOOK_E2E_ADMIN_EMAIL, 'the administration screens need the e2e admin');
});

test('users: search, create with inline errors, edit groups and disable, new password, delete', async ({ page, accessToken, pageGuard }) => {
  pageGuard.allowConsoleErrors.push(/status of 409/);
  const tag = unique('ux');
  await page.goto('/admin/users');
  await expect(page).toHaveTitle('Users · Purplebook');
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link', { name: 'Users' })).toHaveAttribute('aria-current', 'page');
  const table = page.getByRole('table', { name: 'Users' });
  await expect(table.getByRole('row').filter({ hasText: process.env.PURPLEBOOK_E2E_ADMIN_EMAIL! })).toContainText('You');

  // Search that finds nothing: the empty state.
  await page.getByTestId('users-search').fill(`nobody-${tag}`);
  await expect(page.getByText('No users match')).toBeVisible();
  await page.getByRole('button', { name: 'Clear the filters' }).click();
  await expect(page.getByTestId('users-search')).toHaveValue('');

  // Create: client-side errors first, then a server field error (email taken).
  await page.getByRole('button', { name: 'New user' }).click();
  const create = page.getByRole('dialog', { name: 'New user' });
  await create.getByRole('button', { name: 'Create user' }).click();
  await expect(create.getByLabel('Name')).toHaveAccessibleDescription('Name is required.');
  await expect(create.getByLabel('Email')).toHaveAccessibleDescription('Email is required.');
  await create.getByLabel('Name').fill('Ursula User');
  await create.getByLabel('Email').fill(process.env.PURPLEBOOK_E2E_ADMIN_EMAIL!);
  await create.getByRole('textbox', { name: 'Password', exact: true }).fill('a long enough password');
  await create.getByRole('checkbox', { name: 'Viewers' }).check();
  await create.getByRole('button', { name: 'Create user' }).click();
  await expect(create.getByLabel('Email')).toHaveAccessibleDescription('Email is already in use.');
  await create.getByLabel('Email').fill(`${tag}@example.org`);
  await create.getByRole('button', { name: 'Create user' }).click();
  await expect(create).toBeHidden();
  await expect(page.getByRole('status').filter({ hasText: `can now sign in as ${tag}@example.org` })).toBeVisible();

  await page.getByTestId('users-search').fill(tag);
  const row = table.getByRole('row').filter({ hasText: `${tag}@example.org` });
  await expect(row).toBeVisible();
  await expect(table.getByRole('row')).toHaveCount(2); // header + the one match
  await expect(row).toContainText('Viewers');
  await expect(page).toHaveURL(new RegExp(`/admin/users\\?q=${tag}`));

  // Edit: rename, move to Red team, disable.
  await row.getByRole('button', { name: 'Edit Ursula User' }).click();
  const edit = page.getByRole('dialog', { name: 'Edit Ursula User' });
  await edit.getByLabel('Name').fill('Ursula Operator');
  await edit.getByRole('checkbox', { name: 'Viewers' }).uncheck();
  await edit.getByRole('checkbox', { name: 'Red team' }).check();
  await edit.getByRole('checkbox', { name: /^Disabled/ }).check();
  await edit.getByRole('button', { name: 'Save' }).click();
  await expect(edit).toBeHidden();
  await expect(row).toContainText('Ursula Operator');
  await expect(row).toContainText('Red team');
  await expect(row).toContainText('Disabled');
  await page.getByLabel('Status').selectOption('disabled');
  await expect(row).toBeVisible();
  await page.getByLabel('Status').selectOption('active');
  await expect(page.getByText('No users match')).toBeVisible();
  await page.getByLabel('Status').selectOption('');

  // A new password.
  await row.getByRole('button', { name: 'Set a new password for Ursula Operator' }).click();
  const pw = page.getByRole('dialog', { name: 'New password for Ursula Operator' });
  await pw.getByRole('textbox', { name: 'New password', exact: true }).fill('short');
  await pw.getByRole('button', { name: 'Set password' }).click();
  await expect(pw.getByRole('textbox', { name: 'New password', exact: true })).toHaveAccessibleDescription(/New password must be at least 12 characters/);
  await pw.getByRole('textbox', { name: 'New password', exact: true }).fill('another fine password');
  await pw.getByRole('button', { name: 'Set password' }).click();
  await expect(pw).toBeHidden();

  // Delete.
  await row.getByRole('button', { name: 'Delete Ursula Operator' }).click();
  const del = page.getByRole('dialog', { name: 'Delete Ursula Operator?' });
  await del.getByRole('button', { name: 'Delete user' }).click();
  await expect(del).toBeHidden();
  await expect(page.getByText('No users match')).toBeVisible();
  await page.getByLabel('Show deleted').check();
  await expect(row).toContainText('Deleted');

  // Nobody can delete themselves: the button is off on the own row.
  await page.getByTestId('users-search').fill(process.env.PURPLEBOOK_E2E_ADMIN_EMAIL!);
  const me = table.getByRole('row').filter({ hasText: process.env.PURPLEBOOK_E2E_ADMIN_EMAIL! });
  await expect(me.getByRole('button', { name: /^Delete / })).toBeDisabled();

  // The last-admin rule comes back as the server's message in the dialog
  // (answered here as the server does, so the real e2e admin keeps its group).
  await page.route('**/api/v1/users/*', async (route) => {
    if (route.request().method() !== 'PATCH') return route.continue();
    return route.fulfill({
      status: 409,
      contentType: 'application/json',
      body: JSON.stringify({
        error: { code: 'last_admin', message: 'This would leave no active administrator: another active member of Admins is needed first.', details: {} },
        request_id: 'e2e',
      }),
    });
  });
  await me.getByRole('button', { name: /^Edit / }).click();
  const editMe = page.getByRole('dialog', { name: /^Edit / });
  await expect(editMe.getByRole('checkbox', { name: /^Disabled/ })).toBeDisabled();
  await editMe.getByRole('checkbox', { name: 'Admins' }).uncheck();
  await editMe.getByRole('button', { name: 'Save' }).click();
  await expect(editMe.getByTestId('user-edit-error')).toHaveText(/This would leave no active administrator/);
  await shots(page, 'admin-users-last-admin', { fullPage: false });
  await editMe.getByRole('button', { name: 'Cancel' }).click();
  await page.unroute('**/api/v1/users/*');

  await page.getByLabel('Show deleted').uncheck();
  await page.getByTestId('users-search').fill('');
  await page.getByTestId('users-search').press('Enter');
  await shots(page, 'admin-users');
  void accessToken;
});

test('groups: create with permissions, the matrix saves per group, members, delete', async ({ page, accessToken }) => {
  const name = unique('Readers');
  const member = await makeUser(base(), accessToken, { groups: [] });

  await page.goto('/admin/groups');
  await expect(page.getByRole('heading', { level: 1, name: 'Groups' })).toBeVisible();
  await page.getByRole('button', { name: 'New group' }).click();
  const dialog = page.getByRole('dialog', { name: 'New group' });
  await dialog.getByLabel('Name').fill(name);
  await dialog.getByLabel('Description').fill('Can read the template library');
  await dialog.getByRole('checkbox', { name: /^test_template\.read/ }).check();
  await dialog.getByRole('button', { name: 'Create group' }).click();
  await expect(dialog).toBeHidden();
  const row = page.getByRole('table', { name: 'Groups' }).getByRole('row').filter({ hasText: name });
  await expect(row).toContainText('Can read the template library');

  // The matrix: tick mission.read for the new group, save that column only.
  const matrix = page.getByTestId('permission-matrix');
  await expect(matrix.getByRole('checkbox', { name: 'test_template.read for Admins' })).toBeDisabled();
  await expect(matrix.getByRole('checkbox', { name: `test_template.read for ${name}` })).toBeChecked();
  await matrix.getByRole('checkbox', { name: `mission.read for ${name}` }).check();
  await expect(page.getByTestId('matrix-unsaved')).toContainText('One group has unsaved changes');
  await shots(page, 'admin-groups');
  await matrix.getByRole('button', { name: `Save permissions of ${name}` }).click();
  await expect(page.getByTestId('matrix-unsaved')).toBeHidden();
  const id = await groupId(base(), accessToken, name);
  const saved = await apiAs<{ permissions: string[] }>(base(), accessToken, 'GET', `/groups/${id}`);
  expect(saved.permissions).toEqual(['mission.read', 'test_template.read']);

  // An area checkbox ticks the whole area; Undo drops the change.
  await matrix.getByRole('checkbox', { name: `All Missions permissions for ${name}` }).check();
  await expect(matrix.getByRole('checkbox', { name: `mission.create for ${name}` })).toBeChecked();
  await matrix.getByRole('button', { name: `Discard changes to ${name}` }).click();
  await expect(matrix.getByRole('checkbox', { name: `mission.create for ${name}` })).not.toBeChecked();

  // Members.
  await row.getByRole('button', { name: `Members of ${name}` }).click();
  const drawer = page.getByRole('dialog', { name: `Members of ${name}` });
  await expect(drawer.getByText('No members')).toBeVisible();
  await drawer.getByTestId('members-search').fill(member.email);
  await drawer.getByRole('button', { name: `Add ${member.name}` }).click();
  await expect(drawer.getByTestId('members-list')).toContainText(member.email);
  await shots(page, 'admin-group-members', { fullPage: false });
  await drawer.getByRole('button', { name: 'Save members' }).click();
  await expect(drawer).toBeHidden();
  await expect(row.getByRole('cell').nth(2)).toHaveText('1');
  const me = await apiAs<{ permissions: string[] }>(base(), await apiLogin(base(), member.email, member.password), 'GET', '/auth/me');
  expect(me.permissions).toEqual(['mission.read', 'test_template.read']);

  // Built-in groups cannot be deleted; this one can.
  await expect(page.getByRole('table', { name: 'Groups' }).getByRole('row').filter({ hasText: 'Viewers' }).getByRole('button', { name: /cannot be deleted/ })).toBeDisabled();
  await row.getByRole('button', { name: `Delete ${name}` }).click();
  const del = page.getByRole('dialog', { name: `Delete the group ${name}?` });
  await expect(del).toContainText('Its 1 members');
  await del.getByRole('button', { name: 'Delete group' }).click();
  await expect(del).toBeHidden();
  await expect(row).toHaveCount(0);
});

test('invitations: create → link to copy, listed as pending, revoke; taken emails answered inline', async ({ page, context, pageGuard }) => {
  pageGuard.allowConsoleErrors.push(/status of 409/);
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const email = `${unique('inv')}@example.org`;
  await page.goto('/admin/invitations');
  await page.getByRole('button', { name: 'New invitation' }).click();
  const dialog = page.getByRole('dialog', { name: 'New invitation' });
  await dialog.getByLabel('Email').fill('not-an-email');
  await dialog.getByRole('button', { name: 'Create invitation' }).click();
  await expect(dialog.getByLabel('Email')).toHaveAccessibleDescription(/like name@example.com/);
  await dialog.getByLabel('Email').fill(process.env.PURPLEBOOK_E2E_ADMIN_EMAIL!);
  await dialog.getByRole('button', { name: 'Create invitation' }).click();
  await expect(dialog.getByLabel('Email')).toHaveAccessibleDescription(/Email is already in use/);

  await dialog.getByLabel('Email').fill(email);
  await dialog.getByRole('checkbox', { name: 'Blue team' }).check();
  await dialog.getByLabel('Link valid for').selectOption('168');
  await dialog.getByRole('button', { name: 'Create invitation' }).click();
  const created = page.getByRole('dialog', { name: 'Invitation created' });
  const link = await created.getByTestId('invitation-link').inputValue();
  expect(link).toMatch(new RegExp(`^${base()}/invite/[A-Za-z0-9_-]{20,}$`));
  await created.getByRole('button', { name: 'Copy invitation link' }).click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(link);
  await shots(page, 'admin-invitation-created', { fullPage: false });
  await created.getByRole('button', { name: 'Done' }).click();

  const row = page.getByRole('table', { name: 'Invitations' }).getByRole('row').filter({ hasText: email });
  await expect(row).toContainText('Pending');
  await expect(row).toContainText('Blue team');
  await expect(row).toContainText(/in 7 days|next week/);
  await shots(page, 'admin-invitations');
  await row.getByRole('button', { name: `Revoke the invitation for ${email}` }).click();
  await page.getByRole('dialog', { name: `Revoke the invitation for ${email}?` }).getByRole('button', { name: 'Revoke invitation' }).click();
  await expect(row).toContainText('Revoked');

  await page.getByLabel('Status').selectOption('pending');
  await expect(row).toHaveCount(0);
});

test('the audit log: newest first, filter by area and by actor', async ({ page }) => {
  await page.goto('/admin/audit');
  await expect(page.getByRole('heading', { level: 1, name: 'Audit log' })).toBeVisible();
  const table = page.getByRole('table', { name: 'Audit events' });
  await expect(table.getByRole('row').nth(1)).toBeVisible();
  await page.getByLabel('Action').selectOption('auth.');
  await expect(table.getByRole('row').nth(1)).toContainText(/auth\./);
  for (const key of await table.locator('code.key').allTextContents()) expect(key).toMatch(/^auth\./);
  const admin = process.env.PURPLEBOOK_E2E_ADMIN_EMAIL!;
  await table.getByRole('button', { name: admin }).first().click();
  await expect(page.getByTestId('audit-actor-filter')).toContainText(`By ${admin}`);
  await shots(page, 'admin-audit', { fullPage: false });
  await page.getByRole('button', { name: 'Clear filters' }).click();
  await expect(page.getByTestId('audit-actor-filter')).toHaveCount(0);
  // Three to two days ago (the server and all its events were made during this run): nothing, and the empty state says so.
  const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);
  await page.getByLabel('From').fill(daysAgo(3));
  await page.getByLabel('to', { exact: true }).fill(daysAgo(2));
  await page.getByLabel('to', { exact: true }).dispatchEvent('change');
  await expect(page.getByText('No events match')).toBeVisible();
});

test("the audit log's integrity: verify, download an anchor, check the log against it", async ({ page }) => {
  await page.goto('/admin/audit');
  const card = page.getByTestId('audit-integrity');
  await expect(card.getByRole('heading', { name: 'Integrity' })).toBeVisible();
  await card.getByRole('button', { name: 'Verify now' }).click();
  const result = page.getByTestId('audit-integrity-result');
  await expect(result).toContainText('Intact');
  await expect(result).toContainText(/\d+ events checked/);

  const download = page.waitForEvent('download');
  await card.getByRole('button', { name: 'Download anchor' }).click();
  const file = await (await download).path();
  expect((await download).suggestedFilename()).toMatch(/^purplebook-audit-anchor-\d+\.json$/);
  await card.getByLabel('Anchor file to check').setInputFiles(file!);
  await expect(result).toContainText('Anchor matches');
  await shots(page, 'admin-audit-integrity', { fullPage: false });

  // Something that is not an anchor: a readable message, no request.
  await card.getByLabel('Anchor file to check').setInputFiles({ name: 'x.json', mimeType: 'application/json', buffer: Buffer.from('nope') });
  await expect(card.getByRole('alert')).toContainText('not JSON');
});

test.describe('without the permissions', () => {
  test.use({ signedIn: false });

  test('a viewer sees no administration and a message on its pages', async ({ page }) => {
    const token = await apiLogin(base(), process.env.PURPLEBOOK_E2E_ADMIN_EMAIL!, process.env.PURPLEBOOK_E2E_ADMIN_PASSWORD!);
    const viewer = await makeUser(base(), token, { groups: ['Viewers'] });
    await page.goto('/login');
    await signInWithForm(page, viewer.email, viewer.password);
    await expect(page.getByRole('heading', { level: 1, name: 'Home' })).toBeVisible();
    const nav = page.getByRole('navigation', { name: 'Main' });
    await expect(nav.getByRole('link', { name: 'Home' })).toBeVisible();
    for (const name of ['Users', 'Groups', 'Invitations', 'Audit log']) await expect(nav.getByRole('link', { name })).toHaveCount(0);
    await expect(nav.getByText('Administration')).toHaveCount(0);
    await page.goto('/admin/audit');
    await expect(page.getByRole('heading', { level: 1, name: 'You do not have access to this page' })).toBeVisible();
    await expect(page.getByTestId('forbidden')).toContainText('audit.read');
    await shots(page, 'forbidden', { fullPage: false });
  });
});

test.describe('narrow screen', () => {
  test.use({ viewport: { width: 390, height: 844 } });

  test('the accounts pages fit a phone: no sideways scrolling of the page', async ({ page }) => {
    for (const path of ['/admin/users', '/admin/groups', '/admin/invitations', '/admin/audit', '/account']) {
      await page.goto(path);
      await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
      await expect(page.getByRole('table').first()).toBeVisible();
      await expect(page.locator('table[aria-busy="true"]')).toHaveCount(0);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow, `${path} scrolls sideways`).toBeLessThanOrEqual(0);
      await page.screenshot({ path: shot(`narrow${path.replace(/\//g, '-')}.png`), fullPage: true });
    }
  });
});
