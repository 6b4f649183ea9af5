import { describe, expect, it } from 'vitest';
import { ACTION_FILTERS, describeAction, isAlarming, summarizeDetails } from './auditlog';

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
