/**
 * Missions (issue 7): the red/blue workflow with two users in two browser
 * contexts against the real server. Set up through the API with the e2e
 * admin (users in the seeded Red team / Blue team groups, a mission with both
 * as members and an ad-hoc test); then red executes the test and uploads a
 * screenshot in the test detail page → blue sees the notification in the
 * bell, opens it, records "alerted" for EDR → red reloads and sees the
 * outcome "Alerted". Self-sufficient: everything it uses is made here.
 */
import type { Browser, Page } from '@playwright/test';
import { test, expect, watchPage } from './fixtures';
import { apiAs, apiLogin } from './accounts';
import { makeUser, shots, signInWithForm, unique, type TestUser } from './helpers';

const base = () => process.env.PURPLEBOOK_E2E_BASE_URL!;
const admin = () => ({ email: process.env.PURPLEBOOK_E2E_ADMIN_EMAIL!, password: process.env.PURPLEBOOK_E2E_ADMIN_PASSWORD! });

test.beforeEach(() => {
  test.skip(!process.env.PURPLEBOOK_E2E_ADMIN_EMAIL, 'the server has no accounts');
});

interface Setup {
  red: TestUser;
  blue: TestUser;
  missionId: string;
  missionName: string;
  testId: string;
  testName: string;
}

async function setUp(): Promise<Setup> {
  const token = await apiLogin(base(), admin().email, admin().password);
  const red = await makeUser(base(), token, { groups: ['Red team'], name: `Rita Red ${unique('r').slice(-4)}` });
  const blue = await makeUser(base(), token, { groups: ['Blue team'], name: `Bob Blue ${unique('b').slice(-4)}` });
  const missionName = unique('Mission');
  const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
  const m = await apiAs<{ id: string }>(base(), token, 'POST', '/missions', {
    name: missionName,
    description: 'Two-user browser test',
    starts_on: day(0),
    ends_on: day(25),
  });
  await apiAs(base(), token, 'POST', `/missions/${m.id}/members`, { user_id: red.id, role: 'red' });
  await apiAs(base(), token, 'POST', `/missions/${m.id}/members`, { user_id: blue.id, role: 'blue' });
  await apiAs(base(), token, 'PATCH', `/missions/${m.id}`, { status: 'active' });
  const testName = 'Discovery with whoami';
  const t = await apiAs<{ id: string }>(base(), token, 'POST', `/missions/${m.id}/tests`, {
    name: testName,
    objective: 'See whether local discovery is detected',
    command: 'whoami /all',
    mitre_tags: [],
  });
  return { red, blue, missionId: m.id, missionName, testId: t.id, testName };
}

/** A new browser context signed in through the login page; returns its page and the CSP/console guard check. */
async function signedInPage(browser: Browser, user: TestUser, path: string): Promise<{ page: Page; check: () => void; allow: (re: RegExp) => void; close: () => Promise<void> }> {
  const ctx = await browser.newContext({ baseURL: base() });
  const page = await ctx.newPage();
  const watch = await watchPage(page, new URL(base()).origin);
  await page.goto(path);
  await expect(page).toHaveURL(/\/login/);
  await signInWithForm(page, user.email, user.password);
  await expect(page).toHaveURL(new RegExp(`${path.replace(/[/]/g, '\\/')}$`));
  return { page, check: watch.check, allow: (re) => watch.guard.allowConsoleErrors.push(re), close: () => ctx.close() };
}

test('red executes and uploads a screenshot, blue records "alerted" for EDR, red sees the outcome', async ({ browser, page }) => {
  test.setTimeout(120_000);
  const s = await setUp();
  const testPath = `/missions/${s.missionId}/tests/${s.testId}`;

  // ---- Red: execute the test and upload a screenshot.
  const red = await signedInPage(browser, s.red, testPath);
  const rp = red.page;
  await expect(rp.getByRole('heading', { level: 1, name: s.testName })).toBeVisible();
  const redPane = rp.getByTestId('red-pane');
  await expect(redPane.getByText('read only')).toHaveCount(0);
  await expect(rp.getByTestId('blue-pane').getByText('read only')).toBeVisible();
  await redPane.getByLabel('Operator').fill('Rita');
  await redPane.getByLabel('Target host').fill('ws01');
  await redPane.getByLabel('Target IP').fill('10.0.0.15');
  await redPane.getByLabel('Tool').fill('cmd.exe');
  await redPane.getByLabel('Command as run').fill('whoami /all');
  await redPane.getByLabel('Output').fill('USER INFORMATION\n----------------\nlab\\rita');
  await redPane.getByLabel('Execution result').selectOption('succeeded');
  await redPane.getByRole('button', { name: 'Mark executed' }).click();
  await expect(rp.getByText('Test marked executed.')).toBeVisible();
  await expect(rp.locator('.badges')).toContainText('Executed');

  const png = await rp.screenshot();
  const ev = rp.getByTestId('evidence-upload');
  await ev.getByLabel('File').setInputFiles({ name: 'whoami-screenshot.png', mimeType: 'image/png', buffer: png });
  await ev.getByLabel('Caption').fill('whoami output on ws01');
  await ev.getByRole('button', { name: 'Upload' }).click();
  const item = rp.getByTestId('evidence-item');
  await expect(item).toHaveCount(1);
  await expect(item).toContainText('whoami-screenshot.png');
  await expect(item).toContainText('image/png');
  await expect(item.getByRole('img', { name: 'whoami output on ws01' })).toBeVisible();
  await shots(rp, 'missions-test-red');

  // ---- Blue: the bell shows the notification; open it, record "alerted" for EDR.
  const blue = await signedInPage(browser, s.blue, '/');
  const bp = blue.page;
  const bell = bp.getByTestId('notification-bell');
  // Added to the mission, the mission started, the test executed.
  await expect(bell.getByTestId('unread-count')).toHaveText('3', { timeout: 15_000 });
  await bell.getByRole('button', { name: 'Notifications, 3 unread' }).click();
  await expect(bell.getByTestId('notification')).toHaveCount(3);
  await expect(bell).toContainText(`You were added to ${s.missionName} as blue.`);
  const note = bell.getByTestId('notification').filter({ hasText: s.testName });
  await expect(note).toContainText(`executed “${s.testName}” in ${s.missionName}`);
  await shots(bp, 'missions-bell', { fullPage: false });
  await note.getByRole('link').click();
  await expect(bp).toHaveURL(new RegExp(`${testPath}$`));
  await expect(bell.getByTestId('unread-count')).toHaveText('2');

  const bluePane = bp.getByTestId('blue-pane');
  await expect(bluePane.getByText('read only')).toHaveCount(0);
  await expect(bp.getByTestId('red-pane').getByText('read only')).toBeVisible();
  await expect(bp.getByTestId('red-pane').getByLabel('Command as run')).toHaveValue('whoami /all');
  await expect(bp.getByTestId('evidence-item')).toContainText('whoami-screenshot.png');
  await bluePane.getByLabel('EDR: expected').check();
  await bluePane.getByLabel('EDR: detection level').selectOption('alerted');
  await bluePane.getByLabel('EDR: alert or rule name').fill('Suspicious whoami /all');
  await bluePane.getByRole('button', { name: 'Save assessment' }).click();
  await expect(bp.getByText('Assessment saved.')).toBeVisible();
  await expect(bp.getByTestId('test-outcome')).toHaveText('Alerted');
  await expect(bp.locator('.badges')).toContainText('Assessed');
  await shots(bp, 'missions-test-blue');
  await bell.getByRole('button', { name: 'Notifications, 2 unread' }).click();
  await bell.getByRole('button', { name: 'Mark all read' }).click();
  await expect(bell.getByTestId('unread-count')).toHaveCount(0);
  await bp.keyboard.press('Escape');

  // ---- Red: reload and see the outcome.
  await rp.reload();
  await expect(rp.getByTestId('test-outcome')).toHaveText('Alerted');
  await expect(rp.locator('.badges')).toContainText('Assessed');

  // ---- The lead's views: the list and the board (admin, the creator, is the lead).
  await page.goto('/missions');
  const card = page.getByTestId('missions-list').getByRole('listitem').filter({ hasText: s.missionName });
  await expect(card).toContainText('Active');
  await expect(card).toContainText('1 test · 1 assessed');
  await shots(page, 'missions-list');
  await card.getByRole('link', { name: s.missionName }).click();
  await expect(page.getByRole('heading', { level: 1, name: s.missionName })).toBeVisible();
  const board = page.getByTestId('board');
  await expect(board.getByRole('region', { name: 'Assessed: 1 tests' })).toContainText(s.testName);
  await shots(page, 'missions-board');
  await page.getByRole('tab', { name: 'Members' }).click();
  await expect(page.getByTestId('members')).toContainText(s.red.name);
  await expect(page.getByTestId('members')).toContainText(s.blue.name);

  red.check();
  blue.check();
  await red.close();
  await blue.close();
});

test('two editors: the second save gets "someone else saved first" and can keep its edits', async ({ browser }) => {
  const s = await setUp();
  const testPath = `/missions/${s.missionId}/tests/${s.testId}`;
  const red = await signedInPage(browser, s.red, testPath);
  red.allow(/status of 409/); // the refused save
  const rp = red.page;
  await expect(rp.getByRole('heading', { level: 1, name: s.testName })).toBeVisible();
  // Red is editing when someone else (the admin, lead) saves through the API.
  const redPane = rp.getByTestId('red-pane');
  await redPane.getByLabel('Tool').fill('PowerShell');
  const token = await apiLogin(base(), admin().email, admin().password);
  const cur = await apiAs<{ version: number }>(base(), token, 'GET', `/missions/${s.missionId}/tests/${s.testId}`);
  await apiAs(base(), token, 'PATCH', `/missions/${s.missionId}/tests/${s.testId}`, { operator: 'Larry Lead', version: cur.version });

  // The page learns it live (mission event) or at the refused save.
  const conflict = rp.getByTestId('conflict');
  if (!(await conflict.isVisible())) await redPane.getByRole('button', { name: 'Save red log' }).click();
  await expect(conflict).toContainText('Someone else saved first');
  await conflict.getByRole('button', { name: 'Keep my edits' }).click();
  await redPane.getByRole('button', { name: 'Save red log' }).click();
  await expect(rp.getByText('Red log saved.')).toBeVisible();
  await expect(redPane.getByLabel('Tool')).toHaveValue('PowerShell');
  await expect(redPane.getByLabel('Operator')).toHaveValue('Larry Lead');
  red.check();
  await red.close();
});
