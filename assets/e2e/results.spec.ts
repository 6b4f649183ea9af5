/**
 * Results (issue 16) against the real server and the real ATT&CK catalogue
 * (the core of the v18.1 enterprise bundle, synced here as the other specs
 * do). Set up through the API with the e2e admin: a lead (a Blue-team user
 * made lead of the mission), a mission whose tests were executed and
 * assessed (one not detected on T1059.001). Then, in the browser as the lead:
 * the mission page links to the results; a red (not detected) cell of the
 * heatmap opens its tests, a test link leads to the test; the Navigator
 * layer and the HTML report download; the report renders offline in
 * Chromium without a single request and prints to a PDF with pages.
 * Screenshots of the results, coverage and report pages at 1280×800 and
 * 390 px wide, each checked for horizontal page scroll.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from '@playwright/test';
import { test, expect, watchPage } from './fixtures';
import { apiAs, apiLogin } from './accounts';
import { makeUser, shot, signInWithForm, unique, type TestUser } from './helpers';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');
const CORE_BUNDLE = path.resolve(repoRoot, '..', 'shared', 'testdata', 'attack', 'enterprise-attack-core.json.gz');
const base = () => process.env.PURPLEBOOK_E2E_BASE_URL!;
const admin = () => ({ email: process.env.PURPLEBOOK_E2E_ADMIN_EMAIL!, password: process.env.PURPLEBOOK_E2E_ADMIN_PASSWORD! });

test.beforeEach(() => {
  test.skip(!process.env.PURPLEBOOK_E2E_ADMIN_EMAIL, 'the server has no accounts');
});

async function syncCore(token: string) {
  const fd = new FormData();
  fd.append('allow_unverified', 'true');
  fd.append('version', '18.1');
  fd.append('file', new Blob([readFileSync(CORE_BUNDLE)]), 'enterprise-attack-core.json.gz');
  const res = await fetch(`${base()}/api/v1/mitre/sync`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: fd });
  expect(res.status, await res.text()).toBe(200);
}

interface Setup {
  lead: TestUser;
  missionId: string;
  missionName: string;
  missedTest: string;
}

async function setUp(): Promise<Setup> {
  const token = await apiLogin(base(), admin().email, admin().password);
  await syncCore(token);
  await apiAs(base(), token, 'PUT', '/settings/organisation_name', { value: 'ACME Purple Team' });
  const lead = await makeUser(base(), token, { groups: ['Blue team'], name: `Lena Lead ${unique('l').slice(-4)}` });
  const missionName = unique('Op Results');
  const m = await apiAs<{ id: string }>(base(), token, 'POST', '/missions', { name: missionName, starts_on: '2026-02-02', ends_on: '2026-02-13' });
  await apiAs(base(), token, 'POST', `/missions/${m.id}/members`, { user_id: lead.id, role: 'lead' });
  await apiAs(base(), token, 'PATCH', `/missions/${m.id}`, { status: 'active' });
  const now = Date.now();
  const plan: { name: string; tag: string; outcomes?: { control: string; detection_level: string; expected?: boolean; alerted_at?: string }[]; execute?: boolean }[] = [
    { name: 'PowerShell download cradle', tag: 'T1059.001', outcomes: [{ control: 'EDR', detection_level: 'none', expected: true }, { control: 'SIEM', detection_level: 'none' }] },
    { name: 'LSASS memory dump', tag: 'T1003.001', outcomes: [{ control: 'EDR', detection_level: 'alerted', alerted_at: new Date(now + 95_000).toISOString() }] },
    { name: 'Spearphishing attachment', tag: 'T1566.001', outcomes: [{ control: 'Mail gateway', detection_level: 'blocked' }] },
    { name: 'Registry run key', tag: 'T1547.001', outcomes: [{ control: 'EDR', detection_level: 'logged' }] },
    { name: 'Modify registry', tag: 'T1112', execute: true },
    { name: 'SMB admin shares', tag: 'T1021.002' },
  ];
  let missedTest = '';
  for (const p of plan) {
    const t = await apiAs<{ id: string }>(base(), token, 'POST', `/missions/${m.id}/tests`, {
      name: p.name,
      command: `run ${p.tag}`,
      mitre_tags: [{ external_id: p.tag }],
    });
    if (p.tag === 'T1059.001') missedTest = t.id;
    if (!p.outcomes && !p.execute) continue;
    await apiAs(base(), token, 'PATCH', `/missions/${m.id}/tests/${t.id}`, {
      state: 'executed',
      started_at: new Date(now).toISOString(),
      output: 'done',
    });
    if (p.outcomes) await apiAs(base(), token, 'PATCH', `/missions/${m.id}/tests/${t.id}`, { outcomes: p.outcomes });
  }
  return { lead, missionId: m.id, missionName, missedTest };
}

async function signedIn(browser: Browser, user: TestUser, to: string, viewport = { width: 1280, height: 800 }) {
  const ctx = await browser.newContext({ baseURL: base(), viewport, acceptDownloads: true });
  const page = await ctx.newPage();
  const watch = await watchPage(page, new URL(base()).origin);
  await page.goto(to);
  await expect(page).toHaveURL(/\/login/);
  await signInWithForm(page, user.email, user.password);
  await expect(page).toHaveURL(new RegExp(`${to.replace(/[/?]/g, '\\$&')}$`));
  return { page, check: watch.check, close: () => ctx.close() };
}

/** The page does not scroll sideways (wide content scrolls inside its own box). */
async function noHorizontalScroll(page: Page) {
  const [sw, iw] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  expect(sw, 'page width').toBeLessThanOrEqual(iw);
}

/** Full-page screenshot at the current width (viewport grown to the page). */
async function capture(page: Page, name: string) {
  await noHorizontalScroll(page);
  const size = page.viewportSize()!;
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  await page.setViewportSize({ width: size.width, height: Math.min(Math.max(size.height, height), 6000) });
  await page.screenshot({ path: shot(`${name}.png`), animations: 'disabled' });
  await page.setViewportSize(size);
}

test('a lead opens the results, clicks a red cell to its tests, downloads the layer and the report, and prints it', async ({ browser }) => {
  test.setTimeout(180_000);
  const s = await setUp();

  // ---- From the mission page to its results.
  const lead = await signedIn(browser, s.lead, `/missions/${s.missionId}`);
  const page = lead.page;
  await expect(page.getByRole('heading', { level: 1, name: s.missionName })).toBeVisible();
  await page.getByRole('link', { name: 'Results' }).click();
  await expect(page).toHaveURL(new RegExp(`/missions/${s.missionId}/results$`));
  await expect(page.getByRole('heading', { level: 1, name: `Results: ${s.missionName}` })).toBeVisible();
  const kpis = page.getByTestId('kpis');
  await expect(kpis).toContainText('Planned6');
  await expect(kpis).toContainText('Executed5');
  await expect(page.getByTestId('detected-share')).toContainText('75%');
  // Not detected first.
  const missed = page.getByTestId('not-detected');
  await expect(missed.getByRole('heading')).toHaveText('Not detected (1)');
  await expect(missed).toContainText('PowerShell download cradle');
  await expect(missed).toContainText('EDR: None (expected)');

  // ---- The heatmap: T1059's family is red; its sub-technique PowerShell too.
  const heat = page.getByTestId('heatmap');
  const red = heat.locator('[data-testid="heat-cell"][data-state="none"]');
  await expect(red.first()).toBeVisible();
  await expect(heat.locator('[data-testid="heat-cell"][data-id="T1059"]').first()).toHaveAttribute('data-state', 'none');
  await expect(heat.locator('[data-testid="heat-cell"][data-id="T1566.001"]').first()).toHaveAttribute('data-state', 'blocked');
  await expect(heat.locator('[data-testid="heat-cell"][data-id="T1112"]').first()).toHaveAttribute('data-state', 'unassessed');
  await expect(heat.locator('[data-testid="heat-cell"][data-id="T1021.002"]').first()).toHaveAttribute('data-state', 'planned');
  await capture(page, 'results-1280');
  await heat.locator('[data-testid="heat-cell"][data-id="T1059.001"]').first().click();
  const drawer = page.getByTestId('technique-tests');
  await expect(drawer).toBeVisible();
  await expect(drawer).toContainText('T1059.001 PowerShell');
  await expect(drawer).toContainText('1 test: 1 None · score 0');
  await drawer.getByRole('link', { name: 'PowerShell download cradle' }).click();
  await expect(page).toHaveURL(new RegExp(`/missions/${s.missionId}/tests/${s.missedTest}$`));
  await expect(page.getByTestId('test-outcome')).toHaveText('None');
  await page.goBack();
  await expect(page.getByTestId('heatmap')).toBeVisible();

  // ---- Downloads: the Navigator layer and the HTML report.
  const [layerDl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Navigator layer' }).click()]);
  const layer = JSON.parse(readFileSync((await layerDl.path())!, 'utf8'));
  expect(layerDl.suggestedFilename()).toMatch(/-layer\.json$/);
  expect(layer.versions.layer).toBe('4.5');
  expect(layer.domain).toBe('enterprise-attack');
  const ps = layer.techniques.find((t: { techniqueID: string }) => t.techniqueID === 'T1059.001');
  expect(ps).toMatchObject({ tactic: 'execution', score: 0 });
  const [reportDl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Report (HTML)' }).click()]);
  expect(reportDl.suggestedFilename()).toMatch(/-report\.html$/);
  const html = readFileSync((await reportDl.path())!, 'utf8');
  expect(html).toContain(s.missionName);
  expect(html).toContain('ACME Purple Team');
  expect(html).not.toMatch(/(?:src|href)\s*=\s*["']?\s*(?:https?:)?\/\//i);

  // ---- The results page at 390 px.
  await page.setViewportSize({ width: 390, height: 844 });
  await expect(page.getByTestId('heatmap')).toBeVisible();
  await capture(page, 'results-390');

  // ---- Coverage across missions.
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto('/coverage');
  await expect(page.getByRole('heading', { level: 1, name: 'Coverage' })).toBeVisible();
  await expect(page.getByTestId('missions')).toContainText(s.missionName);
  await expect(page.getByTestId('trend')).toBeVisible();
  await page.getByTestId('coverage-filters').getByRole('searchbox', { name: 'Mission name contains' }).fill(s.missionName);
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page).toHaveURL(/\/coverage\?q=/);
  await expect(page.getByTestId('kpis')).toContainText('Missions1');
  await capture(page, 'coverage-1280');
  await page.setViewportSize({ width: 390, height: 844 });
  await capture(page, 'coverage-390');

  // ---- Plan from a layer: the downloaded layer back in (preview).
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto('/layers/import');
  await page.getByLabel('Layer file').setInputFiles((await layerDl.path())!);
  await page.getByRole('button', { name: 'Preview the plan' }).click();
  const plan = page.getByTestId('plan');
  await expect(plan).toContainText('6 techniques selected');
  // A gap is a selected technique the library has no test for; other specs
  // may have filled the shared library, so ask it which ones are gaps now.
  const token = await apiLogin(base(), admin().email, admin().password);
  const gaps: string[] = [];
  for (const id of ['T1059.001', 'T1003.001', 'T1566.001', 'T1547.001', 'T1112', 'T1021.002']) {
    const filter = id.includes('.') ? 'subtechnique' : 'technique';
    const lib = await apiAs<{ total: number }>(base(), token, 'GET', `/test-templates?${filter}=${id}&per_page=1`);
    if (lib.total === 0) gaps.push(id);
  }
  if (gaps.length) {
    const chips = page.getByTestId('gaps').getByRole('listitem');
    await expect(chips).toHaveCount(gaps.length);
    expect((await chips.allInnerTexts()).sort()).toEqual(gaps.sort());
  } else {
    await expect(page.getByTestId('gaps')).toHaveCount(0);
  }
  await expect(page.getByRole('button', { name: 'Create scenario template' })).toHaveCount(0); // a Blue-team lead cannot create templates
  lead.check();
  await lead.close();

  // ---- The report offline in Chromium: no request at all, prints to pages.
  for (const [width, name] of [[1280, 'report-1280'], [390, 'report-390']] as const) {
    const ctx = await browser.newContext({ viewport: { width, height: 800 }, javaScriptEnabled: false });
    const rp = await ctx.newPage();
    const requests: string[] = [];
    rp.on('request', (r) => requests.push(r.url()));
    await rp.setContent(html, { waitUntil: 'load' });
    await expect(rp.getByRole('heading', { level: 1, name: s.missionName })).toBeVisible();
    await expect(rp.getByRole('heading', { name: 'Executive summary' })).toBeVisible();
    await expect(rp.locator('section#findings')).toContainText('Not detected (1)');
    expect(requests, 'the report loads nothing').toEqual([]);
    await capture(rp, name);
    if (width === 1280) {
      await rp.emulateMedia({ media: 'print' });
      const pdf = await rp.pdf({ format: 'A4', printBackground: true });
      expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
      const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g) ?? []).length;
      expect(pages, 'the printed report has pages').toBeGreaterThanOrEqual(3);
      await rp.screenshot({ path: shot('report-print.png'), fullPage: false });
    }
    await ctx.close();
  }
});
