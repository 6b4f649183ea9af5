/**
 * Invitations (issue 13, item 8): a second invitation for an address that
 * has a pending one is not created silently: the dialog warns and offers to
 * replace it, which revokes the old link. The acceptance page says which
 * address is invited, by whom and into which groups.
 */
import { test, expect as baseExpect, watchPage } from './fixtures';
import { shots, unique } from './helpers';

// The machine running the suite may be busy: generous waits, never sleeps.
const expect = baseExpect.configure({ timeout: 30_000 });

test.beforeEach(({ accessToken }) => {
  test.skip(!accessToken, 'invitations need the e2e admin');
  test.slow();
});

async function invite(page: import('@playwright/test').Page, email: string, group: string) {
  await page.getByRole('button', { name: 'New invitation' }).click();
  const dialog = page.getByTestId('invitation-dialog');
  await dialog.getByLabel('Email').fill(email);
  await dialog.getByRole('checkbox', { name: new RegExp(group) }).check();
  await dialog.getByRole('button', { name: 'Create invitation' }).click();
  return dialog;
}

test('a second invitation for the same address warns and replaces; the acceptance page says who, by whom, into which groups', async ({ page, browser, pageGuard }) => {
  pageGuard.allowConsoleErrors.push(/status of 409/);
  const email = `${unique('inv')}@example.org`;
  await page.goto('/admin/invitations');

  await invite(page, email, 'Red team');
  const created = page.getByTestId('invitation-created');
  const firstLink = await created.getByTestId('invitation-link').inputValue();
  await created.getByRole('button', { name: 'Done' }).click();

  const dialog = await invite(page, email, 'Blue team');
  const warn = dialog.getByTestId('invitation-pending');
  await expect(warn).toContainText(`${email} is already invited`);
  await expect(warn).toContainText('Red team');
  await shots(page, 'invitation-pending', { fullPage: false });
  await warn.getByTestId('invitation-replace').click();
  const secondLink = await created.getByTestId('invitation-link').inputValue();
  expect(secondLink).not.toBe(firstLink);
  await created.getByRole('button', { name: 'Done' }).click();
  const rows = page.getByTestId('invitations-table').getByRole('row').filter({ hasText: email });
  await expect(rows.filter({ hasText: 'Revoked' })).toHaveCount(1);
  await expect(rows.filter({ hasText: 'Pending' })).toHaveCount(1);

  const other = await browser.newContext({ baseURL: process.env.PURPLEBOOK_E2E_BASE_URL, viewport: { width: 390, height: 800 } });
  try {
    const p2 = await other.newPage();
    const watch = await watchPage(p2, new URL(process.env.PURPLEBOOK_E2E_BASE_URL!).origin);
    watch.guard.allowConsoleErrors.push(/status of 404/);
    await p2.goto(secondLink);
    const who = p2.getByTestId('invite-who');
    await expect(who).toContainText(email);
    await expect(who).toContainText('E2E Admin');
    await expect(who).toContainText('Blue team');
    await expect(who).not.toContainText('Red team');
    await shots(p2, 'invite-who');
    // The replaced link is dead, and says so at once.
    await p2.goto(firstLink);
    await expect(p2.getByTestId('invite-unusable')).toContainText('This invitation link is not valid');
    watch.check();
  } finally {
    await other.close();
  }
});
