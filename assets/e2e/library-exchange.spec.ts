/**
 * Library screens for what the API already did (issue 13, item 7): Atomic
 * import of a folder (directory picker), and the library export/import
 * round trip from the library page.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, expect as baseExpect } from './fixtures';
import { apiAs } from './accounts';
import { shots, unique } from './helpers';

// The machine running the suite may be busy: generous waits, never sleeps.
const expect = baseExpect.configure({ timeout: 30_000 });
const here = path.dirname(fileURLToPath(import.meta.url));
const ATOMICS = path.resolve(here, '..', '..', '..', 'shared', 'testdata', 'atomics');
const base = () => process.env.PURPLEBOOK_E2E_BASE_URL!;

test.beforeEach(({ accessToken }) => {
  test.skip(!accessToken, 'the library needs the e2e admin');
  test.slow();
});

test('Atomic import of a folder sends its YAML files only', async ({ page }) => {
  await page.goto('/library');
  await page.getByTestId('open-atomic-import').click();
  const dialog = page.getByTestId('atomic-import');
  await dialog.getByTestId('atomic-folder').setInputFiles(ATOMICS);
  await expect(dialog.getByTestId('atomic-chosen')).toContainText('13 files (1 other files of the folder left out)');
  await shots(page, 'atomic-folder', { fullPage: false });
  await dialog.getByRole('button', { name: 'Import' }).click();
  const report = dialog.getByTestId('atomic-report');
  await expect(report).toContainText('in 13 files');
  const n = async (id: string) => Number(await dialog.getByTestId(id).innerText());
  expect((await n('atomic-created')) + (await n('atomic-updated')) + (await n('atomic-unchanged'))).toBeGreaterThan(13);
});

test('library export of the filtered templates, then import of the file: nothing new, nothing lost', async ({ page, accessToken }) => {
  const prefix = unique('xchg');
  for (const i of [1, 2]) {
    await apiAs(base(), accessToken, 'POST', '/test-templates', { name: `${prefix} ${i}`, command: 'whoami', mitre_tags: [] });
  }
  await page.goto(`/library?q=${prefix}`);
  await expect(page.getByTestId('templates-table').locator('tbody tr')).toHaveCount(2);
  await page.getByTestId('open-library-export').click();
  const exp = page.getByTestId('library-export');
  await expect(exp).toContainText('the 2 matching the current filters');
  const [download] = await Promise.all([page.waitForEvent('download'), exp.getByTestId('export-download').click()]);
  expect(download.suggestedFilename()).toMatch(/^purplebook-library-\d{8}-\d{4}\.json$/);
  const file = await download.path();
  const doc = JSON.parse(readFileSync(file, 'utf8')) as { templates: { name: string }[] };
  expect(doc.templates.map((t) => t.name).sort()).toEqual([`${prefix} 1`, `${prefix} 2`]);

  await page.getByTestId('open-library-import').click();
  const imp = page.getByTestId('library-import');
  await imp.getByRole('button', { name: 'Import' }).click();
  await expect(imp.getByLabel('Library file')).toHaveAccessibleDescription('Library file is required.');
  await imp.getByLabel('Library file').setInputFiles(file);
  await imp.getByTestId('import-run').click();
  await expect(imp.getByTestId('library-report')).toContainText('Templates: 0 created, 0 updated, 2 unchanged.');
  await shots(page, 'library-import-report', { fullPage: false });
});
