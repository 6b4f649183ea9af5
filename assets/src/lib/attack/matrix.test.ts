import { describe, expect, it } from 'vitest';
import {
  OTHER_COLUMN,
  buildMatrix,
  foldQuery,
  foldText,
  highlightParts,
  searchEntries,
  searchTechniques,
} from './matrix';
import type { CatalogueState, Tactic, Technique } from './types';

const tactic = (external_id: string, shortname: string, name: string, position: number, state: CatalogueState = 'active'): Tactic => ({
  id: `id-${external_id}`,
  external_id,
  shortname,
  name,
  description: '',
  url: '',
  position,
  state,
  technique_count: 0,
});

const tech = (
  external_id: string,
  name: string,
  tactics: string[],
  o: { state?: CatalogueState; subs?: [string, string, CatalogueState?][] } = {},
): Technique => ({
  id: `id-${external_id}`,
  kind: 'technique',
  external_id,
  name,
  url: '',
  platforms: [],
  tactics: tactics.map((t) => ({ external_id: t, shortname: t.toLowerCase(), name: t })),
  state: o.state ?? 'active',
  ...(o.subs ? { subtechniques: o.subs.map(([id, n, s]) => ({ id: `id-${id}`, external_id: id, name: n, state: s ?? 'active' })) } : {}),
});

// The small test bundle as the API returns it with include_deprecated=true (tactics deliberately shuffled).
const TACTICS = [
  tactic('TA0004', 'privilege-escalation', 'Privilege Escalation', 3),
  tactic('TA0002', 'execution', 'Execution', 1),
  tactic('TA0003', 'persistence', 'Persistence', 2),
];
const TECHS = [
  tech('T1034', 'Path Interception', ['TA0003', 'TA0004'], { state: 'deprecated' }),
  tech('T1053', 'Scheduled Task/Job', ['TA0002', 'TA0003', 'TA0004'], {
    subs: [
      ['T1053.004', 'Launchd', 'deprecated'],
      ['T1053.005', 'Scheduled Task'],
    ],
  }),
  tech('T1059', 'Command and Scripting Interpreter', ['TA0002'], {
    subs: [
      ['T1059.001', 'PowerShell'],
      ['T1059.003', 'Windows Command Shell'],
    ],
  }),
  tech('T1060', 'Registry Run Keys / Startup Folder', ['TA0003'], { state: 'revoked' }),
  tech('T1068', 'Exploitation for Privilege Escalation', ['TA0004']),
  tech('T1106', 'Native API', ['TA0002']),
  tech('T1547', 'Boot or Logon Autostart Execution', ['TA0003', 'TA0004'], { subs: [['T1547.001', 'Registry Run Keys / Startup Folder']] }),
];

const ids = (cells: Technique[]) => cells.map((c) => c.external_id);

describe('buildMatrix', () => {
  it('orders columns by matrix position and puts a technique under each of its tactics', () => {
    const cols = buildMatrix(TACTICS, TECHS);
    expect(cols.map((c) => c.key)).toEqual(['TA0002', 'TA0003', 'TA0004']);
    expect(cols.map((c) => c.tactic?.name)).toEqual(['Execution', 'Persistence', 'Privilege Escalation']);
    // Within a column: active first, then by name; inactive entries last.
    expect(ids(cols[0].cells)).toEqual(['T1059', 'T1106', 'T1053']);
    expect(ids(cols[1].cells)).toEqual(['T1547', 'T1053', 'T1034', 'T1060']);
    expect(ids(cols[2].cells)).toEqual(['T1547', 'T1068', 'T1053', 'T1034']);
  });

  it('matches tactics by shortname too, ignores subtechnique rows and duplicate links', () => {
    const t = tech('T9000', 'Twice', []);
    t.tactics = [
      { external_id: 'TA0002', shortname: 'execution', name: 'Execution' },
      { external_id: 'ta0002', shortname: 'execution', name: 'Execution' },
    ];
    const sub: Technique = { ...tech('T9000.001', 'Sub', ['TA0002']), kind: 'subtechnique' };
    const byShort: Technique = { ...tech('T9001', 'By shortname', []), tactics: [{ external_id: '', shortname: 'PERSISTENCE', name: '' }] };
    const cols = buildMatrix(TACTICS, [t, sub, byShort]);
    expect(ids(cols[0].cells)).toEqual(['T9000']);
    expect(ids(cols[1].cells)).toEqual(['T9001']);
    expect(cols).toHaveLength(3);
  });

  it('collects techniques without a shown tactic in a last "Other" column', () => {
    const cols = buildMatrix(TACTICS.slice(0, 1), TECHS);
    expect(cols.map((c) => c.key)).toEqual(['TA0004', OTHER_COLUMN]);
    expect(cols[1].tactic).toBeNull();
    expect(ids(cols[1].cells)).toEqual(['T1059', 'T1106', 'T1060']);
  });

  it('handles an empty catalogue', () => {
    expect(buildMatrix([], [])).toEqual([]);
  });

  it('sorts names naturally and case-insensitively', () => {
    const cols = buildMatrix([TACTICS[1]], [tech('T2', 'b item', ['TA0002']), tech('T10', 'A item', ['TA0002']), tech('T1', 'a item', ['TA0002'])]);
    expect(ids(cols[0].cells)).toEqual(['T1', 'T10', 'T2']);
  });
});

describe('search', () => {
  it('folds case like the server (Unicode)', () => {
    expect(foldText('PowerShell')).toBe('powershell');
    expect(foldText('Straße')).toBe('strasse');
    expect(foldText('ΣΊΣΥΦΟΣ')).toBe(foldText('σίσυφος'));
    expect(foldQuery('  T1059 ')).toBe('t1059');
    expect(foldQuery('   ')).toBe('');
  });

  it('is null for a blank query (nothing dimmed)', () => {
    expect(searchTechniques(TECHS, '')).toBeNull();
    expect(searchTechniques(TECHS, '  ')).toBeNull();
  });

  it('matches a technique through its subtechniques ("powershell" → T1059)', () => {
    const r = searchTechniques(TECHS, 'powershell')!;
    expect([...r.techniques.keys()]).toEqual(['id-T1059']);
    const m = r.techniques.get('id-T1059')!;
    expect(m.self).toBe(false);
    expect([...m.subs]).toEqual(['id-T1059.001']);
    expect(r.count).toBe(1);
    expect(searchEntries(TECHS, r).map((e) => e.external_id)).toEqual(['T1059.001']);
  });

  it('matches id prefixes: "t1059" finds the technique and its subtechniques', () => {
    const r = searchTechniques(TECHS, 't1059')!;
    const m = r.techniques.get('id-T1059')!;
    expect(m.self).toBe(true);
    expect(m.subs.size).toBe(2);
    expect(r.count).toBe(3);
    expect(searchEntries(TECHS, r).map((e) => `${e.kind}:${e.external_id}`)).toEqual([
      'technique:T1059',
      'subtechnique:T1059.001',
      'subtechnique:T1059.003',
    ]);
  });

  it('matches names in the middle and across techniques and subtechniques', () => {
    const r = searchTechniques(TECHS, 'registry run')!;
    expect([...r.techniques.keys()].sort()).toEqual(['id-T1060', 'id-T1547']);
    expect(r.techniques.get('id-T1060')!.self).toBe(true);
    expect(r.techniques.get('id-T1547')!.self).toBe(false);
    expect(searchEntries(TECHS, r).map((e) => e.external_id)).toEqual(['T1060', 'T1547.001']);
  });

  it('finds nothing for an unknown term', () => {
    const r = searchTechniques(TECHS, 'kerberoasting')!;
    expect(r.techniques.size).toBe(0);
    expect(r.count).toBe(0);
    expect(searchEntries(TECHS, r)).toEqual([]);
  });

  it('does not match across the id/name boundary by accident only', () => {
    // "<id> <name>": "1106 native" spans both, like the server's search_fold.
    expect(searchTechniques(TECHS, '1106 native')!.techniques.has('id-T1106')).toBe(true);
  });
});

describe('highlightParts', () => {
  it('marks every occurrence, case-insensitively', () => {
    expect(highlightParts('Scheduled Task/Job', 'task')).toEqual([
      { text: 'Scheduled ', match: false },
      { text: 'Task', match: true },
      { text: '/Job', match: false },
    ]);
    expect(highlightParts('abcabc', 'bc').filter((p) => p.match)).toHaveLength(2);
  });

  it('returns the text unmarked without a query, without a hit, or when folding changes its length', () => {
    expect(highlightParts('PowerShell', '')).toEqual([{ text: 'PowerShell', match: false }]);
    expect(highlightParts('PowerShell', 'bash')).toEqual([{ text: 'PowerShell', match: false }]);
    expect(highlightParts('Straße', 'ss')).toEqual([{ text: 'Straße', match: false }]);
  });

  it('marks the whole text', () => {
    expect(highlightParts('PowerShell', 'powershell')).toEqual([{ text: 'PowerShell', match: true }]);
  });
});
