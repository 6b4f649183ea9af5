/**
 * The ATT&CK screens against the real server: import the small test bundle
 * in the sync dialog, the matrix, search highlighting, the technique drawer,
 * revoked/deprecated entries, error messages, empty state and screenshots.
 *
 * Every test that needs a catalogue syncs the small bundle itself first
 * (another spec may reset the instance); re-syncing it is a no-op.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { APIRequestContext, Page } from '@playwright/test';
import { test, expect } from './fixtures';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');
/** ../shared/testdata beside the repository (read in place, never copied). */
const SMALL_BUNDLE = path.resolve(repoRoot, '..', 'shared', 'testdata', 'attack', 'enterprise-attack-small.json');
const shots = (name: string) => fileURLToPath(new URL(`../test-results/${name}`, import.meta.url));

const CORE_BUNDLE = path.resolve(repoRoot, '..', 'shared', 'testdata', 'attack', 'enterprise-attack-core.json.gz');

async function syncFile(request: APIRequestContext, token: string, file: string) {
  const res = await request.post('/api/v1/mitre/sync', {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
    // Fields before the file part: the server streams the file and ignores later fields.
    multipart: {
      allow_unverified: 'true',
      file: { name: path.basename(file), mimeType: 'application/octet-stream', buffer: readFileSync(file) },
    },
  });
  expect(res.status(), await res.text()).toBe(200);
}

const syncSmall = (request: APIRequestContext, token: string) => syncFile(request, token, SMALL_BUNDLE);

function cell(page: Page, id: string) {
  return page.getByTestId('matrix').locator(`[data-testid="matrix-cell"][data-id="${id}"]`);
}

test.beforeEach(({ accessToken }) => {
  test.skip(!accessToken, 'the ATT&CK screens need a signed-in user');
});

test('import the small bundle in the sync dialog, see the matrix, search "powershell", open T1059', async ({ page }) => {
  await page.goto('/attack');
  await expect(page).toHaveTitle('ATT&CK · Purplebook');
  await expect(page.getByRole('heading', { level: 1, name: 'ATT&CK' })).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'ATT&CK' })).toHaveAttribute('aria-current', 'page');

  // The sync dialog: file, "allow unverified", upload with progress, result.
  await page.getByTestId('open-sync').click();
  const dialog = page.getByRole('dialog', { name: 'Import the ATT&CK catalogue' });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole('button', { name: 'Fetch pinned release 18.1' })).toBeVisible();
  await dialog.getByTestId('sync-file').setInputFiles(SMALL_BUNDLE);
  await expect(dialog.getByTestId('sync-file-name')).toHaveText('enterprise-attack-small.json');
  await dialog.getByRole('checkbox', { name: 'Allow unverified import' }).check();
  await dialog.getByLabel('Version').fill('18.1-small');
  await page.screenshot({ path: shots('attack-sync-dialog.png') });
  await dialog.getByRole('button', { name: 'Import file' }).click();

  const result = dialog.getByTestId('sync-result');
  await expect(result).toBeVisible();
  await expect(result).toContainText('Catalogue imported');
  await expect(result).toContainText('18.1-small');
  await expect(result).toContainText('Unverified import');
  await expect(result.getByTestId('sync-count-tactics')).toHaveText('3');
  // Active of stored (a catalogue synced before keeps its vanished entries, flagged).
  await expect(result.getByTestId('sync-count-techniques')).toHaveText(/^5of \d+$/);
  await expect(result.getByTestId('sync-count-subtechniques')).toHaveText(/^4of \d+$/);
  for (const kind of ['added', 'renamed', 'revoked', 'deprecated', 'removed', 'restored']) {
    await expect(result.getByTestId(`sync-changes-${kind}`)).toBeVisible();
  }
  // On a fresh catalogue the 15 entries are listed under "Added" (collapsible).
  const added = result.getByTestId('sync-changes-added');
  if ((await added.getAttribute('data-count')) !== '0') {
    await added.locator('summary').click();
    await expect(added).toContainText('T1059.001');
    await expect(added).toContainText('PowerShell');
  }
  await expect(result.getByTestId('sync-affected-tags-none')).toBeVisible();
  await page.screenshot({ path: shots('attack-sync-result.png') });
  await dialog.getByRole('button', { name: 'Done' }).click();
  await expect(dialog).toBeHidden();

  // The header badge follows the new catalogue.
  const badge = page.getByTestId('catalogue-badge');
  await expect(badge).toHaveAttribute('data-state', 'unverified');
  await expect(badge).toContainText('18.1-small');
  await expect(badge).toContainText('Unverified');

  // The matrix: 3 tactics in matrix order.
  const matrix = page.getByRole('region', { name: 'ATT&CK matrix' });
  await expect(matrix.getByRole('heading', { level: 2 })).toHaveText(['Execution', 'Persistence', 'Privilege Escalation']);
  await expect(cell(page, 'T1059')).toContainText('Command and Scripting Interpreter');
  await expect(cell(page, 'T1053')).toHaveCount(3); // in all three tactics
  await expect(cell(page, 'T1060')).toHaveCount(0); // revoked: hidden by default
  await expect(page.getByTestId('attack-status')).toContainText('5 techniques in 3 tactics');

  // Search: T1059 is highlighted through its subtechnique PowerShell, the rest dimmed.
  await page.getByRole('searchbox', { name: 'Search techniques by name or id' }).fill('powershell');
  await expect(cell(page, 'T1059')).toHaveAttribute('data-match', 'true');
  await expect(cell(page, 'T1106')).toHaveAttribute('data-match', 'false');
  await expect(cell(page, 'T1053').first()).toHaveAttribute('data-match', 'false');
  await expect(cell(page, 'T1059').locator('[data-testid="matrix-sub"][data-id="T1059.001"]')).toContainText('PowerShell');
  await expect(cell(page, 'T1059').getByRole('button', { name: /sub-techniques of Command and Scripting Interpreter/ })).toHaveAttribute(
    'aria-expanded',
    'true',
  );
  await expect(page.getByTestId('attack-status')).toContainText('1 match for “powershell” in 1 technique');
  await expect(page.getByTestId('attack-results').getByTestId('attack-result')).toHaveText([/T1059\.001\s*PowerShell/]);
  await expect(page).toHaveURL(/[?&]q=powershell/);
  await page.screenshot({ path: shots('attack-search-powershell.png') });

  // Open the technique from its cell: the drawer shows T1059 and its subtechniques.
  await cell(page, 'T1059').getByRole('button', { name: /Command and Scripting Interpreter\s*T1059/ }).click();
  const drawer = page.getByRole('dialog', { name: 'T1059 Command and Scripting Interpreter' });
  await expect(drawer).toBeVisible();
  await expect(drawer.getByTestId('technique-id')).toHaveText('T1059');
  await expect(drawer.getByTestId('technique-tactics')).toContainText('Execution');
  await expect(drawer.getByTestId('technique-platforms')).toContainText('Windows');
  await expect(drawer.getByTestId('technique-description')).toContainText('Adversaries may abuse command and script interpreters');
  await expect(drawer.getByTestId('technique-description')).not.toContainText('(Citation:');
  const subs = drawer.getByTestId('technique-subtechniques');
  await expect(subs.getByRole('button')).toHaveText([/T1059\.001\s*PowerShell/, /T1059\.003\s*Windows Command Shell/]);
  const link = drawer.getByTestId('technique-url');
  await expect(link).toHaveAttribute('href', 'https://attack.mitre.org/techniques/T1059');
  await expect(link).toHaveAttribute('target', '_blank');
  await expect(link).toHaveAttribute('rel', 'noreferrer noopener');
  await expect(page).toHaveURL(/[?&]technique=T1059/);
  await page.screenshot({ path: shots('attack-drawer-T1059.png') });

  // A subtechnique opens its own detail, with a way back.
  await subs.getByRole('button', { name: /PowerShell/ }).click();
  const sub = page.getByRole('dialog', { name: 'T1059.001 PowerShell' });
  await expect(sub.getByTestId('technique-id')).toHaveText('T1059.001');
  await expect(sub.getByTestId('technique-parent')).toContainText('T1059');
  await expect(sub.getByTestId('technique-description')).toContainText('PowerShell');
  await page.screenshot({ path: shots('attack-drawer-T1059.001.png') });
  await sub.getByRole('button', { name: 'Back to T1059' }).click();
  await expect(page.getByRole('dialog', { name: 'T1059 Command and Scripting Interpreter' })).toBeVisible();

  // Esc closes it and focus returns to the cell.
  await page.keyboard.press('Escape');
  await expect(page.getByRole('dialog')).toHaveCount(0);
  await expect(cell(page, 'T1059').getByRole('button', { name: /Command and Scripting Interpreter\s*T1059/ })).toBeFocused();
  await expect(page).not.toHaveURL(/technique=/);
});

test('revoked and deprecated entries are flagged; a revoked one links to its replacement', async ({ page, request, accessToken }) => {
  await syncSmall(request, accessToken);
  await page.goto('/attack');
  await expect(cell(page, 'T1059')).toBeVisible();
  await page.getByRole('checkbox', { name: 'Show revoked and deprecated' }).check();
  await expect(cell(page, 'T1060')).toContainText('Revoked');
  await expect(cell(page, 'T1034')).toHaveCount(2);
  await expect(cell(page, 'T1034').first()).toContainText('Deprecated');
  await expect(page.getByTestId('attack-status')).toContainText(/\d+ revoked, deprecated or removed/);
  // The deprecated subtechnique T1053.004 Launchd is listed, flagged.
  const sched = cell(page, 'T1053').first();
  await sched.getByRole('button', { name: /Show 2 sub-techniques/ }).click();
  await expect(sched.locator('[data-testid="matrix-sub"][data-id="T1053.004"]')).toContainText('Deprecated');
  await expect(page).toHaveURL(/deprecated=1/);
  await page.screenshot({ path: shots('attack-deprecated.png'), fullPage: true });

  await cell(page, 'T1060').getByRole('button', { name: /Registry Run Keys/ }).click();
  const drawer = page.getByTestId('technique-drawer');
  await expect(drawer.getByTestId('technique-revoked')).toContainText('replaced it by');
  await page.screenshot({ path: shots('attack-drawer-revoked.png') });
  await drawer.getByTestId('replaced-by').click();
  await expect(page.getByRole('dialog', { name: 'T1547.001 Registry Run Keys / Startup Folder' })).toBeVisible();
  await expect(drawer.getByTestId('technique-id')).toHaveText('T1547.001');
  await expect(drawer.getByTestId('technique-parent')).toContainText('T1547');
});

test('the matrix works from the keyboard', async ({ page, request, accessToken }) => {
  await syncSmall(request, accessToken);
  await page.goto('/attack');
  const first = cell(page, 'T1059').getByRole('button', { name: /Command and Scripting Interpreter\s*T1059/ });
  await first.focus();
  // Down: the sub-technique toggle of the same cell, then the next cell.
  await page.keyboard.press('ArrowDown');
  const toggle = cell(page, 'T1059').getByRole('button', { name: /Show 2 sub-techniques/ });
  await expect(toggle).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(cell(page, 'T1059').getByRole('button', { name: /Hide 2 sub-techniques/ })).toHaveAttribute('aria-expanded', 'true');
  await page.keyboard.press('ArrowDown');
  await expect(cell(page, 'T1059').getByRole('button', { name: /PowerShell/ })).toBeFocused();
  // Right: the nearest cell in Persistence; Left comes back to Execution.
  await page.keyboard.press('ArrowRight');
  const focusedCol = () => page.evaluate(() => document.activeElement?.closest('[data-col]')?.getAttribute('data-col'));
  expect(await focusedCol()).toBe('TA0003');
  await page.screenshot({ path: shots('attack-keyboard-focus.png') });
  await page.keyboard.press('ArrowLeft');
  expect(await focusedCol()).toBe('TA0002');
  await page.keyboard.press('Home');
  await expect(first).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('dialog', { name: 'T1059 Command and Scripting Interpreter' })).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(first).toBeFocused();
});

test('sync errors show the server message; the pinned fetch reports an offline server', async ({ page, request, accessToken, pageGuard }) => {
  pageGuard.allowConsoleErrors.push(/status of 422/);
  await syncSmall(request, accessToken);
  await page.goto('/attack');
  await page.getByTestId('open-sync').click();
  const dialog = page.getByRole('dialog', { name: 'Import the ATT&CK catalogue' });

  // Nothing chosen: an inline error, nothing sent.
  await dialog.getByRole('button', { name: 'Import file' }).click();
  await expect(dialog).toContainText('Choose the bundle file to import.');

  // Not the pinned release and no sha256, without "allow unverified": 422 unverified_source.
  await dialog.getByTestId('sync-file').setInputFiles(SMALL_BUNDLE);
  await dialog.getByRole('button', { name: 'Import file' }).click();
  const error = dialog.getByTestId('sync-error');
  await expect(error).toContainText('is not the pinned ATT&CK 18.1 release');
  await expect(error).toContainText('Nothing was changed.');
  await expect(error).toContainText("The file's sha256:");

  // A wrong sha256: 422 sha256_mismatch with the server's message.
  await dialog.getByLabel('Expected sha256').fill('0'.repeat(64));
  await dialog.getByRole('button', { name: 'Import file' }).click();
  await expect(error).toContainText(`not the expected ${'0'.repeat(64)}`);
  await page.screenshot({ path: shots('attack-sync-error.png') });

  // A malformed sha256 is caught before sending.
  await dialog.getByLabel('Expected sha256').fill('abc');
  await dialog.getByRole('button', { name: 'Import file' }).click();
  await expect(dialog).toContainText('Must be 64 hexadecimal characters.');

  // The pinned release needs the network: this server's answer when it has none
  // (answered here by the test, so a machine with internet access does not download 45 MB).
  const offline = {
    error: {
      code: 'source_unreachable',
      message: 'Cannot reach raw.githubusercontent.com (name not resolved) — upload the file instead.',
      details: {},
    },
    request_id: 'e2e-offline',
  };
  let posted: unknown = null;
  await page.route('**/api/v1/mitre/sync', async (route) => {
    if (route.request().headers()['content-type']?.startsWith('application/json')) {
      posted = route.request().postDataJSON();
      await route.fulfill({ status: 422, contentType: 'application/json', body: JSON.stringify(offline) });
    } else await route.continue();
  });
  await dialog.getByRole('button', { name: 'Fetch pinned release 18.1' }).click();
  await expect(error).toContainText('Could not fetch ATT&CK 18.1');
  await expect(error).toContainText('Cannot reach raw.githubusercontent.com (name not resolved) — upload the file instead.');
  expect(posted).toEqual({});
  await page.screenshot({ path: shots('attack-sync-offline.png') });
});

test('a bundle dropped onto the dialog is imported', async ({ page }) => {
  await page.goto('/attack');
  await page.getByTestId('open-sync').click();
  const dialog = page.getByRole('dialog', { name: 'Import the ATT&CK catalogue' });
  const content = readFileSync(SMALL_BUNDLE, 'utf8');
  const dt = await page.evaluateHandle((text) => {
    const d = new DataTransfer();
    d.items.add(new File([text], 'dropped-small.json', { type: 'application/json' }));
    return d;
  }, content);
  const zone = dialog.getByTestId('sync-drop');
  await zone.dispatchEvent('dragenter', { dataTransfer: dt });
  await zone.dispatchEvent('dragover', { dataTransfer: dt });
  await zone.dispatchEvent('drop', { dataTransfer: dt });
  await expect(dialog.getByTestId('sync-file-name')).toHaveText('dropped-small.json');
  await dialog.getByRole('checkbox', { name: 'Allow unverified import' }).check();
  await dialog.getByRole('button', { name: 'Import file' }).click();
  await expect(dialog.getByTestId('sync-result')).toContainText('upload:dropped-small.json');
  await dialog.getByRole('button', { name: 'Done' }).click();
  await expect(cell(page, 'T1059')).toBeVisible();
});

test('without mitre.sync there is no import; the empty page asks an administrator', async ({ page }) => {
  // The session as a user without the permission (the server would answer 403 anyway).
  await page.route('**/api/v1/auth/refresh', async (route) => {
    const res = await route.fetch();
    const body = await res.json();
    body.user.permissions = (body.user.permissions as string[]).filter((p) => p !== 'mitre.sync');
    await route.fulfill({ response: res, json: body });
  });
  await page.route('**/api/v1/mitre/tactics*', (route) => route.fulfill({ json: { items: [], total: 0 } }));
  await page.route('**/api/v1/mitre/techniques?*', (route) => route.fulfill({ json: { items: [], total: 0, page: 1, per_page: 200 } }));
  await page.goto('/attack');
  const emptyState = page.getByTestId('attack-empty');
  await expect(emptyState).toContainText('An administrator needs to import the MITRE ATT&CK catalogue');
  await expect(emptyState.getByRole('button')).toHaveCount(0);
  await expect(page.getByTestId('open-sync')).toHaveCount(0);
  await page.screenshot({ path: shots('attack-empty-no-permission.png') });
});

test('a technique description is shown as text, never as HTML', async ({ page, request, accessToken }) => {
  await syncSmall(request, accessToken);
  let dialogs = 0;
  page.on('dialog', (d) => {
    dialogs++;
    void d.dismiss();
  });
  await page.route('**/api/v1/mitre/techniques/T1106', (route) =>
    route.fulfill({
      contentType: 'application/json',
      body: JSON.stringify({
        id: 'x',
        kind: 'technique',
        external_id: 'T1106',
        name: 'Native API',
        url: 'https://attack.mitre.org/techniques/T1106',
        platforms: ['Windows'],
        tactics: [{ external_id: 'TA0002', shortname: 'execution', name: 'Execution' }],
        state: 'active',
        description:
          'Calls <script>alert(1)</script> and <img src=x onerror=alert(2)>.(Citation: X)\n\nUse <code>CreateProcess</code> or [PowerShell](https://attack.mitre.org/techniques/T1059/001).',
      }),
    }),
  );
  await page.goto('/attack?technique=T1106');
  const drawer = page.getByRole('dialog', { name: 'T1106 Native API' });
  const desc = drawer.getByTestId('technique-description');
  await expect(desc).toContainText('Calls <script>alert(1)</script> and <img src=x onerror=alert(2)>.');
  await expect(desc.locator('img, script')).toHaveCount(0);
  await expect(desc.locator('code')).toHaveText('CreateProcess');
  // An ATT&CK link in the text opens that technique in the drawer.
  await desc.getByRole('button', { name: 'PowerShell' }).click();
  await expect(page.getByRole('dialog', { name: 'T1059.001 PowerShell' })).toBeVisible();
  expect(dialogs).toBe(0);
});

test('an unknown technique shows the server message in the drawer', async ({ page, request, accessToken, pageGuard }) => {
  pageGuard.allowConsoleErrors.push(/status of 404/);
  await syncSmall(request, accessToken);
  await page.goto('/attack?technique=T9999');
  await expect(page.getByTestId('technique-error')).toContainText('No technique "T9999" in the catalogue.');
});

test('without a catalogue the page offers the import', async ({ page }) => {
  const empty = { items: [], total: 0, page: 1, per_page: 200 };
  const noCatalogue = {
    last_sync: null,
    version: '',
    source_url: '',
    sha256: '',
    verified: false,
    verification: '',
    spec_version: '',
    counts: { tactics: 0, techniques: 0, subtechniques: 0, active_techniques: 0, active_subtechniques: 0 },
    change_count: 0,
    default_url: 'https://raw.githubusercontent.com/mitre-attack/attack-stix-data/master/enterprise-attack/enterprise-attack-18.1.json',
    default_version: '18.1',
    default_sha256: '',
  };
  // Home reads the catalogue's status from GET /me/work.
  await page.route('**/api/v1/me/work', async (route) => {
    const res = await route.fetch();
    route.fulfill({ response: res, json: { ...(await res.json()), catalogue: noCatalogue } });
  });
  await page.route('**/api/v1/mitre/tactics*', (route) => route.fulfill({ json: { items: [], total: 0 } }));
  await page.route('**/api/v1/mitre/techniques?*', (route) => route.fulfill({ json: empty }));
  await page.route('**/api/v1/mitre/status', (route) =>
    route.fulfill({
      json: noCatalogue,
    }),
  );
  await page.goto('/attack');
  const emptyState = page.getByTestId('attack-empty');
  await expect(emptyState).toContainText('No ATT&CK catalogue yet');
  await expect(page.getByTestId('catalogue-badge')).toHaveAttribute('data-state', 'empty');
  await page.screenshot({ path: shots('attack-empty.png') });
  await emptyState.getByRole('button', { name: 'Import the catalogue' }).click();
  await expect(page.getByRole('dialog', { name: 'Import the ATT&CK catalogue' })).toBeVisible();

  // Home says so too.
  await page.goto('/');
  const card = page.getByRole('region', { name: 'ATT&CK catalogue' });
  await expect(card.getByTestId('attack-card-status')).toHaveAttribute('data-state', 'empty');
  await expect(card).toContainText('No catalogue has been imported yet.');
});

test('a failed matrix load shows the server message and can be retried', async ({ page, request, accessToken, pageGuard }) => {
  pageGuard.allowConsoleErrors.push(/status of 500/);
  await syncSmall(request, accessToken);
  let fail = true;
  await page.route('**/api/v1/mitre/tactics*', async (route) => {
    if (fail) await route.fulfill({ status: 500, json: { error: { code: 'internal', message: 'The catalogue table is locked.' } } });
    else await route.continue();
  });
  await page.goto('/attack');
  await expect(page.getByTestId('matrix-error')).toContainText('The catalogue table is locked.');
  fail = false;
  await page.getByRole('button', { name: 'Try again' }).click();
  await expect(cell(page, 'T1059')).toBeVisible();
});

test('the Home card shows the catalogue', async ({ page, request, accessToken }) => {
  await syncSmall(request, accessToken);
  await page.goto('/');
  const card = page.getByRole('region', { name: 'ATT&CK catalogue' });
  await expect(card.getByTestId('attack-card-status')).toHaveAttribute('data-state', 'unverified');
  await expect(card.getByTestId('attack-card-techniques')).toHaveText('5');
  await expect(card.getByTestId('attack-card-subtechniques')).toHaveText('4');
  await card.getByRole('link', { name: 'Open the ATT&CK matrix' }).click();
  await expect(page).toHaveURL(/\/attack$/);
  await expect(cell(page, 'T1059')).toBeVisible();
});

test('screenshots: light and dark, 1280 and 1920 wide', async ({ page, request, accessToken }) => {
  test.setTimeout(90_000);
  await syncSmall(request, accessToken);
  for (const width of [1280, 1920]) {
    await page.setViewportSize({ width, height: width === 1280 ? 800 : 1080 });
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.goto('/attack?q=task&deprecated=1');
      await expect(cell(page, 'T1053').first()).toHaveAttribute('data-match', 'true');
      await page.screenshot({ path: shots(`attack-matrix-${scheme}-${width}.png`) });
      await cell(page, 'T1053').first().getByRole('button', { name: /^Scheduled Task\/Job T1053/ }).click();
      await expect(page.getByTestId('technique-detail')).toBeVisible();
      await page.screenshot({ path: shots(`attack-drawer-${scheme}-${width}.png`) });
      await page.keyboard.press('Escape');
      await page.getByTestId('open-sync').click();
      await expect(page.getByRole('dialog', { name: 'Import the ATT&CK catalogue' })).toBeVisible();
      await page.screenshot({ path: shots(`attack-sync-dialog-${scheme}-${width}.png`) });
      await page.goto('/');
      await expect(page.getByRole('region', { name: 'ATT&CK catalogue' }).getByTestId('attack-card-status')).toHaveAttribute('data-state', 'unverified');
      await page.screenshot({ path: shots(`home-attack-${scheme}-${width}.png`) });
    }
  }
});

test('the full matrix (14 tactics) scrolls with sticky headers: screenshots', async ({ page, request, accessToken }) => {
  test.setTimeout(90_000);
  await syncFile(request, accessToken, CORE_BUNDLE);
  try {
    for (const width of [1280, 1920]) {
      await page.setViewportSize({ width, height: width === 1280 ? 800 : 1080 });
      for (const scheme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme: scheme });
        await page.goto('/attack');
        const matrix = page.getByRole('region', { name: 'ATT&CK matrix' });
        await expect(matrix.getByRole('heading', { level: 2 })).toHaveCount(14);
        await expect(matrix.getByRole('heading', { level: 2 }).first()).toHaveText('Reconnaissance');
        await page.screenshot({ path: shots(`attack-full-${scheme}-${width}.png`) });
        if (width === 1280 && scheme === 'light') {
          // Wider than the screen: it scrolls sideways; headers stay on top while scrolling down.
          const box = await matrix.evaluate((el) => ({ sw: el.scrollWidth, cw: el.clientWidth }));
          expect(box.sw).toBeGreaterThan(box.cw);
          await matrix.evaluate((el) => el.scrollTo({ top: 600, left: 900 }));
          const head = matrix.locator('header').nth(6);
          const [mTop, hTop] = await Promise.all([
            matrix.evaluate((el) => el.getBoundingClientRect().top),
            head.evaluate((el) => el.getBoundingClientRect().top),
          ]);
          expect(Math.abs(hTop - mTop)).toBeLessThan(3);
          await page.screenshot({ path: shots('attack-full-scrolled-1280.png') });
          await page.getByRole('searchbox', { name: 'Search techniques by name or id' }).fill('proc');
          await expect(page.getByTestId('attack-status')).toContainText('matches for “proc”');
          await matrix.evaluate((el) => el.scrollTo({ top: 0, left: 0 }));
          await page.screenshot({ path: shots('attack-full-search-proc-1280.png') });
        }
      }
    }
  } finally {
    await syncSmall(request, accessToken);
  }
});
