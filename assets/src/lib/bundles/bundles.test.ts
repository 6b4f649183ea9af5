import { describe, expect, it } from 'vitest';
import {
  choicesComplete,
  describeValue,
  downloadProgress,
  fieldLabel,
  filenameFromDisposition,
  formatBytes,
  userChoices,
  type UserMapping,
} from './bundles';

describe('formatBytes', () => {
  it('uses decimal units', () => {
    expect(formatBytes(12)).toBe('12 bytes');
    expect(formatBytes(1500)).toBe('1.5 kB');
    expect(formatBytes(52_428_800)).toBe('52.4 MB');
    expect(formatBytes(1_073_741_824)).toBe('1.1 GB');
    expect(formatBytes(-1)).toBe('—');
  });
});

describe('filenameFromDisposition', () => {
  it('prefers the RFC 5987 name', () => {
    expect(filenameFromDisposition(`attachment; filename="op-n_ghtjar.pbz"; filename*=UTF-8''op-n%C3%A4ghtjar.pbz`, 'x')).toBe('op-näghtjar.pbz');
  });
  it('falls back to the plain name, then to the default', () => {
    expect(filenameFromDisposition('attachment; filename="mission-2026-03-01.pbz"', 'x')).toBe('mission-2026-03-01.pbz');
    expect(filenameFromDisposition(null, 'mission.pbz')).toBe('mission.pbz');
    expect(filenameFromDisposition('attachment', 'mission.pbz')).toBe('mission.pbz');
  });
});

describe('conflict values', () => {
  it('shows text as it is and structures as JSON', () => {
    expect(describeValue('dumped with mimikatz')).toBe('dumped with mimikatz');
    expect(describeValue(null)).toBe('(empty)');
    expect(describeValue({ state: 'skipped', skip_reason: 'out of scope' })).toContain('"skip_reason": "out of scope"');
    expect(describeValue(null, 'deleted')).toBe('not deleted');
    expect(describeValue('2026-03-01T12:00:00.000Z', 'deleted')).toBe('deleted 2026-03-01T12:00:00.000Z');
  });
  it('names fields for people', () => {
    expect(fieldLabel('red_notes')).toBe('red notes');
    expect(fieldLabel('outcome:EDR')).toBe('outcome (EDR)');
    expect(fieldLabel('timing')).toBe('start and finish');
  });
});

describe('user choices', () => {
  const users: UserMapping[] = [
    { email: 'lead@example.com', name: 'Lead', status: 'matched', action: 'map', user_id: 'u1' },
    { email: 'rita@example.com', name: 'Rita', status: 'unknown', action: 'create' },
    { email: 'bob@example.com', name: 'Bob', status: 'unknown', action: 'create' },
  ];
  it('sends one decision per unknown user, defaulting to the report', () => {
    expect(userChoices(users, {})).toEqual([
      { email: 'rita@example.com', action: 'create' },
      { email: 'bob@example.com', action: 'create' },
    ]);
    const picks = { 'bob@example.com': { action: 'map' as const, user_id: 'u7' }, 'rita@example.com': { action: 'skip' as const } };
    expect(userChoices(users, picks)).toEqual([
      { email: 'rita@example.com', action: 'skip' },
      { email: 'bob@example.com', action: 'map', user_id: 'u7' },
    ]);
  });
  it('is incomplete while a mapped user has no target', () => {
    expect(choicesComplete(userChoices(users, { 'bob@example.com': { action: 'map' } }))).toBe(false);
    expect(choicesComplete(userChoices(users, {}))).toBe(true);
  });
});

describe('downloadProgress', () => {
  it('never reaches 100 % on an estimate', () => {
    expect(downloadProgress(50, 100).fraction).toBe(0.5);
    expect(downloadProgress(150, 100).fraction).toBe(0.99);
    expect(downloadProgress(10, 0).fraction).toBeNull();
  });
});
