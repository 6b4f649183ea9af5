/**
 * The Backups page (issue 12, item 7) and the library bundle (item 6) against
 * the real server. Backups: back up now
 * (a stored backup appears), download it in the browser and restore the
 * downloaded file with the real binary into a fresh data dir, set the
 * schedule (kept after a reload), delete the stored backup, and the restore
 * instructions. Screens at 1280 and 390 px.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, expect as baseExpect } from './fixtures';
import { shots } from './helpers';
import { expectAccessible } from './a11y';

const expect = baseExpect.configure({ timeout: 20_000 });
test.describe.configure({ timeout: 120_000 });

test.beforeEach(() => {
  test.skip(!process.env.PURPLEBOOK_E2E_ADMIN_EMAIL, 'the Backups page needs the e2e admin');
});

test('back up now, download and restore it, schedule, delete', async ({ page }) => {
  await page.goto('/admin/backups');
  await expect(page).toHaveTitle('Backups · Purplebook');
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link', { name: 'Backups' })).toHaveAttribute('aria-current', 'page');
  const table = page.getByRole('table', { name: 'Stored backups' });
  const rows = table.getByRole('row').filter({ hasText: 'purplebook-backup-' });
  const before = await rows.count();

  // Back up now: a new stored backup, listed newest first.
  await page.getByRole('button', { name: 'Back up now' }).click();
  await expect(page.getByRole('status').filter({ hasText: /Backup purplebook-backup-.* taken/ })).toBeVisible();
  await expect(rows).toHaveCount(before + 1);
  const name = (await rows.first().locator('.name').textContent())!.trim();
  expect(name).toMatch(/^purplebook-backup-\d{8}T\d{6}\.\d{3}Z\.pbz$/);

  // Download it in the browser; the file restores with the real binary.
  const download = page.waitForEvent('download');
  await rows.first().getByRole('button', { name: `Download ${name}` }).click();
  const d = await download;
  expect(d.suggestedFilename()).toBe(name);
  const dir = mkdtempSync(path.join(tmpdir(), 'pb-e2e-restore-'));
  try {
    const file = path.join(dir, name);
    await d.saveAs(file);
    expect(readFileSync(file).subarray(0, 2).toString()).toBe('PK');
    const bin = process.env.PURPLEBOOK_BIN;
    if (bin && existsSync(bin)) {
      const out = execFileSync(bin, ['restore', file, '--data-dir', path.join(dir, 'data')], { encoding: 'utf8' });
      expect(out).toContain('audit chain intact');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // The restore instructions name this instance's data directory.
  const help = page.getByTestId('backup-restore-help');
  await expect(help.getByTestId('restore-command')).toHaveValue(/^purplebook restore .*\.pbz --data-dir \S+/);
  await expect(help.getByTestId('restore-command-pg')).toHaveValue(/--db postgres:\/\//);

  // Schedule: every day, keep 3; kept after a reload; then off again.
  const schedule = page.getByTestId('backup-schedule');
  await schedule.getByLabel('Back up').selectOption({ label: 'Every day' });
  await schedule.getByLabel('Keep the newest').fill('3');
  await schedule.getByRole('button', { name: 'Save schedule' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Every day, keeping the newest 3.' })).toBeVisible();
  await page.reload();
  await expect(schedule).toContainText('Every day, keeping the newest 3');
  await expect(schedule.getByLabel('Keep the newest')).toHaveValue('3');

  await expectAccessible(page, 'backups');
  await shots(page, 'backups-1280');
  await page.setViewportSize({ width: 390, height: 844 });
  await expect(page.getByRole('button', { name: 'Back up now' })).toBeVisible();
  // Nothing wider than the phone's screen.
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await expectAccessible(page, 'backups at 390 px');
  await shots(page, 'backups-390');
  await page.setViewportSize({ width: 1280, height: 800 });

  await schedule.getByLabel('Back up').selectOption({ label: 'Off (manual backups only)' });
  await schedule.getByLabel('Keep the newest').fill('7');
  await schedule.getByRole('button', { name: 'Save schedule' }).click();
  await expect(schedule).toContainText('No scheduled backups');

  // Delete the stored backup.
  await rows.filter({ hasText: name }).getByRole('button', { name: `Delete ${name}` }).click();
  const confirm = page.getByTestId('backup-delete-dialog');
  await confirm.getByRole('button', { name: 'Delete backup' }).click();
  await expect(page.getByRole('status').filter({ hasText: `Backup ${name} deleted.` })).toBeVisible();
  await expect(rows.filter({ hasText: name })).toHaveCount(0);
});

test('library bundle: export from the library, import it on the Bundles page (dry run, apply)', async ({ page }) => {
  await page.goto('/library');
  const download = page.waitForEvent('download');
  await page.getByTestId('export-library-bundle').click();
  const d = await download;
  expect(d.suggestedFilename()).toMatch(/^purplebook-library-\d{8}\.pbz$/);
  const dir = mkdtempSync(path.join(tmpdir(), 'pb-e2e-lib-'));
  try {
    const file = path.join(dir, d.suggestedFilename());
    await d.saveAs(file);
    await page.goto('/bundles');
    await page.getByTestId('bundle-file').setInputFiles(file);
    await page.getByRole('button', { name: 'Upload and check' }).click();
    const report = page.getByTestId('import-report');
    await expect(report.getByTestId('signer')).toContainText('SHA256:');
    await expect(report.getByRole('heading', { name: 'A template library' })).toBeVisible();
    // Its own library: nothing to change.
    await expect(report.getByTestId('import-summary')).toHaveText('0 changed');
    await expect(report.getByRole('row', { name: /Detection levels/ })).toBeVisible();
    await report.getByRole('button', { name: 'Apply the import' }).click();
    await expect(page.getByText(/The library: 0 changed/)).toBeVisible();
    await expect(page.getByRole('link', { name: 'Open the library' })).toBeVisible();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
