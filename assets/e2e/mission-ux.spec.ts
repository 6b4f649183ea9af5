/**
 * Issue 13 in the browser, against the real server:
 * - an Atomic test in a mission: input arguments with defaults, red's
 *   values, the command substituted live with a copy button, prerequisites
 *   and cleanup; the template editor's preview;
 * - the timeline: executed start → finish, times to log/alert/prevent from
 *   the start per control and overall;
 * - mission end: completing with open tests asks first; completed missions
 *   are read-only until reopened;
 * - the live board: red executes, blue's open board moves the card;
 * - the audit log names people and shows before → after;
 * - ATT&CK verification afterwards, and what "verified" means.
 * Each screen is checked at 1280×800 and 390 px for horizontal scroll.
 * Self-sufficient: everything is made here through the API.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { APIRequestContext } from '@playwright/test';
import { test, expect } from './fixtures';
import { apiAs, apiLogin } from './accounts';
import { makeUser, shots, unique, type TestUser } from './helpers';
import { noHorizontalScroll, signedInPage } from './ux';

const here = path.dirname(fileURLToPath(import.meta.url));
const testdata = path.resolve(here, '..', '..', '..', 'shared', 'testdata');
const base = () => process.env.PURPLEBOOK_E2E_BASE_URL!;
const admin = () => ({ email: process.env.PURPLEBOOK_E2E_ADMIN_EMAIL!, password: process.env.PURPLEBOOK_E2E_ADMIN_PASSWORD! });

test.beforeEach(() => {
  test.skip(!process.env.PURPLEBOOK_E2E_ADMIN_EMAIL, 'the server has no accounts');
});

interface Crew {
  token: string;
  red: TestUser;
  blue: TestUser;
  missionId: string;
  missionName: string;
}

/** A mission led by the e2e admin with a red and a blue member, active. */
async function crew(label: string): Promise<Crew> {
  const token = await apiLogin(base(), admin().email, admin().password);
  const red = await makeUser(base(), token, { groups: ['Red team'], name: `Rosa Red ${unique('r').slice(-4)}` });
  const blue = await makeUser(base(), token, { groups: ['Blue team'], name: `Ben Blue ${unique('b').slice(-4)}` });
  const missionName = unique(label);
  const m = await apiAs<{ id: string }>(base(), token, 'POST', '/missions', { name: missionName, description: label });
  await apiAs(base(), token, 'POST', `/missions/${m.id}/members`, { user_id: red.id, role: 'red' });
  await apiAs(base(), token, 'POST', `/missions/${m.id}/members`, { user_id: blue.id, role: 'blue' });
  await apiAs(base(), token, 'PATCH', `/missions/${m.id}`, { status: 'active' });
  return { token, red, blue, missionId: m.id, missionName };
}

async function importAtomic(request: APIRequestContext, token: string, id: string) {
  const res = await request.post('/api/v1/test-templates/import/atomics', {
    headers: { Authorization: `Bearer ${token}` },
    multipart: { file: { name: `${id}.yaml`, mimeType: 'application/yaml', buffer: readFileSync(path.join(testdata, 'atomics', id, `${id}.yaml`)) } },
  });
  expect(res.status(), await res.text()).toBe(200);
}

const PROCDUMP = 'Dump LSASS.exe Memory using ProcDump';

test('an Atomic test shows its arguments, red fills one in, the command is substituted with a copy button', async ({ browser, request, page }) => {
  test.setTimeout(150_000);
  const c = await crew('Atomic mission');
  await importAtomic(request, c.token, 'T1003.001');
  const list = await apiAs<{ items: { id: string; name: string }[] }>(base(), c.token, 'GET', `/test-templates?per_page=50&q=${encodeURIComponent(PROCDUMP)}`);
  const tpl = list.items.find((t) => t.name === PROCDUMP)!;
  expect(tpl, 'the imported template').toBeTruthy();
  const t = await apiAs<{ id: string }>(base(), c.token, 'POST', `/missions/${c.missionId}/tests`, { test_template_id: tpl.id });

  const r = await signedInPage(browser, c.red, `/missions/${c.missionId}/tests/${t.id}`);
  await r.page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  const rp = r.page;
  const atomic = rp.getByTestId('atomic');
  await expect(atomic.getByRole('heading', { name: 'Run it' })).toBeVisible();
  await expect(atomic).toContainText('Command prompt (cmd.exe)');
  await expect(atomic).toContainText('Needs administrator rights');
  await expect(atomic.getByTestId('atomic-arg')).toHaveCount(2);
  const out = atomic.getByLabel('output_file');
  await expect(out).toHaveAttribute('placeholder', 'C:\\Windows\\Temp\\lsass_dump.dmp');
  await expect(atomic).toContainText('Path where resulting dump should be placed');
  const cmd = atomic.getByTestId('atomic-command');
  await expect(cmd.locator('pre')).toHaveText(
    '"PathToAtomicsFolder\\..\\ExternalPayloads\\procdump.exe" -accepteula -ma lsass.exe C:\\Windows\\Temp\\lsass_dump.dmp\n',
  );
  const prereq = atomic.getByTestId('atomic-prereq');
  await expect(prereq).toContainText('ProcDump tool from Sysinternals must exist on disk at specified location (PathToAtomicsFolder\\..\\ExternalPayloads\\procdump.exe)');
  await expect(prereq).toContainText('if (Test-Path "PathToAtomicsFolder\\..\\ExternalPayloads\\procdump.exe") {exit 0} else {exit 1}');
  await expect(prereq).toContainText('Copy-Item');
  await expect(atomic).toContainText('run with PowerShell');
  await expect(atomic.getByTestId('atomic-cleanup').locator('pre')).toHaveText('del "C:\\Windows\\Temp\\lsass_dump.dmp" >nul 2> nul\n');
  await expect(atomic.locator('pre').filter({ hasText: '#{' })).toHaveCount(0); // no raw placeholder left

  // Red's value: the preview follows at once, Save stores it (and it stays after a reload).
  await out.fill('D:\\dumps\\lsass.dmp');
  await expect(cmd.locator('pre')).toContainText('lsass.exe D:\\dumps\\lsass.dmp');
  await expect(atomic.getByTestId('atomic-cleanup')).toContainText('del "D:\\dumps\\lsass.dmp"');
  await atomic.getByRole('button', { name: 'Save values' }).click();
  await expect(rp.getByText('Argument values saved.')).toBeVisible();
  await cmd.getByRole('button', { name: 'Copy command' }).click();
  await expect(cmd.getByRole('button', { name: 'Copy command' })).toContainText('Copied');
  expect(await rp.evaluate(() => navigator.clipboard.readText())).toBe(
    '"PathToAtomicsFolder\\..\\ExternalPayloads\\procdump.exe" -accepteula -ma lsass.exe D:\\dumps\\lsass.dmp\n',
  );
  await rp.reload();
  await expect(rp.getByTestId('atomic').getByLabel('output_file')).toHaveValue('D:\\dumps\\lsass.dmp');
  await noHorizontalScroll(rp);
  await shots(rp, 'mission-test-atomic');
  await rp.setViewportSize({ width: 390, height: 800 });
  await noHorizontalScroll(rp);
  await shots(rp, 'mission-test-atomic-390');

  // The audit log has the value as a readable change (names, not e-mails).
  await page.goto(`/admin/audit?`);
  await page.getByLabel('Action').selectOption('mission_test.update');
  const row = page.getByTestId('audit-table').getByRole('row').filter({ hasText: c.red.name }).first();
  await expect(row).toBeVisible();
  await expect(row.getByRole('button', { name: c.red.name })).toHaveAttribute('title', new RegExp(c.red.email.replace('.', '\\.')));
  await row.getByTestId('audit-details').locator('summary').click();
  await expect(row.getByTestId('audit-details')).toContainText('Argument values');
  await expect(row.getByTestId('audit-details')).toContainText('output_file = D:\\dumps\\lsass.dmp');
  await expect(row.getByTestId('audit-details')).not.toContainText('{"');
  await shots(page, 'audit-names');

  // The library's template editor previews the same commands with the defaults.
  await page.goto('/library');
  await page.getByTestId('library-search').fill(PROCDUMP);
  await page.getByTestId('templates-table').getByRole('button', { name: PROCDUMP, exact: true }).click();
  const editor = page.getByTestId('template-editor');
  await editor.getByTestId('template-preview').locator('summary').click();
  const preview = editor.getByTestId('template-atomic');
  await expect(preview.getByTestId('atomic-command').locator('pre')).toContainText('lsass.exe C:\\Windows\\Temp\\lsass_dump.dmp');
  await expect(preview.getByTestId('atomic-prereq')).toHaveCount(1);
  await expect(preview.getByTestId('atomic-cleanup')).toBeVisible();
  await shots(page, 'template-atomic-preview', { fullPage: false });
  r.check();
  await r.close();
});

test('the timeline: executed start → finish, times to log, alert and prevent from the start', async ({ page }) => {
  test.setTimeout(90_000);
  const c = await crew('Timeline mission');
  const t = await apiAs<{ id: string }>(base(), c.token, 'POST', `/missions/${c.missionId}/tests`, { name: 'Credential dump', mitre_tags: [] });
  // Yesterday: started 10:04, finished 10:06; EDR alerted 10:09; the SIEM logged 10:04.
  const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  const at = (hm: string) => `${day}T${hm}:00.000Z`;
  const redTok = await apiLogin(base(), c.red.email, c.red.password);
  const blueTok = await apiLogin(base(), c.blue.email, c.blue.password);
  await apiAs(base(), redTok, 'PATCH', `/missions/${c.missionId}/tests/${t.id}`, {
    started_at: at('10:04'),
    finished_at: at('10:06'),
    state: 'executed',
  });
  await apiAs(base(), blueTok, 'PATCH', `/missions/${c.missionId}/tests/${t.id}`, {
    outcomes: [
      { control: 'EDR', expected: true, detection_level: 'alerted', alerted_at: at('10:09') },
      { control: 'SIEM', expected: true, detection_level: 'logged', logged_at: at('10:04') },
    ],
  });

  await page.goto(`/missions/${c.missionId}/tests/${t.id}`);
  const times = page.getByTestId('detection-times');
  await expect(times.getByTestId('fact-executed')).toContainText('10:04:00');
  await expect(times.getByTestId('fact-executed')).toContainText('10:06:00');
  await expect(times.getByTestId('fact-executed')).toContainText('(2 min)');
  await expect(times.getByTestId('fact-detected')).toContainText('10:04:00');
  await expect(times.getByTestId('fact-detected')).toContainText('SIEM, logged');
  await expect(times.getByTestId('overall-log')).toHaveText('0 s');
  await expect(times.getByTestId('overall-alert')).toHaveText('5 min');
  await expect(times.getByTestId('overall-prevent')).toHaveText('—');
  await expect(times.getByTestId('times-EDR').getByTestId('tta')).toHaveText('5 min');
  await expect(times.getByTestId('times-EDR').getByTestId('ttl')).toHaveText('—');
  await expect(times.getByTestId('times-SIEM').getByTestId('ttl')).toHaveText('0 s');
  await expect(page.getByTestId('ttd')).toHaveText('0 s');
  await noHorizontalScroll(page);
  await times.scrollIntoViewIfNeeded();
  await shots(page, 'mission-test-timeline');
  await page.setViewportSize({ width: 390, height: 800 });
  await noHorizontalScroll(page);
});

test('completing with open tests asks first; a completed mission is read-only until a lead reopens it', async ({ page }) => {
  test.setTimeout(120_000);
  const c = await crew('Ending mission');
  const a = await apiAs<{ id: string }>(base(), c.token, 'POST', `/missions/${c.missionId}/tests`, { name: 'Still pending', mitre_tags: [] });
  const b = await apiAs<{ id: string }>(base(), c.token, 'POST', `/missions/${c.missionId}/tests`, { name: 'Executed only', mitre_tags: [] });
  await apiAs(base(), c.token, 'PATCH', `/missions/${c.missionId}/tests/${b.id}`, { state: 'executed' });

  await page.goto(`/missions/${c.missionId}`);
  await expect(page.getByRole('button', { name: 'Add test' })).toBeVisible();
  await page.getByRole('button', { name: 'Complete' }).click();
  const dialog = page.getByTestId('confirm-complete');
  await expect(dialog).toContainText('Complete the mission with open tests?');
  await expect(dialog).toContainText('1 pending (not started)');
  await expect(dialog).toContainText('1 executed but not assessed');
  await shots(page, 'mission-complete-dialog', { fullPage: false });
  await dialog.getByRole('button', { name: 'Complete anyway' }).click();
  await expect(page.getByText('Mission is now completed.')).toBeVisible();
  const banner = page.getByTestId('read-only');
  await expect(banner).toContainText('This mission is completed');
  await expect(page.getByRole('button', { name: 'Add test' })).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Add scenario' })).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Reopen' })).toBeVisible();
  await noHorizontalScroll(page);
  await shots(page, 'mission-read-only');
  await page.getByRole('tab', { name: 'Members' }).click();
  await expect(page.getByTestId('members').getByRole('button', { name: /Remove|Add/ })).toHaveCount(0);

  // The test page offers no write action; the API refuses with 409.
  await page.goto(`/missions/${c.missionId}/tests/${a.id}`);
  await expect(page.getByTestId('read-only')).toContainText('read-only');
  await expect(page.getByTestId('red-pane').getByRole('button', { name: 'Mark executed' })).toHaveCount(0);
  await expect(page.getByTestId('red-pane').getByText('read only')).toBeVisible();
  await expect(page.getByTestId('evidence-upload')).toHaveCount(0);
  const res = await fetch(`${base()}/api/v1/missions/${c.missionId}/tests/${a.id}`, {
    method: 'PATCH',
    headers: { Authorization: `Bearer ${c.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ state: 'executed' }),
  });
  expect(res.status).toBe(409);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe('mission_read_only');
  await page.setViewportSize({ width: 390, height: 800 });
  await noHorizontalScroll(page);
  await shots(page, 'mission-test-read-only-390');
  await page.setViewportSize({ width: 1280, height: 800 });

  // Reopened by the lead: writable again.
  await page.goto(`/missions/${c.missionId}`);
  await page.getByRole('button', { name: 'Reopen' }).click();
  await expect(page.getByText('Mission is now active.')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Add test' })).toBeVisible();
  await expect(page.getByTestId('read-only')).toHaveCount(0);
});

test('live board: red marks a test executed, blue sees the card move without reloading', async ({ browser }) => {
  test.setTimeout(150_000);
  const c = await crew('Live mission');
  const t = await apiAs<{ id: string }>(base(), c.token, 'POST', `/missions/${c.missionId}/tests`, { name: 'Live whoami', mitre_tags: [] });

  const blue = await signedInPage(browser, c.blue, `/missions/${c.missionId}`);
  const bp = blue.page;
  const board = bp.getByTestId('board');
  await expect(board.getByRole('region', { name: 'Pending: 1 tests' })).toContainText('Live whoami');
  await expect(board.getByRole('region', { name: 'Executed: 0 tests' })).toBeVisible();
  // A marker that a reload would wipe.
  await bp.evaluate(() => ((window as unknown as { __noReload: boolean }).__noReload = true));

  const red = await signedInPage(browser, c.red, `/missions/${c.missionId}/tests/${t.id}`);
  await red.page.getByTestId('red-pane').getByRole('button', { name: 'Mark executed' }).click();
  await expect(red.page.getByText('Test marked executed.')).toBeVisible();

  await expect(board.getByRole('region', { name: 'Executed: 1 tests' })).toContainText('Live whoami', { timeout: 15_000 });
  await expect(board.getByRole('region', { name: 'Pending: 0 tests' })).toBeVisible();
  expect(await bp.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true);
  await noHorizontalScroll(bp);
  await shots(bp, 'board-live');

  // A new test added by the lead shows up too.
  await apiAs(base(), c.token, 'POST', `/missions/${c.missionId}/tests`, { name: 'Live net user', mitre_tags: [] });
  await expect(board.getByRole('region', { name: 'Pending: 1 tests' })).toContainText('Live net user', { timeout: 15_000 });
  expect(await bp.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true);
  blue.check();
  red.check();
  await blue.close();
  await red.close();
});

test('ATT&CK: the sync dialog explains "verified"; an admin verifies an imported catalogue by its digest', async ({ page, request, accessToken, pageGuard }) => {
  test.setTimeout(90_000);
  pageGuard.allowConsoleErrors.push(/status of 422/);
  const small = path.join(testdata, 'attack', 'enterprise-attack-small.json');
  const res = await request.post('/api/v1/mitre/sync', {
    headers: { Authorization: `Bearer ${accessToken}` },
    multipart: { allow_unverified: 'true', file: { name: 'enterprise-attack-small.json', mimeType: 'application/json', buffer: readFileSync(small) } },
  });
  expect(res.status(), await res.text()).toBe(200);
  const synced = (await res.json()) as { canonical_digest: string; verified: boolean };
  expect(synced.verified).toBe(false);

  await page.goto('/attack');
  const badge = page.getByTestId('catalogue-badge');
  await expect(badge).toHaveAttribute('data-state', 'unverified');
  await page.getByTestId('open-sync').click();
  const sync = page.getByTestId('sync-dialog');
  await sync.getByTestId('verified-help').locator('summary').click();
  await expect(sync.getByTestId('verified-help')).toContainText('content digest');
  await expect(sync.getByTestId('verified-help')).toContainText('STIX 2.0');
  await shots(page, 'attack-sync-verified-help', { fullPage: false });
  await sync.getByRole('button', { name: 'Cancel' }).click();

  await page.getByTestId('open-verify').click();
  const dialog = page.getByTestId('verify-dialog');
  await expect(dialog).toContainText(synced.canonical_digest);
  await dialog.getByTestId('verify-sha256').fill('ab'.repeat(32));
  await dialog.getByRole('button', { name: 'Verify' }).click();
  await expect(dialog.getByTestId('verify-error')).toContainText('Nothing was changed');
  await expect(badge).toHaveAttribute('data-state', 'unverified');
  await dialog.getByTestId('verify-sha256').fill(synced.canonical_digest);
  await dialog.getByRole('button', { name: 'Verify' }).click();
  await expect(page.getByText('The ATT&CK catalogue is verified.')).toBeVisible();
  await expect(badge).toHaveAttribute('data-state', 'verified');
  await expect(badge).toContainText('Verified by sha256');
  await expect(page.getByTestId('open-verify')).toHaveCount(0);
  await noHorizontalScroll(page);
  await shots(page, 'attack-verified', { fullPage: false });
});
