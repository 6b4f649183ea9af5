import { describe, expect, it } from 'vitest';
import {
  coverageQuery,
  dur,
  gapsCSV,
  gradientStops,
  heatColumns,
  hexRGB,
  linePoints,
  logPos,
  paint,
  pct,
  scoreColor,
  segments,
  slug,
  summary,
  textOn,
  widths,
  type Level,
  type Matrix,
  type Result,
} from './results';

const levels: Level[] = [
  { id: '1', key: 'blocked', name: 'Blocked', rank: 1, color: '#1B7F3B', counts_as_detected: true, class: 'detected', score: 100 },
  { id: '2', key: 'alerted', name: 'Alerted', rank: 2, color: '#4CAF50', counts_as_detected: true, class: 'detected', score: 67 },
  { id: '3', key: 'logged', name: 'Logged', rank: 3, color: '#F2B705', counts_as_detected: true, class: 'detected', score: 33 },
  { id: '4', key: 'none', name: 'None', rank: 4, color: '#D32F2F', counts_as_detected: false, class: 'missed', score: 0 },
  { id: '5', key: 'not_applicable', name: 'Not applicable', rank: 5, color: '#9E9E9E', counts_as_detected: false, class: 'not_applicable', score: null },
  { id: '6', key: 'tbd', name: 'To be determined', rank: 6, color: '#607D8B', counts_as_detected: false, class: 'unassessed', score: null },
];

function res(over: Partial<Result> = {}): Result {
  return {
    tests: 0, planned: 0, executed: 0, assessed: 0, unassessed: 0, skipped: 0, not_applicable: 0, detected: 0, missed: 0,
    levels: {}, best: null, worst: null, detected_share: null, score: null, state: 'untested', color: '', ...over,
  };
}

describe('cell paint', () => {
  it('colours by the worst outcome, the best one, or the score', () => {
    const r = res({ tests: 2, detected: 1, missed: 1, levels: { blocked: 1, none: 1 }, best: 'blocked', worst: 'none', state: 'none', score: 50 });
    expect(paint(r, levels, 'worst')).toMatchObject({ bg: 'var(--outcome-none)', label: 'None', hollow: false });
    expect(paint(r, levels, 'best')).toMatchObject({ bg: 'var(--outcome-blocked)', label: 'Blocked' });
    const s = paint(r, levels, 'score');
    expect(s.label).toBe('Score 50');
    expect(s.bg).toMatch(/^#[0-9a-f]{6}$/);
  });
  it('paints states that are not outcomes', () => {
    expect(paint(res({ tests: 1, unassessed: 1, state: 'unassessed' }), levels).bg).toBe('var(--outcome-tbd)');
    expect(paint(res({ tests: 1, not_applicable: 1, state: 'not_applicable' }), levels).bg).toBe('var(--outcome-not-applicable)');
    expect(paint(res({ tests: 1, planned: 1, state: 'planned' }), levels)).toMatchObject({ hollow: true, label: 'Planned, not executed' });
    expect(paint(undefined, levels)).toMatchObject({ hollow: true, label: 'Not tested' });
  });
  it('uses a custom level colour', () => {
    const custom = [...levels, { ...levels[0], id: '7', key: 'found_by_ir', name: 'Found by IR', rank: 7, color: '#8E24AA' }];
    expect(paint(res({ tests: 1, detected: 1, state: 'found_by_ir' }), custom)).toMatchObject({ bg: '#8E24AA', label: 'Found by IR' });
  });
});

describe('gradient', () => {
  it('runs from not detected to the best level, one stop per detected level', () => {
    expect(gradientStops(levels)).toEqual(['#D32F2F', '#F2B705', '#4CAF50', '#1B7F3B']);
  });
  it('puts each level score on its own colour and interpolates between', () => {
    const stops = gradientStops(levels);
    expect(scoreColor(0, stops)).toBe('#d32f2f');
    expect(scoreColor(100, stops)).toBe('#1b7f3b');
    expect(scoreColor(100 / 3, stops)).toBe('#f2b705');
    expect(scoreColor(-5, stops)).toBe('#d32f2f');
    const mid = hexRGB(scoreColor(50, stops))!;
    expect(mid[0]).toBeGreaterThan(0x4c);
    expect(mid[0]).toBeLessThan(0xf2);
  });
  it('picks readable text', () => {
    expect(textOn('#ffffff')).toBe('#111111');
    expect(textOn('#1B7F3B')).toBe('#ffffff');
    expect(textOn('bogus')).toBe('#111111');
  });
});

const mx: Matrix = {
  version: '18.1',
  columns: [
    { external_id: 'TA0002', shortname: 'execution', name: 'Execution', techniques: ['T1059', 'T1053'] },
    { external_id: 'TA0007', shortname: 'discovery', name: 'Discovery', techniques: ['T1087'] },
  ],
  catalogue: {
    T1059: { name: 'Command and Scripting Interpreter', kind: 'technique', state: 'active', tactics: ['execution'], subtechniques: ['T1059.001', 'T1059.003'] },
    'T1059.001': { name: 'PowerShell', kind: 'subtechnique', state: 'active', tactics: ['execution'], parent: 'T1059' },
    'T1059.003': { name: 'Windows Command Shell', kind: 'subtechnique', state: 'active', tactics: ['execution'], parent: 'T1059' },
    T1053: { name: 'Scheduled Task/Job', kind: 'technique', state: 'active', tactics: ['execution'] },
    T1087: { name: 'Account Discovery', kind: 'technique', state: 'active', tactics: ['discovery'] },
    T1060: { name: 'Registry Run Keys', kind: 'technique', state: 'revoked', tactics: [], replaced_by: 'T1547.001' },
  },
  results: {
    T1059: { result: res({ tests: 1, state: 'none' }), own: res() },
    'T1059.001': { result: res({ tests: 1, state: 'none' }), own: res({ tests: 1, state: 'none' }) },
    T1060: { result: res({ tests: 1, state: 'blocked' }), own: res({ tests: 1, state: 'blocked' }) },
  },
  other: ['T1060'],
};

describe('heat columns', () => {
  it('shows the whole matrix, with tested sub-techniques counted', () => {
    const cols = heatColumns(mx, false);
    expect(cols.map((c) => c.key)).toEqual(['execution', 'discovery', '_other']);
    expect(cols[0].cells.map((c) => c.id)).toEqual(['T1059', 'T1053']);
    expect(cols[0].cells[0].subs).toHaveLength(2);
    expect(cols[0].cells[0].testedSubs).toBe(1);
    expect(cols[2].cells[0]).toMatchObject({ id: 'T1060', name: 'Registry Run Keys' });
  });
  it('only tested: techniques with a result, their tested sub-techniques, no empty column', () => {
    const cols = heatColumns(mx, true);
    expect(cols.map((c) => c.key)).toEqual(['execution', '_other']);
    expect(cols[0].cells.map((c) => c.id)).toEqual(['T1059']);
    expect(cols[0].cells[0].subs.map((s) => s.id)).toEqual(['T1059.001']);
  });
});

describe('charts', () => {
  it('stacks a result in legend order', () => {
    const r = res({ tests: 6, levels: { none: 2, blocked: 1 }, unassessed: 1, planned: 1, skipped: 1 });
    const s = segments(r, levels);
    expect(s.map((x) => x.key)).toEqual(['blocked', 'none', 'unassessed', 'planned', 'skipped']);
    expect(widths(s).reduce((a, b) => a + b, 0)).toBeCloseTo(100);
    expect(widths([])).toEqual([]);
    expect(summary(r, levels)).toBe('6 tests: 1 Blocked, 2 None, 1 Not assessed yet, 1 Not executed, 1 Skipped');
  });
  it('places durations on a log axis', () => {
    expect(logPos(0)).toBe(0);
    expect(logPos(1)).toBe(0);
    expect(logPos(7 * 86400)).toBeCloseTo(1);
    expect(logPos(1e9)).toBeCloseTo(1);
    expect(logPos(60)).toBeLessThan(logPos(3600));
  });
  it('draws share lines, skipping gaps', () => {
    const pts = linePoints([0, null, 1], ['a', 'b', 'c'], 100, 50, 0);
    expect(pts).toEqual([
      { x: 0, y: 50, label: 'a', value: 0 },
      { x: 100, y: 0, label: 'c', value: 1 },
    ]);
    expect(linePoints([0.5], ['x'], 100, 50, 0)[0]).toMatchObject({ x: 50, y: 25 });
  });
});

describe('formatting', () => {
  it('formats shares and durations', () => {
    expect(pct(0.666)).toBe('67%');
    expect(pct(null)).toBe('–');
    expect(dur(45)).toBe('45 s');
    expect(dur(720)).toBe('12 min');
    expect(dur(12600)).toBe('3.5 h');
    expect(dur(181440)).toBe('2.1 d');
    expect(dur(undefined)).toBe('–');
  });
  it('makes file names like the server', () => {
    expect(slug('Op Purple — Q3 2026!')).toBe('op-purple-q3-2026');
    expect(slug('éé')).toBe('mission');
  });
  it('builds the coverage query', () => {
    expect(coverageQuery({ from: '2026-01-01', to: '', status: ['active', 'completed'], mission_id: [], q: '  op ' })).toEqual({
      from: '2026-01-01', to: undefined, q: 'op', status: 'active,completed', mission_id: undefined,
    });
  });
  it('writes the gap list as RFC 4180 CSV', () => {
    const csv = gapsCSV([
      { id: 'T1021.002', name: 'SMB/Windows Admin Shares', kind: 'subtechnique', state: 'active', tactics: ['lateral-movement'], score: 90, tests: [] },
      { id: 'T1547.001', name: 'Registry Run Keys, "Startup"', kind: 'subtechnique', state: 'active', tactics: ['persistence', 'privilege-escalation'], score: null, from: 'T1060', tests: [] },
    ]);
    expect(csv).toBe(
      'technique_id,name,tactics,score,replaces\r\n' +
        'T1021.002,SMB/Windows Admin Shares,lateral-movement,90,\r\n' +
        'T1547.001,"Registry Run Keys, ""Startup""",persistence; privilege-escalation,,T1060\r\n',
    );
  });
});
