import { describe, expect, it } from 'vitest';
import { moveInColumn, placeNear } from './boardorder';

describe('board order', () => {
  const all = ['a', 'b', 'c', 'd', 'e'];
  it('places a card before or after another, the rest in order', () => {
    expect(placeNear(all, 'e', 'b', false)).toEqual(['a', 'e', 'b', 'c', 'd']);
    expect(placeNear(all, 'a', 'd', true)).toEqual(['b', 'c', 'd', 'a', 'e']);
    expect(placeNear(all, 'a', 'a', true)).toEqual(all);
    expect(placeNear(all, 'x', 'a', true)).toEqual(all);
  });
  it('moves within a column, other columns keep their order', () => {
    // Column holds b, d (e.g. "executed"); a, c, e are in other columns.
    expect(moveInColumn(all, ['b', 'd'], 'd', -1)).toEqual(['a', 'd', 'b', 'c', 'e']);
    expect(moveInColumn(all, ['b', 'd'], 'b', 1)).toEqual(['a', 'c', 'd', 'b', 'e']);
    expect(moveInColumn(all, ['b', 'd'], 'b', -1)).toBeNull();
    expect(moveInColumn(all, ['b', 'd'], 'd', 1)).toBeNull();
  });
});
