/**
 * Every main screen fits (issue 13, item 5) and is accessible (axe-core):
 * at 1280×800 and at 390 px wide, no horizontal page scroll
 * (document.documentElement.scrollWidth <= innerWidth), no serious or
 * critical axe violation, and a screenshot of each under
 * test-results/screens/ (or $PURPLEBOOK_E2E_SHOTS/screens/) to look at.
 * Self-sufficient: the data (small ATT&CK bundle, templates, a scenario, a
 * mission with tests in every state) is made here through the API.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { APIRequestContext, Page } from '@playwright/test';
import { test, expect as baseExpect } from './fixtures';
import { apiAs } from './accounts';
import { shot, unique } from './helpers';
import { expectAccessible } from './a11y';

// The machine running the suite may be busy: generous waits, never sleeps.
const expect = baseExpect.configure({ timeout: 30_000 });

const here = path.dirname(fileURLToPath(import.meta.url));
const SMALL_BUNDLE = path.resolve(here, '..', '..', '..', 'shared', 'testdata', 'attack', 'enterprise-attack-small.json');
const base = () => process.env.PURPLEBOOK_E2E_BASE_URL!;

interface Data {
  missionId: string;
  testId: string;
  scenarioId: string;
}

async function seed(request: APIRequestContext, token: string): Promise<Data> {
  const res = await request.post('/api/v1/mitre/sync', {
    headers: { Authorization: `Bearer ${token}` },
    multipart: {
      allow_unverified: 'true',
      file: { name: path.basename(SMALL_BUNDLE), mimeType: 'application/octet-stream', buffer: readFileSync(SMALL_BUNDLE) },
    },
  });
  expect(res.status(), await res.text()).toBe(200);
  const prefix = unique('fit');
  const long = 'A long template name that keeps going to see how the tables and the builder wrap it at narrow widths';
  const tpl: string[] = [];
  for (const [i, tag] of ['T1059', 'T1059.001', 'T1053.005', 'T1547'].entries()) {
    const t = await apiAs<{ id: string }>(base(), token, 'POST', '/test-templates', {
      name: i === 0 ? `${prefix} ${long}` : `${prefix} template ${i}`,
      description: 'Made by the screens e2e to fill every screen.',
      command: 'whoami /all && ipconfig /all',
      mitre_tags: [{ kind: tag.includes('.') ? 'subtechnique' : 'technique', external_id: tag }],
      platforms: ['windows', 'linux'],
      opsec_level: ['low', 'medium', 'high', 'low'][i],
      tags: ['e2e', 'screens'],
    });
    tpl.push(t.id);
  }
  const sc = await apiAs<{ id: string }>(base(), token, 'POST', '/scenario-templates', {
    name: `${prefix} scenario`,
    description: 'Every template once',
    test_template_ids: tpl,
  });
  const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
  const m = await apiAs<{ id: string }>(base(), token, 'POST', '/missions', {
    name: `${prefix} mission`,
    description: 'A mission with tests in every state',
    starts_on: day(0),
    ends_on: day(14),
  });
  await apiAs(base(), token, 'PATCH', `/missions/${m.id}`, { status: 'active' });
  await apiAs(base(), token, 'POST', `/missions/${m.id}/scenarios`, { scenario_template_id: sc.id });
  const tests = await apiAs<{ items: { id: string; version: number }[] }>(base(), token, 'GET', `/missions/${m.id}/tests?per_page=50`);
  const [a, b, c, d] = tests.items;
  const patch = async (t: { id: string }, body: Record<string, unknown>) => {
    const cur = await apiAs<{ version: number }>(base(), token, 'GET', `/missions/${m.id}/tests/${t.id}`);
    return apiAs(base(), token, 'PATCH', `/missions/${m.id}/tests/${t.id}`, { ...body, version: cur.version });
  };
  await patch(a, { state: 'in_progress' });
  await patch(b, { state: 'executed', operator: 'Rita Red', command: 'whoami /all' });
  await patch(c, { state: 'skipped', skip_reason: 'Out of scope for this run' });
  // d stays pending; a fifth, assessed: executed then assessed by the admin (a lead).
  const e = await apiAs<{ id: string }>(base(), token, 'POST', `/missions/${m.id}/tests`, { name: `${prefix} assessed test`, mitre_tags: [] });
  await patch(e, { state: 'executed' });
  const controls = await apiAs<{ items: string[] }>(base(), token, 'GET', '/security-controls');
  await patch(e, { outcomes: controls.items.map((control) => ({ control, detection_level: 'alerted', alert_name: 'Suspicious whoami', notes: 'Seen in the console' })) });
  void d;
  return { missionId: m.id, testId: b.id, scenarioId: sc.id };
}

async function fits(page: Page, name: string, width: number) {
  const m = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, iw: window.innerWidth }));
  expect(m.sw, `${name} at ${width} px: the page scrolls sideways (scrollWidth ${m.sw} > ${m.iw})`).toBeLessThanOrEqual(m.iw);
}

const dir = process.env.PURPLEBOOK_E2E_SHOTS ? `${process.env.PURPLEBOOK_E2E_SHOTS}/screens` : shot('screens');

test.beforeEach(({ accessToken }) => {
  test.skip(!accessToken, 'the screens need the e2e admin');
});

test('every main screen fits at 1280×800 and 390 px and has no serious accessibility violation', async ({ page, request, accessToken }) => {
  test.setTimeout(600_000);
  mkdirSync(dir, { recursive: true });
  const d = await seed(request, accessToken);
  const screens: { name: string; path: string; ready: (p: Page) => Promise<void> }[] = [
    { name: 'home', path: '/', ready: (p) => expect(p.getByRole('heading', { level: 1 })).toBeVisible() },
    { name: 'attack', path: '/attack', ready: (p) => expect(p.getByRole('heading', { level: 1, name: 'ATT&CK' })).toBeVisible() },
    { name: 'library', path: '/library', ready: (p) => expect(p.getByTestId('templates-table').locator('tbody tr').first()).toBeVisible() },
    { name: 'scenarios', path: '/library/scenarios', ready: (p) => expect(p.getByRole('heading', { level: 1 })).toBeVisible() },
    { name: 'scenario-builder', path: `/library/scenarios/${d.scenarioId}`, ready: (p) => expect(p.getByTestId('scenario-entry').first()).toBeVisible() },
    { name: 'missions', path: '/missions', ready: (p) => expect(p.getByTestId('missions-list')).toBeVisible() },
    { name: 'mission-board', path: `/missions/${d.missionId}`, ready: (p) => expect(p.getByRole('tab', { name: 'Board' })).toBeVisible() },
    { name: 'mission-test', path: `/missions/${d.missionId}/tests/${d.testId}`, ready: (p) => expect(p.getByRole('heading', { level: 1 })).toBeVisible() },
    { name: 'users', path: '/admin/users', ready: (p) => expect(p.getByRole('table', { name: 'Users' }).locator('tbody tr').first()).toBeVisible() },
    { name: 'groups', path: '/admin/groups', ready: (p) => expect(p.getByRole('heading', { level: 1, name: 'Groups' })).toBeVisible() },
    { name: 'invitations', path: '/admin/invitations', ready: (p) => expect(p.getByRole('heading', { level: 1, name: 'Invitations' })).toBeVisible() },
    { name: 'audit', path: '/admin/audit', ready: (p) => expect(p.getByRole('heading', { level: 1, name: 'Audit log' })).toBeVisible() },
    { name: 'settings', path: '/admin/settings', ready: (p) => expect(p.getByTestId('level-row').first()).toBeVisible() },
    { name: 'account', path: '/account', ready: (p) => expect(p.getByRole('heading', { level: 1 })).toBeVisible() },
  ];
  const failures: string[] = [];
  for (const size of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
    await page.setViewportSize(size);
    for (const s of screens) {
      await test.step(`${s.name} at ${size.width}`, async () => {
        await page.goto(s.path);
        await s.ready(page);
        // Nothing still loading (the notification stream stays open, so not "networkidle").
        await expect(page.locator('[role="status"]:has-text("Loading")')).toHaveCount(0);
        await page.screenshot({ path: `${dir}/${s.name}-${size.width}.png`, fullPage: true, animations: 'disabled' });
        try {
          await fits(page, s.name, size.width);
        } catch (err) {
          failures.push(String((err as Error).message).split('\n')[0]);
        }
        try {
          await expectAccessible(page, `${s.name} at ${size.width}`);
        } catch (err) {
          failures.push(String((err as Error).message).split('\n').slice(0, 12).join('\n'));
        }
      });
    }
  }
  expect(failures).toEqual([]);
});
