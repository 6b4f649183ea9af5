/**
 * Results: types of the results API (app/results), its endpoints, and the
 * pure logic of the results screens (cell colours, matrix filtering, chart
 * geometry, formatting, the gap list as CSV). Unit tested in results.test.ts.
 */
import { api } from '../api';
import { fetchBlob, levelColors } from '../missions/missions';

export type ColorBy = 'worst' | 'best' | 'score';
export type TestClass = 'planned' | 'skipped' | 'unassessed' | 'not_applicable' | 'detected' | 'missed';

export interface Level {
  id: string;
  key: string;
  name: string;
  rank: number;
  color: string;
  counts_as_detected: boolean;
  class: 'detected' | 'missed' | 'unassessed' | 'not_applicable';
  score: number | null;
}

export interface LegendState {
  state: string;
  label: string;
  color: string;
}

export interface Legend {
  levels: Level[];
  states: LegendState[];
  scores: { key: string; score: number }[];
}

export interface Result {
  tests: number;
  planned: number;
  executed: number;
  assessed: number;
  unassessed: number;
  skipped: number;
  not_applicable: number;
  detected: number;
  missed: number;
  levels: Record<string, number>;
  best: string | null;
  worst: string | null;
  detected_share: number | null;
  score: number | null;
  state: string;
  color: string;
}

export interface Column {
  external_id: string;
  shortname: string;
  name: string;
  techniques: string[];
}

export interface CatalogueEntry {
  name: string;
  kind: 'technique' | 'subtechnique';
  state: string;
  url?: string;
  parent?: string;
  replaced_by?: string;
  tactics: string[];
  subtechniques?: string[];
}

export interface TechniqueResult {
  result: Result;
  own: Result;
  tests?: string[];
  first_tested?: string;
  last_tested?: string;
  last_result?: string;
}

export interface Matrix {
  version: string;
  columns: Column[];
  catalogue: Record<string, CatalogueEntry>;
  results: Record<string, TechniqueResult>;
  other: string[];
}

export interface Times {
  log?: number;
  alert?: number;
  prevent?: number;
}

export interface ControlOutcome {
  control: string;
  expected: boolean;
  outcome: string;
  times: Times;
  alert_name: string;
}

export interface TestResult {
  id: string;
  position: number;
  name: string;
  state: string;
  class: TestClass;
  outcome: string | null;
  score: number | null;
  techniques: string[];
  tactics: string[];
  controls: ControlOutcome[];
  times: Times;
}

export interface HistBin {
  label: string;
  upper: number | null;
  n: number;
}

export interface Distribution {
  n: number;
  min: number | null;
  p25: number | null;
  median: number | null;
  p75: number | null;
  p90: number | null;
  max: number | null;
  mean: number | null;
  histogram: HistBin[];
}

export interface TimeStats {
  overall: Distribution;
  controls: Record<string, Distribution>;
}

export interface TacticResult {
  external_id: string;
  shortname: string;
  name: string;
  result: Result;
}

export interface ControlResult {
  control: string;
  configured: boolean;
  tests: number;
  levels: Record<string, number>;
  detected: number;
  missed: number;
  expected: number;
  expected_missed: number;
  techniques_detected: string[];
  techniques_missed: string[];
}

export interface TechniqueCounts {
  tested: number;
  executed: number;
  missed: number;
  by_state: Record<string, number>;
}

export interface MissionInfo {
  id: string;
  name: string;
  description: string;
  status: string;
  starts_on: string | null;
  ends_on: string | null;
  my_role: string;
}

export interface MissionResults {
  mission: MissionInfo;
  generated_at: string;
  legend: Legend;
  summary: Result;
  techniques: TechniqueCounts;
  matrix: Matrix;
  tactics: TacticResult[];
  controls: ControlResult[];
  times: { log: TimeStats; alert: TimeStats; prevent: TimeStats };
  tests: TestResult[];
}

export interface CoverageMission {
  id: string;
  name: string;
  status: string;
  starts_on: string | null;
  ends_on: string | null;
  date: string;
  result: Result;
}

export interface TrendPoint {
  key: string;
  label: string;
  result: Result;
  blocked_share: number | null;
}

export interface CoverageFilters {
  from: string;
  to: string;
  status: string[];
  mission_id: string[];
  q: string;
}

export interface Coverage {
  filters: CoverageFilters;
  generated_at: string;
  legend: Legend;
  missions: CoverageMission[];
  summary: Result;
  techniques: TechniqueCounts;
  matrix: Matrix;
  trends: { months: TrendPoint[]; missions: TrendPoint[] };
}

export interface ImportedTechnique {
  id: string;
  name: string;
  kind: string;
  state: string;
  tactics: string[];
  score: number | null;
  from?: string;
  tests: string[];
}

export interface ImportResult {
  layer: { name: string; description: string; domain: string; format: string; attack: string; entries: number; layers: string[] };
  techniques: ImportedTechnique[];
  gaps: ImportedTechnique[];
  revoked: { id: string; replaced_by: string }[];
  deprecated: string[];
  unknown: string[];
  ignored: number;
  warnings: string[];
  tests: { id: string; name: string; platforms: string[]; techniques: string[] }[];
  scenario: { id: string; name: string } | null;
  gaps_layer: unknown;
}

export interface ImportOptions {
  platform?: string;
  max_per_technique?: number;
  min_score?: number | null;
  max_score?: number | null;
  layer_index?: number;
  name?: string;
  create?: boolean;
}

const m = (id: string) => `/missions/${encodeURIComponent(id)}`;

/** Query object of coverage filters (empty values left out). */
export function coverageQuery(f: Partial<CoverageFilters>): Record<string, string | string[] | undefined> {
  return {
    from: f.from || undefined,
    to: f.to || undefined,
    q: f.q?.trim() || undefined,
    status: f.status?.length ? f.status.join(',') : undefined,
    mission_id: f.mission_id?.length ? f.mission_id.join(',') : undefined,
  };
}

function qs(q: Record<string, string | string[] | undefined>): string {
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined) sp.set(k, Array.isArray(v) ? v.join(',') : v);
  const s = sp.toString();
  return s ? `?${s}` : '';
}

export const resultsApi = {
  mission: (id: string) => api.get<MissionResults>(`${m(id)}/results`),
  coverage: (f: Partial<CoverageFilters>) => api.get<Coverage>('/coverage', { query: coverageQuery(f) }),
  importLayer: (file: File, o: ImportOptions) => {
    const fd = new FormData();
    // Fields before the file part.
    if (o.platform) fd.append('platform', o.platform);
    if (o.max_per_technique) fd.append('max_per_technique', String(o.max_per_technique));
    if (o.min_score !== null && o.min_score !== undefined) fd.append('min_score', String(o.min_score));
    if (o.max_score !== null && o.max_score !== undefined) fd.append('max_score', String(o.max_score));
    if (o.layer_index) fd.append('layer_index', String(o.layer_index));
    if (o.name) fd.append('name', o.name);
    if (o.create) fd.append('create', 'true');
    fd.append('file', file);
    return api.post<ImportResult>('/layers/import', fd);
  },
  missionFile: (id: string, what: 'layer' | 'report.html' | 'report.csv' | 'report.json', query: Record<string, string> = {}) =>
    `${m(id)}/${what}${qs(query)}`,
  coverageLayerPath: (f: Partial<CoverageFilters>, color: ColorBy) => `/coverage/layer${qs({ ...coverageQuery(f), color })}`,
};

/** Saves an API file download under its server-given name (Content-Disposition) or the fallback. */
export async function downloadFile(path: string, fallback: string): Promise<string> {
  const blob = await fetchBlob(path);
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fallback;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return fallback;
}

/** A file name part from a mission name (as the server makes it). */
export function slug(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/, '');
  return s || 'mission';
}

// ---- Colours -----------------------------------------------------------------

export interface CellPaint {
  bg: string;
  fg: string;
  /** Outline only (planned, skipped, untested). */
  hollow: boolean;
  label: string;
}

const HOLLOW: CellPaint = { bg: 'var(--color-surface)', fg: 'var(--color-text)', hollow: true, label: '' };

function levelBy(levels: Level[], key: string | null | undefined): Level | undefined {
  return key ? levels.find((l) => l.key === key) : undefined;
}

/** Parses #rgb / #rrggbb into [r, g, b]. */
export function hexRGB(hex: string): [number, number, number] | null {
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(hex.trim());
  if (!m) return null;
  const h = m[1].length === 3 ? [...m[1]].map((c) => c + c).join('') : m[1];
  return [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16)];
}

/** Black or white text for a background colour. */
export function textOn(hex: string): string {
  const c = hexRGB(hex);
  if (!c) return '#111111';
  const lin = (v: number) => {
    const x = v / 255;
    return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
  };
  const l = 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
  return l > 0.4 ? '#111111' : '#ffffff';
}

/**
 * The score gradient of the levels (as the exported layers): from the colour
 * of not detected at 0 to the best detected level at 100, one evenly spaced
 * stop per detected level.
 */
export function gradientStops(levels: Level[]): string[] {
  const sorted = [...levels].sort((a, b) => a.rank - b.rank);
  const missed = sorted.find((l) => l.key === 'none' && l.class === 'missed') ?? sorted.find((l) => l.class === 'missed');
  const detected = sorted.filter((l) => l.class === 'detected').reverse();
  const stops = [missed?.color ?? '#D32F2F', ...detected.map((l) => l.color)];
  return stops.length >= 2 ? stops : [...stops, '#1B7F3B'];
}

/** The gradient colour of a score (0–100). */
export function scoreColor(score: number, stops: string[]): string {
  const s = Math.max(0, Math.min(100, score));
  const pos = (s / 100) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(pos));
  const a = hexRGB(stops[i]) ?? [0, 0, 0];
  const b = hexRGB(stops[i + 1]) ?? [0, 0, 0];
  const t = pos - i;
  const mix = a.map((v, k) => Math.round(v + (b[k] - v) * t));
  return '#' + mix.map((v) => v.toString(16).padStart(2, '0')).join('');
}

/** How a cell with this result is painted. */
export function paint(r: Result | undefined, levels: Level[], by: ColorBy = 'worst'): CellPaint {
  if (!r || r.tests === 0) return { ...HOLLOW, label: 'Not tested' };
  if (by === 'score' && r.score !== null) {
    const bg = scoreColor(r.score, gradientStops(levels));
    return { bg, fg: textOn(bg), hollow: false, label: `Score ${r.score}` };
  }
  const key = by === 'best' && r.best ? r.best : r.state;
  const lv = levelBy(levels, key);
  if (lv) {
    const c = levelColors(lv);
    return { bg: c.bg, fg: c.fg, hollow: false, label: lv.name };
  }
  switch (r.state) {
    case 'unassessed': {
      const c = levelColors(levelBy(levels, 'tbd') ?? { key: 'tbd', color: '#607D8B' });
      return { bg: c.bg, fg: c.fg, hollow: false, label: 'Not assessed yet' };
    }
    case 'not_applicable': {
      const c = levelColors(levelBy(levels, 'not_applicable') ?? { key: 'not_applicable', color: '#9E9E9E' });
      return { bg: c.bg, fg: c.fg, hollow: false, label: 'Not applicable' };
    }
    case 'planned':
      return { ...HOLLOW, label: 'Planned, not executed' };
    case 'skipped':
      return { ...HOLLOW, label: 'Skipped' };
  }
  return { ...HOLLOW, label: 'Not tested' };
}

// ---- Matrix ----------------------------------------------------------------------

export interface HeatCell {
  id: string;
  name: string;
  result?: TechniqueResult;
  subs: HeatCell[];
  /** Sub-techniques with a result. */
  testedSubs: number;
}

export interface HeatColumn {
  key: string;
  name: string;
  cells: HeatCell[];
}

/**
 * The heatmap's columns: tactics in matrix order with their techniques (and
 * sub-techniques); with onlyTested, only techniques that have a result (a
 * parent stays when a sub-technique has one) and no empty columns. Ids outside
 * the active matrix go to a last "Other" column.
 */
export function heatColumns(mx: Matrix, onlyTested: boolean): HeatColumn[] {
  const cell = (id: string): HeatCell => {
    const ce = mx.catalogue[id];
    const subs = (ce?.subtechniques ?? []).map((s) => ({
      id: s,
      name: mx.catalogue[s]?.name ?? s,
      result: mx.results[s],
      subs: [],
      testedSubs: 0,
    }));
    return {
      id,
      name: ce?.name || id,
      result: mx.results[id],
      subs: onlyTested ? subs.filter((s) => s.result) : subs,
      testedSubs: subs.filter((s) => s.result).length,
    };
  };
  const cols: HeatColumn[] = mx.columns.map((c) => ({
    key: c.shortname,
    name: c.name,
    cells: c.techniques.map(cell).filter((x) => !onlyTested || x.result),
  }));
  const out = onlyTested ? cols.filter((c) => c.cells.length > 0) : cols;
  if (mx.other.length) out.push({ key: '_other', name: 'Outside the matrix', cells: mx.other.map(cell) });
  return out;
}

// ---- Charts ----------------------------------------------------------------------

export interface Segment {
  key: string;
  label: string;
  n: number;
  bg: string;
  fg: string;
  hollow?: boolean;
}

/** A result's parts for a stacked bar: scored levels by rank, then unassessed, n/a, planned, skipped. */
export function segments(r: Result, levels: Level[]): Segment[] {
  const out: Segment[] = [];
  for (const l of [...levels].sort((a, b) => a.rank - b.rank)) {
    const n = r.levels[l.key] ?? 0;
    if (n > 0) {
      const c = levelColors(l);
      out.push({ key: l.key, label: l.name, n, bg: c.bg, fg: c.fg });
    }
  }
  const extra: [string, string, number, string][] = [
    ['unassessed', 'Not assessed yet', r.unassessed, 'tbd'],
    ['not_applicable', 'Not applicable', r.not_applicable, 'not_applicable'],
  ];
  for (const [key, label, n, lk] of extra) {
    if (n > 0) {
      const c = levelColors(levelBy(levels, lk) ?? { key: lk, color: '#9E9E9E' });
      out.push({ key, label, n, bg: c.bg, fg: c.fg });
    }
  }
  if (r.planned > 0) out.push({ key: 'planned', label: 'Not executed', n: r.planned, bg: 'var(--color-surface-sunken)', fg: 'var(--color-text)', hollow: true });
  if (r.skipped > 0) out.push({ key: 'skipped', label: 'Skipped', n: r.skipped, bg: 'var(--color-surface-hover)', fg: 'var(--color-text)', hollow: true });
  return out;
}

/** Segment widths in percent of the total (summing to 100 when any). */
export function widths(segs: { n: number }[]): number[] {
  const total = segs.reduce((s, x) => s + x.n, 0);
  return segs.map((x) => (total ? (100 * x.n) / total : 0));
}

/** Position (0–1) of a duration on the logarithmic axis from 1 s to 7 days. */
export function logPos(seconds: number): number {
  const max = 7 * 86400;
  const v = Math.max(1, Math.min(max, seconds));
  return Math.log10(v) / Math.log10(max);
}

export interface LinePoint {
  x: number;
  y: number;
  label: string;
  value: number;
}

/** Points of a share series (0–1) over n slots in a width × height box; null values are skipped. */
export function linePoints(values: (number | null)[], labels: string[], width: number, height: number, pad = 8): LinePoint[] {
  const n = values.length;
  const out: LinePoint[] = [];
  values.forEach((v, i) => {
    if (v === null || v === undefined) return;
    const x = n === 1 ? width / 2 : pad + ((width - 2 * pad) * i) / (n - 1);
    const y = pad + (height - 2 * pad) * (1 - v);
    out.push({ x, y, label: labels[i], value: v });
  });
  return out;
}

// ---- Formatting ----------------------------------------------------------------

export function pct(v: number | null | undefined): string {
  return v === null || v === undefined ? '–' : `${Math.round(v * 100)}%`;
}

export function share(n: number, d: number): string {
  return d > 0 ? `${Math.round((100 * n) / d)}%` : '–';
}

/** Seconds as 45 s, 12 min, 3.5 h, 2.1 d. */
export function dur(s: number | null | undefined): string {
  if (s === null || s === undefined) return '–';
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${Math.round(s / 360) / 10} h`;
  return `${Math.round(s / 8640) / 10} d`;
}

export const CLASS_LABELS: Record<TestClass, string> = {
  missed: 'Not detected',
  unassessed: 'Not assessed yet',
  detected: 'Detected',
  not_applicable: 'Not applicable',
  planned: 'Not executed',
  skipped: 'Skipped',
};

/** One line about a result: "3 tests: 1 Blocked, 2 None · score 33". */
export function summary(r: Result, levels: Level[]): string {
  const parts = segments(r, levels).map((s) => `${s.n} ${s.label}`);
  let s = `${r.tests} test${r.tests === 1 ? '' : 's'}`;
  if (parts.length) s += `: ${parts.join(', ')}`;
  if (r.score !== null) s += ` · score ${r.score}`;
  return s;
}

/** RFC 4180 CSV of the gap list (id, name, tactics, score, replaces). */
export function gapsCSV(gaps: ImportedTechnique[]): string {
  const esc = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const rows = [['technique_id', 'name', 'tactics', 'score', 'replaces']];
  for (const g of gaps) rows.push([g.id, g.name, g.tactics.join('; '), g.score === null ? '' : String(g.score), g.from ?? '']);
  return rows.map((r) => r.map(esc).join(',')).join('\r\n') + '\r\n';
}
