import { describe, expect, it } from 'vitest';
import { checkLevel, moveBy, slugKey } from './levels';
import { controlsProblem } from './controls';

describe('detection level form', () => {
  it('checks a new level like the server, with the labels', () => {
    const c = checkLevel({ key: 'Found By IR', name: '', description: '', color: 'red', counts_as_detected: true }, true);
    expect(c.errors).toEqual({
      key: 'Key must be a lowercase slug: letters a-z and digits, words joined by _ or -, starting with a letter (e.g. found_by_ir).',
      name: 'Name is required.',
      color: 'Colour must be a colour in the form #rrggbb (e.g. #4CAF50).',
    });
    expect(checkLevel({ key: 'found_by_ir', name: 'Found by IR', description: '', color: '#4caf50', counts_as_detected: true }, true).ok).toBe(true);
    // An edit does not check the (fixed) key.
    expect(checkLevel({ key: 'Weird Key', name: 'x', description: '', color: '#000000', counts_as_detected: false }, false).ok).toBe(true);
  });

  it('makes keys from names', () => {
    expect(slugKey('Found by IR')).toBe('found_by_ir');
    expect(slugKey('  42 Détecté! ')).toBe('detecte');
  });

  it('moves items, clamped', () => {
    expect(moveBy(['a', 'b', 'c'], 2, -1)).toEqual(['a', 'c', 'b']);
    expect(moveBy(['a', 'b', 'c'], 0, -1)).toEqual(['a', 'b', 'c']);
    expect(moveBy(['a', 'b', 'c'], 0, 5)).toEqual(['b', 'c', 'a']);
  });
});

describe('security controls', () => {
  it('mirrors the server rules', () => {
    expect(controlsProblem([])).toBe('must hold 1 to 30 controls');
    expect(controlsProblem(['EDR', ' '])).toBe('must not have an empty name (control 2)');
    expect(controlsProblem(['EDR', 'edr'])).toBe('must not name a control twice (edr)');
    expect(controlsProblem(['EDR', 'SIEM'])).toBe('');
  });
});
