import { describe, expect, it } from 'vitest';
import { checkValue, renderAtomic, valuesChanged, valuesToSend } from './atomic';
import type { InputArgument } from './missions';

// The cases of app/templates/render_test.go (TestRender): one rule, two places.
const args: InputArgument[] = [
  { name: 'procdump_exe', description: '', type: 'path', default: 'PathToAtomicsFolder\\..\\ExternalPayloads\\procdump.exe' },
  { name: 'output_file', description: '', type: 'path', default: 'C:\\Windows\\Temp\\lsass_dump.dmp' },
  { name: 'count', description: '', type: 'integer', default: 5 },
  { name: 'ratio', description: '', type: 'float', default: 0.5 },
  { name: 'enabled', description: '', type: 'bool', default: true },
  { name: 'target', description: '', type: 'string', default: null },
];

describe('renderAtomic (same cases as templates.Render)', () => {
  const cases: { name: string; in: string; values?: Record<string, string>; out: string; unfilled: string[] }[] = [
    {
      name: 'defaults',
      in: '#{procdump_exe} -accepteula -ma lsass.exe #{output_file}',
      out: 'PathToAtomicsFolder\\..\\ExternalPayloads\\procdump.exe -accepteula -ma lsass.exe C:\\Windows\\Temp\\lsass_dump.dmp',
      unfilled: [],
    },
    {
      name: 'values win',
      in: '#{procdump_exe} #{output_file}',
      values: { output_file: 'D:\\x.dmp' },
      out: 'PathToAtomicsFolder\\..\\ExternalPayloads\\procdump.exe D:\\x.dmp',
      unfilled: [],
    },
    { name: 'empty value means default', in: '#{count}', values: { count: '' }, out: '5', unfilled: [] },
    { name: 'numbers and booleans as written', in: '#{count} #{ratio} #{enabled}', out: '5 0.5 true', unfilled: [] },
    { name: 'no value, no default', in: 'ping #{target} && ping #{target}', out: 'ping #{target} && ping #{target}', unfilled: ['target'] },
    { name: 'unknown names stay', in: 'echo #{nope} #{target}', values: { target: '10.0.0.1' }, out: 'echo #{nope} 10.0.0.1', unfilled: [] },
    { name: 'case-sensitive', in: '#{Count}', out: '#{Count}', unfilled: [] },
    { name: 'one pass', in: '#{target}', values: { target: '#{count}' }, out: '#{count}', unfilled: [] },
    { name: 'no placeholders', in: 'whoami /all', out: 'whoami /all', unfilled: [] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = renderAtomic(c.in, args, c.values);
      expect(r.text).toBe(c.out);
      expect(r.unfilled).toEqual(c.unfilled);
    });
  }
  it('marks substituted values and unfilled placeholders for highlighting', () => {
    const r = renderAtomic('ping -n #{count} #{target}', args, { count: '2' });
    expect(r.segments).toEqual([
      { text: 'ping -n ', kind: 'text' },
      { text: '2', kind: 'value', name: 'count' },
      { text: ' ', kind: 'text' },
      { text: '#{target}', kind: 'unfilled', name: 'target' },
    ]);
  });
});

describe('checkValue (same rules as templates.CheckArgumentValues)', () => {
  it('accepts values of the right type and anything for path and string', () => {
    expect(checkValue({ type: 'integer' }, ' 42 ')).toBe('');
    expect(checkValue({ type: 'Float' }, '-1.5e3')).toBe('');
    expect(checkValue({ type: 'url' }, 'https://example.com/a.exe')).toBe('');
    expect(checkValue({ type: 'bool' }, 'false')).toBe('');
    expect(checkValue({ type: 'path' }, 'C:\\Temp\\x y.txt')).toBe('');
    expect(checkValue({ type: 'string' }, 'anything | at all')).toBe('');
    expect(checkValue({ type: 'integer' }, '')).toBe('');
  });
  it('names what is wrong', () => {
    expect(checkValue({ type: 'integer' }, '4.2')).toBe('must be a whole number');
    expect(checkValue({ type: 'float' }, 'abc')).toBe('must be a number');
    expect(checkValue({ type: 'url' }, 'not a url')).toMatch(/must be a URL/);
    expect(checkValue({ type: 'bool' }, 'maybe')).toBe('must be true or false');
    expect(checkValue({ type: 'string' }, 'é'.repeat(4001))).toMatch(/at most/);
  });
});

describe('values to send', () => {
  it('leaves out empty values and compares without them', () => {
    expect(valuesToSend({ a: '1', b: '' })).toEqual({ a: '1' });
    expect(valuesChanged({ a: '1' }, { a: '1', b: '' })).toBe(false);
    expect(valuesChanged({ a: '1' }, { a: '2' })).toBe(true);
    expect(valuesChanged(undefined, { a: '' })).toBe(false);
    expect(valuesChanged({}, { a: 'x' })).toBe(true);
  });
});
