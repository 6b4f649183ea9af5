import { describe, expect, it } from 'vitest';
import { ACTION_FILTERS, describeAction, detailRows, fieldLabel, isAlarming, rowSummary, summarizeDetails } from './auditlog';

describe('audit log wording', () => {
  it('names actions, known or not', () => {
    expect(describeAction('auth.login')).toBe('Signed in');
    expect(describeAction('auth.refresh_reuse')).toMatch(/reused/);
    expect(describeAction('mission.scenario_added')).toBe('Mission: scenario added');
    expect(describeAction('odd')).toBe('Odd');
  });

  it('offers area prefixes (ending in a dot) and single actions', () => {
    expect(ACTION_FILTERS[0].options.every((o) => o.value.endsWith('.'))).toBe(true);
    expect(ACTION_FILTERS[1].options.some((o) => o.value === 'invitation.accept')).toBe(true);
  });

  it('flags failures and reuse', () => {
    expect(isAlarming('auth.login_failed')).toBe(true);
    expect(isAlarming('auth.refresh_reuse')).toBe(true);
    expect(isAlarming('auth.login')).toBe(false);
  });

  it('summarises details: before → after first, then the rest', () => {
    expect(
      summarizeDetails({
        before: { name: 'Ana', groups: [{ id: '1', name: 'Viewers' }] },
        after: { name: 'Ana Analyst', groups: [] },
        via: 'self',
      }),
    ).toEqual(['name: Ana → Ana Analyst', 'groups: Viewers → (none)', 'via: self']);
    expect(summarizeDetails(null)).toEqual([]);
    expect(summarizeDetails({ a: 1, b: true, c: null, d: 'x', e: { f: 1 } }, 3)).toEqual(['a: 1', 'b: true', 'c: —', '… 2 more']);
  });
});

describe('readable details', () => {
  const users = {
    u1: { id: 'u1', name: 'Rita Red', email: 'rita@example.org', deleted: false },
    u2: { id: 'u2', name: 'Old Timer', email: 'old@example.org', deleted: true },
  };
  it('turns {field: {before, after}} into changes with labels, leaving unchanged pairs out', () => {
    const rows = detailRows(
      {
        blue_notes: { before: '', after: 'Seen by EDR' },
        state: { before: 'executed', after: 'assessed' },
        assigned_red_user_id: { before: null, after: 'u1' },
        version: { before: 3, after: 3 },
        outcomes: 'updated',
      },
      users,
    );
    expect(rows.map(rowSummary)).toEqual([
      'Blue notes: — → Seen by EDR',
      'State: executed → assessed',
      'Assigned red user: — → Rita Red',
      'Outcomes: updated',
    ]);
    expect(rows[2].title).toBe('rita@example.org');
  });
  it('reads the {before:{…}, after:{…}} shape and names users in facts', () => {
    const rows = detailRows({ before: { name: 'Ana', groups: [{ name: 'Viewers' }] }, after: { name: 'Ana A', groups: [] }, user_id: 'u2' }, users);
    expect(rows.map(rowSummary)).toEqual(['Name: Ana → Ana A', 'Groups: Viewers → (none)', 'User: Old Timer (deleted)']);
  });
  it('writes objects as name = value and unknown ids shortened', () => {
    expect(detailRows({ argument_values: { before: {}, after: { output_file: 'D:\\x.dmp' } } }).map(rowSummary)).toEqual([
      'Argument values: (none) → output_file = D:\\x.dmp',
    ]);
    expect(detailRows({ user_id: '0196aaaa-bbbb-7ccc-8ddd-eeeeffff0000' })[0].value).toBe('0196aaaa…');
    expect(detailRows(null)).toEqual([]);
    expect(fieldLabel('command_run')).toBe('Command as run');
    const [m] = detailRows({ mission_id: '0196aaaa-bbbb-7ccc-8ddd-eeeeffff0000' });
    expect(m.value).toBe('0196aaaa…');
    expect(m.title).toBe('0196aaaa-bbbb-7ccc-8ddd-eeeeffff0000');
  });
});
