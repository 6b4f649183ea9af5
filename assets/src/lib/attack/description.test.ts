import { describe, expect, it } from 'vitest';
import { parseDescription, stripCitations, techniqueIdFromUrl, type Inline } from './description';

const text = (parts: Inline[]) => parts.map((p) => (p.t === 'br' ? '\n' : p.text)).join('');

describe('parseDescription', () => {
  it('splits paragraphs on blank lines and drops citations', () => {
    const b = parseDescription(
      'Adversaries may abuse PowerShell.(Citation: TechNet PowerShell) More text.\n\nSecond paragraph.(Citation: A)(Citation: B (2020))\n',
    );
    expect(b).toHaveLength(2);
    expect(b.map((x) => (x.t === 'p' ? text(x.parts) : ''))).toEqual(['Adversaries may abuse PowerShell. More text.', 'Second paragraph.']);
  });

  it('keeps HTML as text: nothing is interpreted', () => {
    const b = parseDescription('Run <script>alert(1)</script> or <img src=x onerror=alert(1)> and <username>.');
    expect(b).toHaveLength(1);
    const p = b[0];
    expect(p.t).toBe('p');
    if (p.t !== 'p') return;
    expect(p.parts).toEqual([{ t: 'text', text: 'Run <script>alert(1)</script> or <img src=x onerror=alert(1)> and <username>.', bold: false }]);
  });

  it('reads <code>, backticks, bold and <br>', () => {
    const b = parseDescription('Use <code>net user <username> /domain</code> or `whoami`. **Important:** see <b>this</b>.<br>Next');
    if (b[0].t !== 'p') throw new Error('not a paragraph');
    expect(b[0].parts).toEqual([
      { t: 'text', text: 'Use ', bold: false },
      { t: 'code', text: 'net user <username> /domain', bold: false },
      { t: 'text', text: ' or ', bold: false },
      { t: 'code', text: 'whoami', bold: false },
      { t: 'text', text: '. ', bold: false },
      { t: 'text', text: 'Important:', bold: true },
      { t: 'text', text: ' see ', bold: false },
      { t: 'text', text: 'this', bold: true },
      { t: 'text', text: '.', bold: false },
      { t: 'br' },
      { t: 'text', text: 'Next', bold: false },
    ]);
  });

  it('turns ATT&CK technique links into references and other links into their text', () => {
    const b = parseDescription(
      'Shells like [PowerShell](https://attack.mitre.org/techniques/T1059/001) and [Native API](https://attack.mitre.org/techniques/T1106), see [Initial Access](https://attack.mitre.org/tactics/TA0001) and [a blog](javascript:alert(1)).',
    );
    if (b[0].t !== 'p') throw new Error('not a paragraph');
    const refs = b[0].parts.filter((p) => p.t === 'technique');
    expect(refs).toEqual([
      { t: 'technique', text: 'PowerShell', externalId: 'T1059.001', bold: false },
      { t: 'technique', text: 'Native API', externalId: 'T1106', bold: false },
    ]);
    expect(text(b[0].parts)).toBe('Shells like PowerShell and Native API, see Initial Access and a blog.');
    expect(JSON.stringify(b)).not.toContain('javascript:');
  });

  it('keeps bold across links (the deprecation notes)', () => {
    const b = parseDescription('**This technique has been deprecated. Please use [Path Interception by PATH](https://attack.mitre.org/techniques/T1574/007).**');
    if (b[0].t !== 'p') throw new Error('not a paragraph');
    expect(b[0].parts.every((p) => p.t === 'br' || p.bold)).toBe(true);
    expect(b[0].parts[1]).toEqual({ t: 'technique', text: 'Path Interception by PATH', externalId: 'T1574.007', bold: true });
  });

  it('reads bullet lists, also right after a paragraph line', () => {
    const b = parseDescription('Examples include:\n* one\n* two with `code`\n\n1. first\n2. second\n\nAfter.');
    expect(b.map((x) => x.t)).toEqual(['p', 'list', 'list', 'p']);
    if (b[1].t !== 'list') throw new Error('not a list');
    expect(b[1].items.map(text)).toEqual(['one', 'two with code']);
  });

  it('handles empty input and CRLF', () => {
    expect(parseDescription('')).toEqual([]);
    expect(parseDescription(undefined)).toEqual([]);
    expect(parseDescription('a\r\n\r\nb')).toHaveLength(2);
  });
});

describe('helpers', () => {
  it('reads technique ids from ATT&CK URLs only', () => {
    expect(techniqueIdFromUrl('https://attack.mitre.org/techniques/T1059')).toBe('T1059');
    expect(techniqueIdFromUrl('https://attack.mitre.org/techniques/T1059/001/')).toBe('T1059.001');
    expect(techniqueIdFromUrl('https://attack.mitre.org/tactics/TA0002')).toBeNull();
    expect(techniqueIdFromUrl('https://evil.example/techniques/T1059')).toBeNull();
  });

  it('strips citations with nested parentheses', () => {
    expect(stripCitations('x (Citation: Foo (Bar) Baz) y')).toBe('x y');
  });
});
