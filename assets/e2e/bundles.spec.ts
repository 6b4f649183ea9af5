/**
 * Engagement bundles (issue 12) across two real servers: the harness's server
 * (A) and a second `purplebook serve` this spec starts on its own data dir
 * (B). In the browser: export a mission on A with the export dialog, import
 * the file on B (dry-run report with the signer and its fingerprint,
 * untrusted confirmation, apply), then — after a two-sided edit — import A's
 * next bundle on B and resolve the one conflict on B's Conflicts tab by
 * taking A's value.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from '@playwright/test';
import { test, expect, watchPage } from './fixtures';
import { apiAs, apiLogin, createAdmin, serverState, type Credentials } from './accounts';
import { shots, signInWithForm, unique } from './helpers';

const base = () => process.env.PURPLEBOOK_E2E_BASE_URL!;
const admin = () => ({ email: process.env.PURPLEBOOK_E2E_ADMIN_EMAIL!, password: process.env.PURPLEBOOK_E2E_ADMIN_PASSWORD! });

interface Second {
  url: string;
  dir: string;
  child: ChildProcess;
  admin: Credentials;
}

let b: Second | null = null;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** The binary the harness runs: $PURPLEBOOK_BIN, or the one it built. */
function binary(): string {
  if (process.env.PURPLEBOOK_BIN) return path.resolve(process.env.PURPLEBOOK_BIN);
  const st = serverState();
  if (!st) throw new Error('e2e: no server state; run through the harness');
  return path.join(st.tmpDir, process.platform === 'win32' ? 'purplebook.exe' : 'purplebook');
}

async function startSecond(): Promise<Second> {
  const dir = mkdtempSync(path.join(tmpdir(), 'purplebook-e2e-b-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  const child = spawn(binary(), ['serve', '--data-dir', path.join(dir, 'data'), '--listen', `127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await fetch(`${url}/api/v1/health`);
      if (res.status === 200) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`e2e: the second server did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const who = { email: 'lead.b@example.org', name: 'Blue Lead', password: `pw-${unique('b')}` };
  await createAdmin(url, path.join(dir, 'data'), who);
  const token = await apiLogin(url, who.email, who.password);
  await apiAs(url, token, 'PATCH', '/instance', { name: 'Team server B' });
  return { url, dir, child, admin: who };
}

test.beforeAll(async () => {
  if (!process.env.PURPLEBOOK_E2E_ADMIN_EMAIL) return;
  b = await startSecond();
});

test.afterAll(async () => {
  if (!b) return;
  b.child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  if (b.child.exitCode === null) b.child.kill('SIGKILL');
  rmSync(b.dir, { recursive: true, force: true });
});

test.beforeEach(() => {
  test.skip(!process.env.PURPLEBOOK_E2E_ADMIN_EMAIL, 'the server has no accounts');
});

/** A browser context on `url` signed in as `who`. */
async function signedIn(browser: Browser, url: string, who: { email: string; password: string }, p: string) {
  const ctx = await browser.newContext({ baseURL: url, acceptDownloads: true });
  const page = await ctx.newPage();
  const watch = await watchPage(page, new URL(url).origin);
  await page.goto(p);
  await expect(page).toHaveURL(/\/login/, { timeout: 30_000 });
  await signInWithForm(page, who.email, who.password);
  await expect(page).toHaveURL(new RegExp(`${p.replace(/[/]/g, '\\/')}$`), { timeout: 30_000 });
  return { page, check: watch.check, close: () => ctx.close() };
}

async function exportInBrowser(page: Page, out: string): Promise<void> {
  await page.getByRole('button', { name: 'Export bundle' }).click();
  const dialog = page.getByTestId('export-dialog');
  await expect(dialog.getByLabel(/Evidence files/)).toBeChecked();
  await expect(dialog.getByLabel(/Blue-team data/)).toBeChecked();
  const download = page.waitForEvent('download');
  await dialog.getByRole('button', { name: 'Export', exact: true }).click();
  const d = await download;
  expect(d.suggestedFilename()).toMatch(/\.pbz$/);
  await d.saveAs(out);
}

async function importInBrowser(page: Page, file: string, signer: string): Promise<void> {
  await page.goto('/bundles');
  await page.getByTestId('bundle-file').setInputFiles(file);
  await page.getByRole('button', { name: 'Upload and check' }).click();
  const report = page.getByTestId('import-report');
  // Upload, then the server verifies every entry before it answers.
  await expect(report.getByTestId('signer')).toContainText(`Signed by ${signer}`, { timeout: 60_000 });
  await expect(report.getByTestId('signer')).toContainText('SHA256:');
}

test('export on one instance, import on another, resolve a conflict', async ({ browser }) => {
  test.setTimeout(180_000);
  if (!b) throw new Error('no second server');
  // ---- Instance A: a mission with a test, red work and a screenshot.
  const tokenA = await apiLogin(base(), admin().email, admin().password);
  const missionName = unique('Operation Kestrel');
  const m = await apiAs<{ id: string }>(base(), tokenA, 'POST', '/missions', { name: missionName, description: 'Carried between laptops' });
  const t = await apiAs<{ id: string }>(base(), tokenA, 'POST', `/missions/${m.id}/tests`, {
    name: 'Credential dumping',
    objective: 'Dump LSASS',
    command: 'procdump -ma lsass.exe',
    mitre_tags: [],
  });
  await apiAs(base(), tokenA, 'PATCH', `/missions/${m.id}/tests/${t.id}`, { state: 'executed', red_notes: 'dumped on ws01' });
  const form = new FormData();
  const png = Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'binary'), Buffer.alloc(4096, 7)]);
  form.append('file', new Blob([png], { type: 'image/png' }), 'lsass.png');
  const up = await fetch(`${base()}/api/v1/missions/${m.id}/tests/${t.id}/evidence`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${tokenA}` },
    body: form,
  });
  expect(up.status).toBe(201);
  const instA = await apiAs<{ name: string; fingerprint: string }>(base(), tokenA, 'GET', '/instance');

  const work = mkdtempSync(path.join(tmpdir(), 'purplebook-e2e-bundles-'));
  const first = path.join(work, 'first.pbz');

  // ---- A: export in the browser.
  const a = await signedIn(browser, base(), admin(), `/missions/${m.id}`);
  await expect(a.page.getByRole('heading', { level: 1, name: missionName })).toBeVisible();
  await exportInBrowser(a.page, first);
  expect(readFileSync(first).subarray(0, 2).toString()).toBe('PK');

  // ---- B: import in the browser (untrusted signer: explicit confirmation).
  const bp = await signedIn(browser, b.url, b.admin, '/bundles');
  await importInBrowser(bp.page, first, instA.name);
  const report = bp.page.getByTestId('import-report');
  await expect(report).toContainText(instA.fingerprint);
  await expect(report.getByText('untrusted signer', { exact: true })).toBeVisible();
  await expect(report.getByTestId('import-summary')).toContainText('0 conflicts');
  const applyBtn = report.getByRole('button', { name: 'Apply the import' });
  await expect(applyBtn).toBeDisabled();
  await report.getByTestId('confirm-untrusted').check();
  await shots(bp.page, 'bundles-import-report');
  await applyBtn.click();
  await expect(bp.page.getByText('Imported', { exact: true })).toBeVisible({ timeout: 30_000 });
  await bp.page.getByRole('link', { name: 'Open the mission' }).click();
  await expect(bp.page.getByRole('heading', { level: 1, name: missionName })).toBeVisible();
  await expect(bp.page.getByTestId('test-card').filter({ hasText: 'Credential dumping' })).toBeVisible();

  // The evidence arrived byte for byte.
  const tokenB = await apiLogin(b.url, b.admin.email, b.admin.password);
  const ev = await apiAs<{ items: { id: string; sha256: string }[] }>(b.url, tokenB, 'GET', `/missions/${m.id}/tests/${t.id}/evidence`);
  expect(ev.items).toHaveLength(1);
  const got = Buffer.from(await (await fetch(`${b.url}/api/v1/evidence/${ev.items[0].id}`, { headers: { Authorization: `Bearer ${tokenB}` } })).arrayBuffer());
  expect(got.equals(png)).toBe(true);

  // ---- A two-sided edit, then A's next bundle on B: one conflict.
  await apiAs(base(), tokenA, 'PATCH', `/missions/${m.id}/tests/${t.id}`, { red_notes: 'A: dumped with procdump' });
  await apiAs(b.url, tokenB, 'PATCH', `/missions/${m.id}/tests/${t.id}`, { red_notes: 'B: dump failed, AV blocked it' });
  const second = path.join(work, 'second.pbz');
  await a.page.reload();
  await exportInBrowser(a.page, second);
  await importInBrowser(bp.page, second, instA.name);
  await expect(bp.page.getByTestId('import-summary')).toContainText('1 conflicts');
  await bp.page.getByTestId('confirm-untrusted').check();
  await bp.page.getByRole('button', { name: 'Apply the import' }).click();
  await bp.page.getByRole('link', { name: 'Open the mission' }).click();
  await bp.page.getByRole('tab', { name: /Conflicts \(1\)/ }).click();
  const c = bp.page.getByTestId('conflict');
  await expect(c).toHaveCount(1);
  await expect(c.getByTestId('mine')).toHaveText('B: dump failed, AV blocked it');
  await expect(c.getByTestId('theirs')).toHaveText('A: dumped with procdump');
  await shots(bp.page, 'bundles-conflict');
  await c.getByRole('button', { name: 'Take theirs' }).click();
  await expect(bp.page.getByText('Every conflict is resolved.')).toBeVisible();
  const after = await apiAs<{ red_notes: string }>(b.url, tokenB, 'GET', `/missions/${m.id}/tests/${t.id}`);
  expect(after.red_notes).toBe('A: dumped with procdump');

  a.check();
  bp.check();
  await a.close();
  await bp.close();
  rmSync(work, { recursive: true, force: true });
});
