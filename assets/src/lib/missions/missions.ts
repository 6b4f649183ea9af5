/**
 * Missions: types, endpoints and the pure logic of the missions screens
 * (board grouping, outcome colours, PATCH bodies built from form state).
 * The logic is unit tested in missions.test.ts.
 */
import { api } from '../api';

export type MissionStatus = 'planned' | 'active' | 'completed' | 'archived';
export type MemberRole = 'lead' | 'red' | 'blue' | 'viewer';
export type TestState = 'pending' | 'in_progress' | 'executed' | 'assessed' | 'skipped';

export const TEST_STATES: TestState[] = ['pending', 'in_progress', 'executed', 'assessed', 'skipped'];
export const STATE_LABELS: Record<TestState, string> = {
  pending: 'Pending',
  in_progress: 'In progress',
  executed: 'Executed',
  assessed: 'Assessed',
  skipped: 'Skipped',
};
export const STATUS_LABELS: Record<MissionStatus, string> = {
  planned: 'Planned',
  active: 'Active',
  completed: 'Completed',
  archived: 'Archived',
};
export const ROLES: MemberRole[] = ['lead', 'red', 'blue', 'viewer'];

/** Allowed status changes (mirrors app/missions/model.go). */
export const STATUS_TRANSITIONS: Record<MissionStatus, MissionStatus[]> = {
  planned: ['active'],
  active: ['completed'],
  completed: ['archived', 'active'],
  archived: ['completed'],
};

/** The state changes red (or a lead) may make (mirrors app/missions/workflow.go). */
export const RED_TRANSITIONS: Record<TestState, TestState[]> = {
  pending: ['in_progress', 'executed', 'skipped'],
  in_progress: ['pending', 'executed', 'skipped'],
  executed: ['in_progress', 'skipped'],
  assessed: ['in_progress'],
  skipped: ['pending'],
};

export interface Progress {
  total: number;
  by_state: Partial<Record<TestState, number>>;
  outcomes: Record<string, number>;
}

export interface Mission {
  id: string;
  name: string;
  description: string;
  status: MissionStatus;
  starts_on: string | null;
  ends_on: string | null;
  version: number;
  created_at: string;
  updated_at: string;
  my_role: MemberRole | '';
  progress: Progress;
}

export interface Member {
  user_id: string;
  email: string;
  name: string;
  role: MemberRole;
  since: string;
}

export interface Category {
  id: string;
  name: string;
  color: string;
  position: number;
}

export interface MissionScenario {
  id: string;
  scenario_template_id: string | null;
  name: string;
  description: string;
  position: number;
}

export interface Level {
  id: string;
  key: string;
  name: string;
  rank: number;
  color: string;
  counts_as_detected: boolean;
}

export interface Outcome {
  control: string;
  expected: boolean;
  level: Level;
  logged_at: string | null;
  alerted_at: string | null;
  prevented_at: string | null;
  alert_name: string;
  notes: string;
  /** Seconds from the execution start (levels.Derive); null unless recorded and the level counts as detected. */
  time_to_log_s?: number | null;
  time_to_alert_s?: number | null;
  time_to_prevent_s?: number | null;
}

/** An Atomic input argument (as in the template). */
export interface InputArgument {
  name: string;
  description: string;
  type: string;
  default: string | number | boolean | null;
}

/** An Atomic dependency: what to check and how to get it. */
export interface Prerequisite {
  description: string;
  prereq_command: string;
  get_prereq_command: string;
}

/** The commands with the argument values substituted (server side, templates.Render). */
export interface Rendered {
  command: string;
  cleanup_command: string;
  prerequisites: Prerequisite[];
  unfilled: string[];
}

export interface Tag {
  kind: string;
  external_id: string;
  name: string;
  url: string;
}

export interface MissionTest {
  id: string;
  mission_id: string;
  mission_scenario_id: string | null;
  category_id: string | null;
  position: number;
  name: string;
  description: string;
  objective: string;
  executor: string;
  command_template: string;
  cleanup_command?: string;
  prerequisites_executor?: string;
  prerequisites?: Prerequisite[];
  input_arguments?: InputArgument[];
  argument_values?: Record<string, string>;
  rendered?: Rendered;
  elevation_required?: boolean;
  expected_detection: string;
  state: TestState;
  skip_reason: string;
  assigned_red_user_id: string | null;
  assigned_blue_user_id: string | null;
  operator: string;
  started_at: string | null;
  finished_at: string | null;
  source_host: string;
  source_ip: string;
  target_host: string;
  target_ip: string;
  tool: string;
  user_context: string;
  command: string;
  output: string;
  execution_result: 'succeeded' | 'failed' | 'blocked' | null;
  red_notes: string;
  executed_at: string | null;
  blue_notes: string;
  outcome: Level | null;
  detected_at: string | null;
  time_to_detect_seconds: number | null;
  time_to_log_s?: number | null;
  time_to_alert_s?: number | null;
  time_to_prevent_s?: number | null;
  assessed_at: string | null;
  outcomes?: Outcome[];
  mitre_tags: Tag[];
  evidence_count: number;
  version: number;
}

export interface Page<T> {
  items: T[];
  total: number;
  page?: number;
  per_page?: number;
}

export interface Evidence {
  id: string;
  mission_test_id: string;
  side: 'red' | 'blue';
  original_filename: string;
  content_type: string;
  size: number;
  sha256: string;
  caption: string;
  created_at: string;
}

/** A test waiting for me (GET /me/work). */
export interface WorkItem {
  test_id: string;
  test_name: string;
  state: TestState;
  mission_id: string;
  mission_name: string;
  role: MemberRole;
  assigned_to_me: boolean;
  outcome: Level | null;
  updated_at: string;
}

export interface WorkList {
  items: WorkItem[];
  total: number;
}

/** GET /me/work: Home in one call. */
export interface Work {
  missions: { items: Mission[]; total: number };
  roles: MemberRole[];
  to_execute: WorkList;
  to_assess: WorkList;
  to_review: WorkList;
  notifications: { items: { id: string; kind: string; payload: Record<string, unknown>; read_at: string | null; created_at: string }[]; unread: number };
  catalogue: import('../attack/types').MitreStatus;
}

// ---- Endpoints ---------------------------------------------------------------

const m = (id: string) => `/missions/${encodeURIComponent(id)}`;

export const missionsApi = {
  list: (q?: string) => api.get<Page<Mission>>('/missions', { query: { q: q || undefined, per_page: 200 } }),
  create: (body: { name: string; description: string; starts_on: string | null; ends_on: string | null }) =>
    api.post<Mission>('/missions', body),
  get: (id: string) => api.get<Mission>(m(id)),
  update: (id: string, body: Record<string, unknown>) => api.patch<Mission>(m(id), body),
  work: () => api.get<Work>('/me/work'),
  remove: (id: string) => api.delete(m(id)),
  members: (id: string) => api.get<Page<Member>>(`${m(id)}/members`),
  addMember: (id: string, user_id: string, role: MemberRole) => api.post<Member>(`${m(id)}/members`, { user_id, role }),
  setRole: (id: string, uid: string, role: MemberRole) =>
    api.patch<Member>(`${m(id)}/members/${encodeURIComponent(uid)}`, { role }),
  removeMember: (id: string, uid: string) => api.delete(`${m(id)}/members/${encodeURIComponent(uid)}`),
  categories: (id: string) => api.get<Page<Category>>(`${m(id)}/categories`),
  addCategory: (id: string, name: string) => api.post<Category>(`${m(id)}/categories`, { name }),
  renameCategory: (id: string, cid: string, name: string) =>
    api.patch<Category>(`${m(id)}/categories/${encodeURIComponent(cid)}`, { name }),
  removeCategory: (id: string, cid: string) => api.delete(`${m(id)}/categories/${encodeURIComponent(cid)}`),
  scenarios: (id: string) => api.get<Page<MissionScenario>>(`${m(id)}/scenarios`),
  addScenario: (id: string, scenario_template_id: string) =>
    api.post<{ scenario: MissionScenario; test_ids: string[]; skipped: { name: string; reason: string }[] }>(
      `${m(id)}/scenarios`,
      { scenario_template_id },
    ),
  removeScenario: (id: string, sid: string) => api.delete(`${m(id)}/scenarios/${encodeURIComponent(sid)}`),
  /** Every test of the mission (all pages of ≤200). */
  async allTests(id: string, filter: { tactic?: string; q?: string } = {}): Promise<MissionTest[]> {
    const out: MissionTest[] = [];
    for (let page = 1; page < 1000; page++) {
      const res = await api.get<Page<MissionTest>>(`${m(id)}/tests`, {
        query: { page, per_page: 200, tactic: filter.tactic || undefined, q: filter.q || undefined },
      });
      out.push(...res.items);
      if (res.items.length === 0 || out.length >= res.total) break;
    }
    return out;
  },
  addTest: (id: string, body: Record<string, unknown>) => api.post<MissionTest>(`${m(id)}/tests`, body),
  getTest: (id: string, tid: string) => api.get<MissionTest>(`${m(id)}/tests/${encodeURIComponent(tid)}`),
  patchTest: (id: string, tid: string, body: Record<string, unknown>) =>
    api.patch<MissionTest>(`${m(id)}/tests/${encodeURIComponent(tid)}`, body),
  removeTest: (id: string, tid: string) => api.delete(`${m(id)}/tests/${encodeURIComponent(tid)}`),
  controls: () => api.get<{ items: string[] }>('/security-controls'),
  levels: () => api.get<{ items: Level[] } | Level[]>('/detection-levels').then((r) => (Array.isArray(r) ? r : r.items)),
  evidence: (id: string, tid: string) =>
    api.get<Page<Evidence> | Evidence[]>(`${m(id)}/tests/${encodeURIComponent(tid)}/evidence`).then((r) =>
      Array.isArray(r) ? r : r.items,
    ),
  removeEvidence: (eid: string) => api.delete(`/evidence/${encodeURIComponent(eid)}`),
};

/** Downloads a file with the Bearer token (an <img src> or <a href> cannot send it). */
export async function fetchBlob(path: string): Promise<Blob> {
  const token = api.getAccessToken();
  const res = await fetch(`/api/v1${path}`, { headers: token ? { Authorization: `Bearer ${token}` } : {}, credentials: 'same-origin' });
  if (!res.ok) throw new Error(`Download failed (HTTP ${res.status}).`);
  return res.blob();
}

// ---- Pure logic ----------------------------------------------------------------

/** Seeded level keys that have a design token (var(--outcome-…)). */
const TOKEN_LEVELS = new Set(['blocked', 'alerted', 'logged', 'none', 'not_applicable', 'tbd']);

/** The colours for a detection level: design tokens for the seeded keys, else the level's own colour. */
export function levelColors(level: Pick<Level, 'key' | 'color'> | null | undefined): { bg: string; fg: string } {
  if (!level) return { bg: 'var(--color-surface-sunken)', fg: 'var(--color-text-muted)' };
  if (TOKEN_LEVELS.has(level.key)) {
    const k = level.key.replace(/_/g, '-');
    return { bg: `var(--outcome-${k})`, fg: `var(--outcome-${k}-fg)` };
  }
  const c = /^#[0-9a-f]{3,8}$/i.test(level.color ?? '') ? level.color : 'var(--color-text-subtle)';
  return { bg: c, fg: '#fff' };
}

export type Grouping = 'state' | 'category';

export interface BoardColumn {
  key: string;
  title: string;
  tests: MissionTest[];
}

/**
 * Groups tests for the board: by state (one column per state, in lifecycle
 * order, always all five) or by category (the mission's categories in their
 * order, then "Uncategorised" when any test has none). Tests keep their
 * position order within a column.
 */
export function groupTests(tests: MissionTest[], by: Grouping, categories: Category[] = []): BoardColumn[] {
  const sorted = [...tests].sort((a, b) => a.position - b.position);
  if (by === 'state') {
    return TEST_STATES.map((s) => ({ key: s, title: STATE_LABELS[s], tests: sorted.filter((t) => t.state === s) }));
  }
  const known = new Set(categories.map((c) => c.id));
  const cols: BoardColumn[] = [...categories]
    .sort((a, b) => a.position - b.position)
    .map((c) => ({ key: c.id, title: c.name, tests: sorted.filter((t) => t.category_id === c.id) }));
  const rest = sorted.filter((t) => !t.category_id || !known.has(t.category_id));
  if (rest.length > 0 || cols.length === 0) cols.push({ key: '', title: 'Uncategorised', tests: rest });
  return cols;
}

/** The ATT&CK tactics found in the tests' tags, for the tactic filter: [{id, name}] sorted by name. */
export function tacticsOf(tests: MissionTest[]): { id: string; name: string }[] {
  const seen = new Map<string, string>();
  for (const t of tests) for (const tag of t.mitre_tags ?? []) if (tag.kind === 'tactic') seen.set(tag.external_id, tag.name);
  return [...seen].map(([id, name]) => ({ id, name })).sort((a, b) => a.name.localeCompare(b.name));
}

export interface Segment {
  key: string;
  label: string;
  count: number;
  /** Percentage of the total, 0…100. */
  pct: number;
}

/** Progress bar segments: tests per state. */
export function stateSegments(p: Progress): Segment[] {
  const total = p.total || 0;
  return TEST_STATES.map((s) => ({ key: s, label: STATE_LABELS[s], count: p.by_state?.[s] ?? 0, pct: 0 }))
    .filter((s) => s.count > 0)
    .map((s) => ({ ...s, pct: total ? (s.count / total) * 100 : 0 }));
}

/** Outcome mix segments (of the total tests), ordered by level rank when levels are known. */
export function outcomeSegments(p: Progress, levels: Level[] = []): Segment[] {
  const total = p.total || 0;
  const rank = new Map(levels.map((l) => [l.key, l.rank]));
  const name = new Map(levels.map((l) => [l.key, l.name]));
  return Object.entries(p.outcomes ?? {})
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => (rank.get(a) ?? 99) - (rank.get(b) ?? 99) || a.localeCompare(b))
    .map(([key, count]) => ({ key, label: name.get(key) ?? humanize(key), count, pct: total ? (count / total) * 100 : 0 }));
}

export function humanize(key: string): string {
  const s = key.replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * The first detection of a test: the earliest logged/alerted/prevented time
 * of a control whose level counts as detected (as detected_at is derived),
 * with the control and what happened. Null when nothing was detected.
 */
export function firstDetection(t: Pick<MissionTest, 'outcomes'>): { at: string; control: string; how: 'logged' | 'alerted' | 'prevented' } | null {
  let best: { at: string; control: string; how: 'logged' | 'alerted' | 'prevented' } | null = null;
  for (const o of t.outcomes ?? []) {
    if (!o.level?.counts_as_detected) continue;
    for (const how of ['logged', 'alerted', 'prevented'] as const) {
      const at = o[`${how}_at`];
      if (at && (!best || Date.parse(at) < Date.parse(best.at))) best = { at, control: o.control, how };
    }
  }
  return best;
}

/** "5 min 3 s" for a time to detect. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const parts: string[] = [];
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const mi = Math.floor((s % 3600) / 60);
  const se = s % 60;
  if (d) parts.push(`${d} d`);
  if (h) parts.push(`${h} h`);
  if (mi) parts.push(`${mi} min`);
  if (se && !d) parts.push(`${se} s`);
  return parts.join(' ');
}

// ---- Form state ↔ PATCH bodies -------------------------------------------------------

export const RED_TEXT_FIELDS = [
  'operator',
  'source_host',
  'source_ip',
  'target_host',
  'target_ip',
  'tool',
  'user_context',
  'command',
  'output',
  'red_notes',
  'skip_reason',
] as const;
export type RedTextField = (typeof RED_TEXT_FIELDS)[number];

export interface RedForm {
  text: Record<RedTextField, string>;
  /** datetime-local values ("2026-01-02T10:30") or ''. */
  started_at: string;
  finished_at: string;
  execution_result: '' | 'succeeded' | 'failed' | 'blocked';
}

/** "2026-01-02T10:30:00Z" → the datetime-local value in the browser's zone. */
export function toLocalInput(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** A datetime-local value → RFC 3339 UTC, or null when empty/invalid. */
export function fromLocalInput(v: string): string | null {
  if (!v) return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

export function redFormFrom(t: MissionTest): RedForm {
  const text = {} as Record<RedTextField, string>;
  for (const f of RED_TEXT_FIELDS) text[f] = (t[f] as string | null) ?? '';
  return {
    text,
    started_at: toLocalInput(t.started_at),
    finished_at: toLocalInput(t.finished_at),
    execution_result: t.execution_result ?? '',
  };
}

/**
 * The red PATCH body: only the fields that differ from the test as loaded,
 * plus `state` when given, always with `version`.
 */
export function buildRedPatch(t: MissionTest, f: RedForm, state?: TestState): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const k of RED_TEXT_FIELDS) {
    const before = (t[k] as string | null) ?? '';
    if (f.text[k] !== before) body[k] = f.text[k];
  }
  for (const k of ['started_at', 'finished_at'] as const) {
    if (f[k] !== toLocalInput(t[k])) body[k] = fromLocalInput(f[k]);
  }
  if (f.execution_result !== (t.execution_result ?? '')) body.execution_result = f.execution_result || null;
  if (state && state !== t.state) body.state = state;
  body.version = t.version;
  return body;
}

export interface ControlRow {
  control: string;
  expected: boolean;
  /** Level key, '' = no outcome recorded. */
  level: string;
  logged_at: string;
  alerted_at: string;
  prevented_at: string;
  alert_name: string;
  notes: string;
}

/** One row per configured control (then any other control that has an outcome). */
export function controlRowsFrom(controls: string[], outcomes: Outcome[] = []): ControlRow[] {
  const by = new Map(outcomes.map((o) => [o.control.toLowerCase(), o]));
  const names = [...controls];
  for (const o of outcomes) if (!controls.some((c) => c.toLowerCase() === o.control.toLowerCase())) names.push(o.control);
  return names.map((control) => {
    const o = by.get(control.toLowerCase());
    return {
      control,
      expected: o?.expected ?? false,
      level: o?.level?.key ?? '',
      logged_at: toLocalInput(o?.logged_at),
      alerted_at: toLocalInput(o?.alerted_at),
      prevented_at: toLocalInput(o?.prevented_at),
      alert_name: o?.alert_name ?? '',
      notes: o?.notes ?? '',
    };
  });
}

function rowKey(r: ControlRow): string {
  return JSON.stringify([r.expected, r.level, r.logged_at, r.alerted_at, r.prevented_at, r.alert_name, r.notes]);
}

/**
 * The blue PATCH body: `outcomes` with the rows that changed (a row whose
 * level was cleared is sent with detection_level null, which removes it;
 * a new row without a level is not sent), blue_notes when changed, version.
 */
export function buildBluePatch(t: MissionTest, original: ControlRow[], rows: ControlRow[], blueNotes: string): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const orig = new Map(original.map((r) => [r.control, r]));
  const outcomes: Record<string, unknown>[] = [];
  for (const r of rows) {
    const o = orig.get(r.control);
    if (o && rowKey(o) === rowKey(r)) continue;
    if (!r.level) {
      if (o?.level) outcomes.push({ control: r.control, expected: r.expected, detection_level: null });
      continue;
    }
    outcomes.push({
      control: r.control,
      expected: r.expected,
      detection_level: r.level,
      logged_at: fromLocalInput(r.logged_at),
      alerted_at: fromLocalInput(r.alerted_at),
      prevented_at: fromLocalInput(r.prevented_at),
      alert_name: r.alert_name,
      notes: r.notes,
    });
  }
  if (outcomes.length) body.outcomes = outcomes;
  if (blueNotes !== (t.blue_notes ?? '')) body.blue_notes = blueNotes;
  body.version = t.version;
  return body;
}

/** Completed and archived missions are read-only until a lead reopens them (mirrors app/missions ReadOnly). */
export function isReadOnly(status: MissionStatus): boolean {
  return status === 'completed' || status === 'archived';
}

/** Tests not finished yet, for the "complete the mission?" question: pending, in progress, executed (not assessed). */
export function openTests(p: Progress): { pending: number; in_progress: number; executed: number; total: number } {
  const pending = p.by_state?.pending ?? 0;
  const in_progress = p.by_state?.in_progress ?? 0;
  const executed = p.by_state?.executed ?? 0;
  return { pending, in_progress, executed, total: pending + in_progress + executed };
}

/** What the caller may edit in a test: red side, blue side, planning. */
export function testRights(role: MemberRole | '', can: (perm: string) => boolean, status: MissionStatus) {
  const open = !isReadOnly(status);
  return {
    red: open && can('mission_test.execute') && (role === 'red' || role === 'lead'),
    blue: open && can('mission_test.assess') && (role === 'blue' || role === 'lead'),
    lead: open && can('mission.update') && role === 'lead',
  };
}

/** The link of a notification (mission or test), from its payload. */
export function notificationHref(payload: Record<string, unknown> | null | undefined): string | null {
  const mid = typeof payload?.mission_id === 'string' ? payload.mission_id : '';
  const tid = typeof payload?.test_id === 'string' ? payload.test_id : '';
  if (mid && tid) return `/missions/${mid}/tests/${tid}`;
  if (mid) return `/missions/${mid}`;
  return null;
}

// ---- Conflict merge ("keep my edits" after a 409) ---------------------------------------

/**
 * Three-way merge of the red form after a version conflict: every field I
 * changed (against the version I edited) keeps my value, every other field
 * takes their saved value.
 */
export function mergeRedForm(mineBase: MissionTest, theirs: MissionTest, mine: RedForm): RedForm {
  const old = redFormFrom(mineBase);
  const out = redFormFrom(theirs);
  for (const k of RED_TEXT_FIELDS) if (mine.text[k] !== old.text[k]) out.text[k] = mine.text[k];
  for (const k of ['started_at', 'finished_at', 'execution_result'] as const) {
    if (mine[k] !== old[k]) (out as unknown as Record<string, string>)[k] = mine[k];
  }
  return out;
}

/** The same per control row of the blue grid: rows I changed keep mine, the others take theirs. */
export function mergeControlRows(mineOriginal: ControlRow[], theirs: ControlRow[], mine: ControlRow[]): ControlRow[] {
  const old = new Map(mineOriginal.map((r) => [r.control, r]));
  const my = new Map(mine.map((r) => [r.control, r]));
  return theirs.map((t) => {
    const o = old.get(t.control);
    const m = my.get(t.control);
    return m && (!o || rowKey(o) !== rowKey(m)) ? { ...m } : { ...t };
  });
}
