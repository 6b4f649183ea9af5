import { describe, expect, it } from 'vitest';
import { endOfDayISO, formatDate, formatDateTime, relativeTime, startOfDayISO } from './when';

describe('when', () => {
  const now = new Date('2026-03-10T12:00:00Z');

  it('relative times', () => {
    expect(relativeTime('2026-03-10T11:59:40Z', now)).toBe('just now');
    expect(relativeTime('2026-03-10T11:55:00Z', now)).toBe('5 minutes ago');
    expect(relativeTime('2026-03-10T09:00:00Z', now)).toBe('3 hours ago');
    expect(relativeTime('2026-03-13T12:00:00Z', now)).toBe('in 3 days');
    expect(relativeTime('2026-03-09T12:00:00Z', now)).toBe('yesterday');
    expect(relativeTime(null, now)).toBe('—');
    expect(relativeTime('garbage', now)).toBe('—');
  });

  it('absolute dates, with a dash for nothing', () => {
    expect(formatDateTime(null)).toBe('—');
    expect(formatDate(undefined, 'never')).toBe('never');
    expect(formatDateTime('2026-03-10T12:00:00Z')).toMatch(/2026/);
  });

  it('day bounds for the date filters', () => {
    const start = new Date(startOfDayISO('2026-03-10'));
    expect([start.getFullYear(), start.getMonth(), start.getDate(), start.getHours(), start.getMinutes()]).toEqual([2026, 2, 10, 0, 0]);
    const end = new Date(endOfDayISO('2026-03-31'));
    expect([end.getMonth(), end.getDate(), end.getHours()]).toEqual([3, 1, 0]);
    expect(startOfDayISO('10/03/2026')).toBe('');
    expect(endOfDayISO('')).toBe('');
  });
});
