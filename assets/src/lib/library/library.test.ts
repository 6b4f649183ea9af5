import { describe, expect, it } from 'vitest';
import { activeChips, emptyFilters, filtersToQuery, sortKey, sortState, splitList } from './filters';
import { byMatrixOrder, dropIndex, insertAt, keyboardTarget, move, removeAt } from './reorder';

describe('filtersToQuery', () => {
  it('leaves out empty filters and the default sort', () => {
    expect(filtersToQuery(emptyFilters(), { page: 1, per_page: 25 })).toEqual({ per_page: 25 });
  });
  it('maps every filter', () => {
    const f = { ...emptyFilters(), tactic: 'ta0007', technique: 't1059', platform: 'linux', opsec: 'low', tag: ' web ', q: ' who ', deleted: true, sort: '-updated_at' };
    expect(filtersToQuery(f, { page: 3, per_page: 25 })).toEqual({
      tactic: 'TA0007', technique: 'T1059', platform: 'linux', opsec: 'low', tag: 'web', q: 'who', deleted: true, sort: '-updated_at', page: 3, per_page: 25,
    });
  });
  it('keeps tactic shortnames and sends dotted ids as subtechnique', () => {
    const first = { page: 1, per_page: 25 };
    expect(filtersToQuery({ ...emptyFilters(), tactic: 'discovery', technique: 't1059.001' }, first)).toMatchObject({ tactic: 'discovery', subtechnique: 'T1059.001' });
    expect(filtersToQuery({ ...emptyFilters(), technique: 'T1059.001' }, first).technique).toBeUndefined();
  });
  it('lists active chips in order', () => {
    expect(activeChips({ ...emptyFilters(), tag: 'x', tactic: 'TA0002', q: 'ignored' }).map((c) => c.key)).toEqual(['tactic', 'tag']);
  });
  it('maps sort state both ways', () => {
    expect(sortKey({ key: 'name', dir: 'desc' })).toBe('-name');
    expect(sortKey(null)).toBe('name');
    expect(sortState('-opsec_level')).toEqual({ key: 'opsec_level', dir: 'desc' });
    expect(sortState('')).toEqual({ key: 'name', dir: 'asc' });
  });
  it('splits lists', () => {
    expect(splitList(' a, b,,a\nc ')).toEqual(['a', 'b', 'c']);
  });
});

describe('reorder helpers', () => {
  const l = ['a', 'b', 'c', 'd'];
  it('moves items', () => {
    expect(move(l, 0, 2)).toEqual(['b', 'c', 'a', 'd']);
    expect(move(l, 3, 0)).toEqual(['d', 'a', 'b', 'c']);
    expect(move(l, 1, 99)).toEqual(['a', 'c', 'd', 'b']);
    expect(move(l, 9, 0)).toEqual(l);
    expect(l).toEqual(['a', 'b', 'c', 'd']);
  });
  it('inserts and removes, duplicates allowed', () => {
    expect(insertAt(l, 'a', 2)).toEqual(['a', 'b', 'a', 'c', 'd']);
    expect(insertAt(l, 'x', 99)).toEqual(['a', 'b', 'c', 'd', 'x']);
    expect(insertAt(l, 'x', -1)).toEqual(['x', 'a', 'b', 'c', 'd']);
    expect(removeAt(l, 1)).toEqual(['a', 'c', 'd']);
    expect(removeAt(l, 7)).toEqual(l);
  });
  it('computes the drop index', () => {
    expect(dropIndex(0, 3)).toBe(2); // dropped before d: a goes after c
    expect(move(l, 0, dropIndex(0, 3))).toEqual(['b', 'c', 'a', 'd']);
    expect(move(l, 3, dropIndex(3, 0))).toEqual(['d', 'a', 'b', 'c']);
    expect(move(l, 0, dropIndex(0, 4))).toEqual(['b', 'c', 'd', 'a']);
  });
  it('maps keyboard moves', () => {
    expect(keyboardTarget('ArrowUp', true, 2, 4)).toBe(1);
    expect(keyboardTarget('ArrowUp', true, 0, 4)).toBeNull();
    expect(keyboardTarget('ArrowDown', true, 3, 4)).toBeNull();
    expect(keyboardTarget('ArrowDown', false, 1, 4)).toBeNull();
    expect(keyboardTarget('Home', true, 2, 4)).toBe(0);
    expect(keyboardTarget('End', true, 2, 4)).toBe(3);
    expect(keyboardTarget('x', true, 2, 4)).toBeNull();
  });
  it('sorts by matrix order', () => {
    const items = [{ external_id: 'TA0007' }, { external_id: 'TA9999' }, { external_id: 'TA0002' }];
    expect(byMatrixOrder(items).map((i) => i.external_id)).toEqual(['TA0002', 'TA0007', 'TA9999']);
  });
});
