/**
 * The template library screens against the real server: the template table
 * with filters and the editor, and the scenario builder — three templates
 * dragged into a scenario, reordered by drag and by keyboard, saved, and the
 * order kept after a reload. Self-sufficient: syncs the small ATT&CK bundle
 * and creates its templates through the API.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { APIRequestContext, Page } from '@playwright/test';
import { test, expect as baseExpect } from './fixtures';
import { shots, unique } from './helpers';

// The machine running the suite may be busy: generous waits, never sleeps.
const expect = baseExpect.configure({ timeout: 30_000 });

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');
const SMALL_BUNDLE = path.resolve(repoRoot, '..', 'shared', 'testdata', 'attack', 'enterprise-attack-small.json');

async function syncSmall(request: APIRequestContext, token: string) {
  const res = await request.post('/api/v1/mitre/sync', {
    headers: { Authorization: `Bearer ${token}` },
    multipart: {
      allow_unverified: 'true',
      file: { name: path.basename(SMALL_BUNDLE), mimeType: 'application/octet-stream', buffer: readFileSync(SMALL_BUNDLE) },
    },
  });
  expect(res.status(), await res.text()).toBe(200);
}

async function createTemplate(request: APIRequestContext, token: string, body: Record<string, unknown>): Promise<{ id: string; name: string }> {
  const res = await request.post('/api/v1/test-templates', { headers: { Authorization: `Bearer ${token}` }, data: body });
  expect(res.status(), await res.text()).toBe(201);
  return res.json();
}

/** Three templates named `<prefix> A/B/C`, tagged with techniques of the small bundle. */
async function seed(request: APIRequestContext, token: string, prefix: string) {
  await syncSmall(request, token);
  const specs = [
    { name: `${prefix} A`, mitre_tags: [{ kind: 'technique', external_id: 'T1059' }], platforms: ['windows'], opsec_level: 'low', tags: ['e2e'] },
    { name: `${prefix} B`, mitre_tags: [{ kind: 'subtechnique', external_id: 'T1059.001' }], platforms: ['windows'], opsec_level: 'medium', tags: ['e2e'] },
    { name: `${prefix} C`, mitre_tags: [], platforms: ['linux'], opsec_level: 'high', tags: ['e2e'] },
  ];
  const out = [];
  for (const s of specs) out.push(await createTemplate(request, token, { description: 'Created by the library e2e.', command: 'whoami', ...s }));
  return out;
}

async function entryNames(page: Page): Promise<string[]> {
  return page.getByTestId('scenario-entry').evaluateAll((els) => els.map((e) => e.getAttribute('data-name') ?? ''));
}

test.beforeEach(({ accessToken }) => {
  test.slow();
  test.skip(!accessToken, 'the library screens need a signed-in user');
});

test('library table: search, filter chips, editor with the ATT&CK tag picker', async ({ page, request, accessToken }) => {
  const prefix = unique('lib');
  await seed(request, accessToken, prefix);

  await page.goto('/library');
  await expect(page.getByRole('heading', { level: 1, name: 'Test templates' })).toBeVisible();
  await page.getByTestId('library-search').fill(prefix);
  const table = page.getByTestId('templates-table');
  await expect(table.locator('tbody tr')).toHaveCount(3);
  await expect(table).toContainText('T1059.001');

  await page.getByTestId('filter-opsec').selectOption('high');
  await expect(table.locator('tbody tr')).toHaveCount(1);
  await expect(table).toContainText(`${prefix} C`);
  await expect(page.getByTestId('filter-chips')).toContainText('OPSEC: high');
  // The filters live in the address: reload keeps them, back and forward walk them.
  await expect(page).toHaveURL(/[?&]opsec=high/);
  await expect(page).toHaveURL(new RegExp(`[?&]q=${prefix}`));
  await page.reload();
  await expect(page.getByTestId('filter-opsec')).toHaveValue('high');
  await expect(page.getByTestId('library-search')).toHaveValue(prefix);
  await expect(table.locator('tbody tr')).toHaveCount(1);
  await page.goBack();
  await expect(page).not.toHaveURL(/opsec=high/);
  await expect(page.getByTestId('filter-opsec')).toHaveValue('');
  await expect(table.locator('tbody tr')).toHaveCount(3);
  await page.goForward();
  await expect(page.getByTestId('filter-opsec')).toHaveValue('high');
  await expect(table.locator('tbody tr')).toHaveCount(1);
  await page.getByRole('button', { name: 'Remove the OPSEC filter' }).click();
  await expect(table.locator('tbody tr')).toHaveCount(3);
  await shots(page, 'library-table');

  // Opening C shows it read only; Edit opens the editor.
  await table.getByRole('button', { name: `${prefix} C`, exact: true }).click();
  const view = page.getByTestId('template-view');
  await expect(view).toBeVisible();
  await expect(view.getByTestId('view-command')).toHaveText('whoami');
  await expect(view.getByRole('textbox')).toHaveCount(0);
  await shots(page, 'library-view', { fullPage: false });
  await view.getByTestId('view-edit').click();
  // Edit C: add a tag through the picker with the keyboard, save.
  const editor = page.getByTestId('template-editor');
  await expect(editor).toBeVisible();
  const picker = editor.getByTestId('tag-picker-input');
  await picker.fill('powershell');
  await expect(editor.getByRole('option').first()).toBeVisible();
  await picker.press('Enter');
  await expect(editor.getByTestId('tag-chips')).toContainText('T1059');
  await shots(page, 'library-editor', { fullPage: false });
  await editor.getByRole('button', { name: 'Save changes' }).click();
  await expect(editor).toBeHidden();
  await expect(table.locator('tbody tr', { hasText: `${prefix} C` })).toContainText('T1059');
});

test('scenario builder: drag three templates in, reorder by drag and keyboard, save, reload keeps the order', async ({ page, request, accessToken }) => {
  const prefix = unique('scn');
  await seed(request, accessToken, prefix);
  const [A, B, C] = ['A', 'B', 'C'].map((x) => `${prefix} ${x}`);

  await page.goto('/library/scenarios');
  await page.getByTestId('new-scenario').click();
  const dialog = page.getByTestId('scenario-create');
  await dialog.getByLabel('Name').fill(`${prefix} playbook`);
  await dialog.getByRole('button', { name: 'Create and open' }).click();
  await expect(page).toHaveURL(/\/library\/scenarios\/[^/]+$/);
  await expect(page.getByRole('heading', { level: 1, name: `${prefix} playbook` })).toBeVisible();

  await page.getByTestId('picker-search').fill(prefix);
  const picks = page.getByTestId('picker-item');
  await expect(picks).toHaveCount(3);
  const list = page.getByTestId('scenario-entries');

  // Drag A, B, C (in that order) to the end of the list with the real mouse.
  for (const name of [A, B, C]) {
    const box = (await list.boundingBox())!;
    await page.getByTestId('picker-item').filter({ hasText: name }).dragTo(list, { targetPosition: { x: box.width / 2, y: box.height - 4 } });
  }
  await expect.poll(() => entryNames(page)).toEqual([A, B, C]);

  // Drag C onto the top half of A: C first.
  await page.locator(`[data-testid="scenario-entry"][data-name="${C}"]`).dragTo(page.locator(`[data-testid="scenario-entry"][data-name="${A}"]`), {
    targetPosition: { x: 40, y: 3 },
  });
  await expect.poll(() => entryNames(page)).toEqual([C, A, B]);

  // Keyboard: focus B (last) and move it up once: C, B, A.
  const b = page.locator(`[data-testid="scenario-entry"][data-name="${B}"]`);
  await b.focus();
  await page.keyboard.press('Alt+ArrowUp');
  await expect.poll(() => entryNames(page)).toEqual([C, B, A]);
  await expect(page.getByTestId('builder-live')).toHaveText(`${B} moved to position 2 of 3.`);
  await expect(page.locator(`[data-testid="scenario-entry"][data-name="${B}"]`)).toBeFocused();

  await page.getByTestId('save-scenario').click();
  await expect(page.getByTestId('save-scenario')).toBeDisabled();
  await expect(page.getByTestId('coverage-strip').locator('[data-testid="coverage-tactic"][data-id="TA0002"]')).toContainText('2');
  await shots(page, 'library-builder');

  await page.reload();
  await expect.poll(() => entryNames(page)).toEqual([C, B, A]);
});
