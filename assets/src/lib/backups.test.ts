import { describe, expect, it } from 'vitest';
import { describeSchedule, restoreCommands } from './backups';

describe('describeSchedule', () => {
  it('says when nothing is scheduled', () => {
    expect(describeSchedule({ interval_hours: 0, keep: 7 })).toBe('No scheduled backups');
  });
  it('names known and other intervals', () => {
    expect(describeSchedule({ interval_hours: 24, keep: 7 })).toBe('Every day, keeping the newest 7');
    expect(describeSchedule({ interval_hours: 3, keep: 2 })).toBe('Every 3 hours, keeping the newest 2');
  });
});

describe('restoreCommands', () => {
  it('quotes paths only when they need it', () => {
    const c = restoreCommands('/srv/backups/b.pbz', '/var/lib/purplebook');
    expect(c.sqlite).toBe('purplebook restore /srv/backups/b.pbz --data-dir /var/lib/purplebook');
    expect(c.postgres).toContain('--db postgres://');
    expect(restoreCommands("/tmp/it's here.pbz", '/d').sqlite).toBe(`purplebook restore '/tmp/it'"'"'s here.pbz' --data-dir /d`);
  });
});
