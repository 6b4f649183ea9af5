import { describe, expect, it } from 'vitest';
import { parseAnchor, shortHash } from './auditchain';

describe('parseAnchor', () => {
  it('reads an exported anchor', () => {
    const a = parseAnchor(
      JSON.stringify({ format: 'purplebook-audit-anchor/1', seq: 3, hash: 'a'.repeat(64), event_at: 'x', rows: 3, exported_at: 'y' }),
    );
    expect(a.seq).toBe(3);
  });
  it('refuses what is not JSON or not an anchor', () => {
    expect(() => parseAnchor('not json')).toThrow(/not JSON/);
    expect(() => parseAnchor('{"seq":"3"}')).toThrow(/not an audit anchor/);
  });
  it('shortens hashes', () => {
    expect(shortHash('0123456789abcdef')).toBe('0123456789ab…');
    expect(shortHash('abc')).toBe('abc');
  });
});
