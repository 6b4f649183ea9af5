import { describe, expect, it } from 'vitest';
import {
  buildBluePatch,
  buildRedPatch,
  controlRowsFrom,
  firstDetection,
  formatDuration,
  isReadOnly,
  openTests,
  groupTests,
  levelColors,
  notificationHref,
  outcomeSegments,
  redFormFrom,
  stateSegments,
  tacticsOf,
  testRights,
  type MissionTest,
  type Outcome,
} from './missions';
import { actorTitle, describe as describeNotification, readCount } from './notifications';

function mk(over: Partial<MissionTest> = {}): MissionTest {
  return {
    id: 't1', mission_id: 'm1', mission_scenario_id: null, category_id: null, position: 1, name: 'T', description: '',
    objective: '', executor: '', command_template: '', expected_detection: '', state: 'pending', skip_reason: '',
    assigned_red_user_id: null, assigned_blue_user_id: null, operator: '', started_at: null, finished_at: null,
    source_host: '', source_ip: '', target_host: '', target_ip: '', tool: '', user_context: '', command: '', output: '',
    execution_result: null, red_notes: '', executed_at: null, blue_notes: '', outcome: null, detected_at: null,
    time_to_detect_seconds: null, assessed_at: null, outcomes: [], mitre_tags: [], evidence_count: 0, version: 3,
    ...over,
  };
}

describe('groupTests', () => {
  const tests = [
    mk({ id: 'a', position: 3, state: 'executed', category_id: 'c2' }),
    mk({ id: 'b', position: 1, state: 'pending', category_id: 'c1' }),
    mk({ id: 'c', position: 2, state: 'pending' }),
    mk({ id: 'd', position: 4, state: 'assessed', category_id: 'gone' }),
  ];
  it('by state: all five columns in lifecycle order, position order inside', () => {
    const cols = groupTests(tests, 'state');
    expect(cols.map((c) => c.key)).toEqual(['pending', 'in_progress', 'executed', 'assessed', 'skipped']);
    expect(cols[0].tests.map((t) => t.id)).toEqual(['b', 'c']);
    expect(cols[2].tests.map((t) => t.id)).toEqual(['a']);
    expect(cols[1].tests).toEqual([]);
  });
  it('by category: categories in their order, then uncategorised (incl. unknown categories)', () => {
    const cols = groupTests(tests, 'category', [
      { id: 'c2', name: 'Second', color: '', position: 2 },
      { id: 'c1', name: 'First', color: '', position: 1 },
    ]);
    expect(cols.map((c) => c.title)).toEqual(['First', 'Second', 'Uncategorised']);
    expect(cols[2].tests.map((t) => t.id)).toEqual(['c', 'd']);
  });
  it('by category without categories: one uncategorised column', () => {
    expect(groupTests([], 'category', []).map((c) => c.title)).toEqual(['Uncategorised']);
  });
});

describe('outcome colours', () => {
  it('uses the design tokens for seeded levels', () => {
    expect(levelColors({ key: 'alerted', color: '#123456' })).toEqual({ bg: 'var(--outcome-alerted)', fg: 'var(--outcome-alerted-fg)' });
    expect(levelColors({ key: 'not_applicable', color: '' }).bg).toBe('var(--outcome-not-applicable)');
  });
  it('uses the level colour for custom levels, and a neutral for none', () => {
    expect(levelColors({ key: 'contained', color: '#aa00ff' })).toEqual({ bg: '#aa00ff', fg: '#fff' });
    expect(levelColors({ key: 'x', color: 'red; background:url(x)' }).bg).toBe('var(--color-text-subtle)');
    expect(levelColors(null).bg).toBe('var(--color-surface-sunken)');
  });
});

describe('progress segments', () => {
  const p = { total: 4, by_state: { pending: 2, assessed: 2 }, outcomes: { none: 1, alerted: 1 } };
  it('per state, skipping empty states', () => {
    expect(stateSegments(p)).toEqual([
      { key: 'pending', label: 'Pending', count: 2, pct: 50 },
      { key: 'assessed', label: 'Assessed', count: 2, pct: 50 },
    ]);
  });
  it('outcomes ordered by rank with level names', () => {
    const levels = [
      { id: '1', key: 'alerted', name: 'Alerted', rank: 2, color: '', counts_as_detected: true },
      { id: '2', key: 'none', name: 'Missed', rank: 4, color: '', counts_as_detected: false },
    ];
    expect(outcomeSegments(p, levels).map((s) => [s.key, s.label, s.pct])).toEqual([
      ['alerted', 'Alerted', 25],
      ['none', 'Missed', 25],
    ]);
  });
});

describe('buildRedPatch', () => {
  it('sends only changed fields, the state, and always the version', () => {
    const t = mk({ operator: 'alice', command: '' });
    const f = redFormFrom(t);
    expect(buildRedPatch(t, f)).toEqual({ version: 3 });
    f.text.command = 'whoami /all';
    f.text.target_host = 'ws01';
    f.execution_result = 'succeeded';
    expect(buildRedPatch(t, f, 'executed')).toEqual({
      command: 'whoami /all',
      target_host: 'ws01',
      execution_result: 'succeeded',
      state: 'executed',
      version: 3,
    });
  });
  it('converts times to UTC and clears them with null', () => {
    const t = mk({ started_at: '2026-01-02T10:00:00Z' });
    const f = redFormFrom(t);
    f.started_at = '';
    f.finished_at = '2026-01-02T11:30';
    const body = buildRedPatch(t, f);
    expect(body.started_at).toBeNull();
    expect(body.finished_at).toBe(new Date('2026-01-02T11:30').toISOString());
  });
  it('does not send the unchanged state', () => {
    const t = mk({ state: 'executed' });
    expect(buildRedPatch(t, redFormFrom(t), 'executed')).toEqual({ version: 3 });
  });
});

describe('buildBluePatch', () => {
  const lvl = (key: string) => ({ id: key, key, name: key, rank: 1, color: '', counts_as_detected: true });
  const existing: Outcome[] = [
    { control: 'SIEM', expected: true, level: lvl('logged'), logged_at: null, alerted_at: null, prevented_at: null, alert_name: '', notes: '' },
  ];
  it('one row per control; sends changed rows, removals as null, not untouched empty rows', () => {
    const t = mk({ outcomes: existing, blue_notes: '' });
    const orig = controlRowsFrom(['EDR', 'SIEM', 'AV'], existing);
    expect(orig.map((r) => [r.control, r.level])).toEqual([
      ['EDR', ''],
      ['SIEM', 'logged'],
      ['AV', ''],
    ]);
    const rows = orig.map((r) => ({ ...r }));
    expect(buildBluePatch(t, orig, rows, '')).toEqual({ version: 3 });
    rows[0].level = 'alerted';
    rows[0].alert_name = 'Suspicious whoami';
    rows[1].level = '';
    rows[2].expected = true; // no level: not sent
    expect(buildBluePatch(t, orig, rows, 'seen in EDR')).toEqual({
      outcomes: [
        { control: 'EDR', expected: false, detection_level: 'alerted', logged_at: null, alerted_at: null, prevented_at: null,
          alert_name: 'Suspicious whoami', notes: '' },
        { control: 'SIEM', expected: true, detection_level: null },
      ],
      blue_notes: 'seen in EDR',
      version: 3,
    });
  });
  it('keeps outcomes of controls no longer configured', () => {
    expect(controlRowsFrom(['EDR'], existing).map((r) => r.control)).toEqual(['EDR', 'SIEM']);
  });
});

describe('misc', () => {
  it('rights follow role, permission and status', () => {
    const all = () => true;
    expect(testRights('red', all, 'active')).toEqual({ red: true, blue: false, lead: false });
    expect(testRights('lead', all, 'active')).toEqual({ red: true, blue: true, lead: true });
    expect(testRights('blue', (p) => p !== 'mission_test.assess', 'active').blue).toBe(false);
    expect(testRights('lead', all, 'archived')).toEqual({ red: false, blue: false, lead: false });
  });
  it('tactics from tags, durations, links', () => {
    const ts = [mk({ mitre_tags: [{ kind: 'tactic', external_id: 'TA0002', name: 'Execution', url: '' }] })];
    expect(tacticsOf(ts)).toEqual([{ id: 'TA0002', name: 'Execution' }]);
    expect(formatDuration(null)).toBe('—');
    expect(formatDuration(42)).toBe('42 s');
    expect(formatDuration(3723)).toBe('1 h 2 min 3 s');
    expect(notificationHref({ mission_id: 'm', test_id: 't' })).toBe('/missions/m/tests/t');
    expect(notificationHref({ mission_id: 'm' })).toBe('/missions/m');
    expect(notificationHref({})).toBeNull();
  });
  it('notifications: count shapes and sentences', () => {
    expect(readCount({ count: 3 })).toBe(3);
    expect(readCount({ unread: 2 })).toBe(2);
    expect(readCount(null)).toBe(0);
    expect(describeNotification({ kind: 'test.executed', payload: { by: 'Rita', test_name: 'Whoami', mission_name: 'Q1' } })).toBe(
      'Rita executed “Whoami” in Q1: ready for assessment.',
    );
  });
});

describe('conflict merge', () => {
  it('keeps the fields I changed and takes theirs for the rest', async () => {
    const { mergeRedForm, mergeControlRows } = await import('./missions');
    const mineBase = mk({ operator: '', tool: '', version: 3 });
    const theirs = mk({ operator: 'Larry', tool: 'nmap', version: 4 });
    const mine = redFormFrom(mineBase);
    mine.text.tool = 'PowerShell';
    const merged = mergeRedForm(mineBase, theirs, mine);
    expect(merged.text.operator).toBe('Larry');
    expect(merged.text.tool).toBe('PowerShell');
    expect(buildRedPatch(theirs, merged)).toEqual({ tool: 'PowerShell', version: 4 });

    const orig = controlRowsFrom(['EDR', 'SIEM']);
    const their = controlRowsFrom(['EDR', 'SIEM']).map((r) => (r.control === 'SIEM' ? { ...r, level: 'logged' } : r));
    const my = orig.map((r) => (r.control === 'EDR' ? { ...r, level: 'alerted' } : { ...r }));
    expect(mergeControlRows(orig, their, my).map((r) => [r.control, r.level])).toEqual([
      ['EDR', 'alerted'],
      ['SIEM', 'logged'],
    ]);
  });
});

describe('SSE parsing', () => {
  it('splits complete events, skips comments, keeps the rest', async () => {
    const { parseSse } = await import('./notifications');
    const r = parseSse('retry: 5000\n\nevent: unread\ndata: {"count":2}\n\n: keep-alive\n\nevent: unread\ndata: {"cou');
    expect(r.events).toEqual([{ event: 'unread', data: '{"count":2}' }]);
    expect(r.rest).toBe('event: unread\ndata: {"cou');
    expect(parseSse('event: unauthenticated\r\ndata: {}\r\n\r\n').events).toEqual([{ event: 'unauthenticated', data: '{}' }]);
  });
});

describe('firstDetection', () => {
  const lv = (key: string, counts: boolean) => ({ id: key, key, name: key, rank: 1, color: '', counts_as_detected: counts });
  const o = (control: string, level: ReturnType<typeof lv>, times: Partial<Outcome>): Outcome => ({
    control, expected: true, level, logged_at: null, alerted_at: null, prevented_at: null, alert_name: '', notes: '', ...times,
  });
  it('is the earliest time of a control that counts as detected', () => {
    // The example: SIEM logged 10:04, EDR alerted 10:09.
    const t = {
      outcomes: [
        o('EDR', lv('alerted', true), { alerted_at: '2026-01-05T10:09:00Z' }),
        o('SIEM', lv('logged', true), { logged_at: '2026-01-05T10:04:00Z' }),
        o('Proxy', lv('none', false), { logged_at: '2026-01-05T09:00:00Z' }),
      ],
    };
    expect(firstDetection(t)).toEqual({ at: '2026-01-05T10:04:00Z', control: 'SIEM', how: 'logged' });
  });
  it('is null when nothing was detected', () => {
    expect(firstDetection({ outcomes: [o('EDR', lv('none', false), { alerted_at: '2026-01-05T10:09:00Z' })] })).toBeNull();
    expect(firstDetection({ outcomes: [] })).toBeNull();
  });
});

describe('read-only missions', () => {
  it('completed and archived missions give nobody write rights', () => {
    const can = () => true;
    expect(testRights('lead', can, 'active')).toEqual({ red: true, blue: true, lead: true });
    expect(testRights('lead', can, 'completed')).toEqual({ red: false, blue: false, lead: false });
    expect(testRights('red', can, 'archived')).toEqual({ red: false, blue: false, lead: false });
    expect(isReadOnly('planned')).toBe(false);
  });
  it('counts the open tests for the completion question', () => {
    expect(openTests({ total: 7, by_state: { pending: 2, in_progress: 1, executed: 3, assessed: 1 }, outcomes: {} })).toEqual({
      pending: 2, in_progress: 1, executed: 3, total: 6,
    });
  });
});

describe('notifications name people', () => {
  it('says the name and keeps the e-mail for the tooltip', () => {
    const n = { kind: 'test.executed', payload: { by: 'Rita Red', by_email: 'rita@example.org', test_name: 'whoami', mission_name: 'Op' } };
    expect(describeNotification(n)).toBe('Rita Red executed “whoami” in Op: ready for assessment.');
    expect(actorTitle(n)).toBe('By Rita Red <rita@example.org>');
    expect(actorTitle({ payload: { by: 'x@example.org' } })).toBeUndefined();
  });
});
