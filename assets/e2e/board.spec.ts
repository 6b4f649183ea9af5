/**
 * Board and test page (issue 13, item 7): a lead reorders the tests of the
 * board by keyboard (the card's handle, arrow keys) and by dragging a card,
 * the order survives a reload; and edits a test's plan (name, expected
 * detection, category, assignee) from its page.
 */
import { test, expect as baseExpect } from './fixtures';
import { apiAs } from './accounts';
import { makeUser, shots, unique } from './helpers';

// The machine running the suite may be busy: generous waits, never sleeps.
const expect = baseExpect.configure({ timeout: 30_000 });
const base = () => process.env.PURPLEBOOK_E2E_BASE_URL!;

test.beforeEach(({ accessToken }) => {
  test.skip(!accessToken, 'the board needs the e2e admin');
  test.slow();
});

test('a lead reorders the board by keyboard and by drag, and edits a test plan from its page', async ({ page, accessToken }) => {
  const prefix = unique('board');
  const m = await apiAs<{ id: string }>(base(), accessToken, 'POST', '/missions', { name: `${prefix} mission`, description: '' });
  const names = ['one', 'two', 'three'].map((n) => `${prefix} ${n}`);
  const ids: string[] = [];
  for (const name of names) ids.push((await apiAs<{ id: string }>(base(), accessToken, 'POST', `/missions/${m.id}/tests`, { name, mitre_tags: [] })).id);
  await apiAs(base(), accessToken, 'POST', `/missions/${m.id}/categories`, { name: 'Discovery' });
  const red = await makeUser(base(), accessToken, { groups: ['Red team'], name: `Rita ${prefix.slice(-4)}` });
  await apiAs(base(), accessToken, 'POST', `/missions/${m.id}/members`, { user_id: red.id, role: 'red' });

  await page.goto(`/missions/${m.id}`);
  const cards = page.getByTestId('board').getByTestId('test-card');
  const order = () => cards.locator('a').allInnerTexts();
  await expect(cards).toHaveCount(3);
  expect(await order()).toEqual(names);

  // Keyboard: the third card's handle, arrow up twice.
  const handle = page.getByRole('button', { name: `Reorder ${names[2]}: arrow up or down` });
  await handle.focus();
  await page.keyboard.press('ArrowUp');
  await expect.poll(order).toEqual([names[0], names[2], names[1]]);
  await expect(handle).toBeFocused();
  await page.keyboard.press('ArrowUp');
  await expect.poll(order).toEqual([names[2], names[0], names[1]]);
  await page.reload();
  await expect.poll(order).toEqual([names[2], names[0], names[1]]);

  // Drag: "three" onto the lower half of "two" → three is last.
  const target = cards.filter({ hasText: names[1] });
  const box = (await target.boundingBox())!;
  await cards.filter({ hasText: names[2] }).dragTo(target, { targetPosition: { x: box.width / 2, y: box.height - 4 } });
  await expect.poll(order).toEqual([names[0], names[1], names[2]]);
  await page.reload();
  await expect.poll(order).toEqual([names[0], names[1], names[2]]);
  await shots(page, 'board-reordered', { fullPage: false });

  // The plan, from the test page.
  await cards.filter({ hasText: names[0] }).getByRole('link').click();
  await page.getByTestId('edit-plan').click();
  const dialog = page.getByTestId('planning-dialog');
  await dialog.getByLabel('Name').fill('');
  await dialog.getByTestId('planning-save').click();
  await expect(dialog.getByLabel('Name')).toHaveAccessibleDescription('Name is required.');
  await dialog.getByLabel('Name').fill(`${prefix} renamed`);
  await dialog.getByLabel('Expected detection').fill('EDR alert on whoami');
  await dialog.getByLabel('Category').selectOption({ label: 'Discovery' });
  await dialog.getByLabel('Red assignee').selectOption({ label: `${red.name} (red)` });
  await shots(page, 'test-plan-dialog', { fullPage: false });
  await dialog.getByTestId('planning-save').click();
  await expect(dialog).toBeHidden();
  await expect(page.getByRole('heading', { level: 1, name: `${prefix} renamed` })).toBeVisible();
  await expect(page.getByText('EDR alert on whoami')).toBeVisible();
  const t = await apiAs<{ category_id: string | null; assigned_red_user_id: string | null; expected_detection: string }>(
    base(), accessToken, 'GET', `/missions/${m.id}/tests/${ids[0]}`);
  expect(t.category_id).not.toBeNull();
  expect(t.assigned_red_user_id).toBe(red.id);
  expect(t.expected_detection).toBe('EDR alert on whoami');
});
