import { describe, expect, it } from 'vitest';
import { emptyFilters, filtersFromSearch, filtersToSearch } from './filters';
import { collectIds, exportFileName } from './exchange';

describe('library filters in the address', () => {
  it('round-trips every filter, the page and the sort', () => {
    const f = { ...emptyFilters(), tactic: 'TA0002', technique: 'T1059.001', platform: 'linux', opsec: 'high', tag: 'web', q: 'who am i', deleted: true, sort: '-updated_at' };
    const s = filtersToSearch(f, 3);
    expect(s).toBe('?tactic=TA0002&technique=T1059.001&platform=linux&opsec=high&tag=web&q=who+am+i&deleted=1&sort=-updated_at&page=3');
    expect(filtersFromSearch(s)).toEqual({ filters: f, page: 3 });
  });

  it('leaves defaults out and ignores junk', () => {
    expect(filtersToSearch(emptyFilters(), 1)).toBe('');
    expect(filtersFromSearch('?page=-4&sort=password&nope=1')).toEqual({ filters: emptyFilters(), page: 1 });
    expect(filtersFromSearch('?page=2.5').page).toBe(1);
  });
});

describe('export helpers', () => {
  it('collects ids over pages and stops at the total', async () => {
    const calls: number[] = [];
    const ids = await collectIds(async (p) => {
      calls.push(p);
      const all = Array.from({ length: 450 }, (_, i) => ({ id: `id${i}` }));
      return { items: all.slice((p - 1) * 200, p * 200), total: all.length };
    });
    expect(ids).toHaveLength(450);
    expect(calls).toEqual([1, 2, 3]);
  });

  it('names the file after the UTC time', () => {
    expect(exportFileName(new Date(Date.UTC(2031, 0, 2, 15, 4)))).toBe('purplebook-library-20310102-1504.json');
  });
});
