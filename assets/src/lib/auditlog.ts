/**
 * Wording of the audit log (/admin/audit): readable action names, action
 * groups for the filter, and a short summary of an event's details. Pure:
 * unit tested in auditlog.test.ts.
 */

const ACTIONS: Record<string, string> = {
  'auth.login': 'Signed in',
  'auth.login_failed': 'Sign-in failed',
  'auth.logout': 'Signed out',
  'auth.refresh_reuse': 'Refresh token reused: session revoked',
  'auth.mfa_enroll_started': 'Two-factor setup started',
  'auth.mfa_enroll_cancelled': 'Two-factor setup cancelled',
  'auth.mfa_enabled': 'Two-factor turned on',
  'auth.mfa_disabled': 'Two-factor turned off',
  'auth.mfa_disable': 'Two-factor turn-off refused',
  'auth.mfa_failed': 'Two-factor code wrong',
  'auth.mfa_reset': 'Two-factor reset by an administrator',
  'auth.mfa_recovery_code_used': 'Recovery code used',
  'auth.mfa_recovery_codes': 'Recovery codes refused',
  'auth.mfa_recovery_codes_regenerated': 'Recovery codes replaced',
  'setup.completed': 'First-run setup completed',
  'setup.token_rejected': 'Setup token rejected',
  'user.create': 'User created',
  'user.update': 'User changed',
  'user.delete': 'User deleted',
  'user.password_changed': 'Password changed',
  'user.password_change_failed': 'Password change refused',
  'group.create': 'Group created',
  'group.update': 'Group changed',
  'group.delete': 'Group deleted',
  'group.members_set': 'Group members changed',
  'group.permissions_set': 'Group permissions changed',
  'invitation.create': 'Invitation created',
  'invitation.revoke': 'Invitation revoked',
  'invitation.accept': 'Invitation accepted',
  'api_token.create': 'API token created',
  'api_token.revoke': 'API token revoked',
  'settings.update': 'Setting changed',
  'mitre.sync': 'ATT&CK catalogue synced',
  'mitre.verify': 'ATT&CK catalogue verified',
  'mission.create': 'Mission created',
  'mission.update': 'Mission changed',
  'mission.delete': 'Mission deleted',
  'mission.member_set': 'Mission member set',
  'mission.member_removed': 'Mission member removed',
  'mission.test_add': 'Test added to a mission',
  'mission.test_delete': 'Test removed from a mission',
  'mission.tests_reorder': 'Mission tests reordered',
  'mission.scenario_add': 'Scenario added to a mission',
  'mission.scenario_delete': 'Scenario removed from a mission',
  'mission_test.update': 'Mission test changed',
  'evidence.upload': 'Evidence uploaded',
  'evidence.delete': 'Evidence deleted',
};

/** A readable name for an action key; unknown keys are made readable. */
export function describeAction(action: string): string {
  if (ACTIONS[action]) return ACTIONS[action];
  const [area, verb] = action.includes('.') ? [action.slice(0, action.indexOf('.')), action.slice(action.indexOf('.') + 1)] : ['', action];
  const words = `${area ? area.replace(/_/g, ' ') + ': ' : ''}${verb.replace(/_/g, ' ')}`;
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The action filter: prefixes (the API matches "auth." as a prefix) and single actions. */
export const ACTION_FILTERS: { label: string; options: { value: string; label: string }[] }[] = [
  {
    label: 'Groups of actions',
    options: [
      { value: 'auth.', label: 'Sign-in and two-factor (all)' },
      { value: 'user.', label: 'Users (all)' },
      { value: 'group.', label: 'Groups (all)' },
      { value: 'invitation.', label: 'Invitations (all)' },
      { value: 'api_token.', label: 'API tokens (all)' },
      { value: 'settings.', label: 'Settings (all)' },
      { value: 'mission.', label: 'Missions (all)' },
      { value: 'mission_test.', label: 'Mission tests (all)' },
      { value: 'evidence.', label: 'Evidence (all)' },
    ],
  },
  {
    label: 'Single actions',
    options: Object.keys(ACTIONS)
      .sort()
      .map((value) => ({ value, label: `${ACTIONS[value]} (${value})` })),
  },
];

export const OBJECT_TYPES: { value: string; label: string }[] = [
  { value: 'user', label: 'User' },
  { value: 'group', label: 'Group' },
  { value: 'invitation', label: 'Invitation' },
  { value: 'api_token', label: 'API token' },
  { value: 'session', label: 'Session' },
  { value: 'setting', label: 'Setting' },
  { value: 'mitre_catalogue', label: 'ATT&CK catalogue' },
  { value: 'test_template', label: 'Test template' },
  { value: 'scenario_template', label: 'Scenario template' },
  { value: 'mission', label: 'Mission' },
  { value: 'mission_test', label: 'Mission test' },
  { value: 'evidence_file', label: 'Evidence' },
];

/** True for actions that deserve attention (failures, reuse). */
export function isAlarming(action: string): boolean {
  return /(_failed|refresh_reuse|token_rejected)$/.test(action) || action === 'auth.mfa_disable' || action === 'auth.mfa_recovery_codes';
}

function show(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') return v === '' ? '""' : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) {
    return v.length === 0 ? '(none)' : v.map((x) => (x && typeof x === 'object' && 'name' in x ? String((x as { name: unknown }).name) : show(x))).join(', ');
  }
  return JSON.stringify(v);
}

/**
 * Short lines for an event's details: "name: Ana → Ana Analyst" for
 * before/after pairs, "key: value" for the rest; at most `max` lines.
 */
export function summarizeDetails(details: Record<string, unknown> | null | undefined, max = 4): string[] {
  if (!details || typeof details !== 'object') return [];
  const lines: string[] = [];
  const before = details.before && typeof details.before === 'object' ? (details.before as Record<string, unknown>) : null;
  const after = details.after && typeof details.after === 'object' ? (details.after as Record<string, unknown>) : null;
  if (before || after) {
    const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
    for (const k of keys) lines.push(`${k}: ${show(before?.[k])} → ${show(after?.[k])}`);
  }
  for (const [k, v] of Object.entries(details)) {
    if (k === 'before' || k === 'after') continue;
    lines.push(`${k}: ${show(v)}`);
  }
  return lines.length > max ? [...lines.slice(0, max), `… ${lines.length - max} more`] : lines;
}

/** How the audit list names a user (GET /audit answers a "users" map). */
export interface UserRef {
  id: string;
  name: string;
  email: string;
  deleted: boolean;
}

/** One line of an event's details: a change (before → after) or a fact. */
export interface DetailRow {
  field: string;
  label: string;
  kind: 'change' | 'fact';
  before?: string;
  after?: string;
  value?: string;
  /** The e-mail behind a user's name (for a tooltip). */
  title?: string;
}

const LABELS: Record<string, string> = {
  user_id: 'User',
  command_run: 'Command as run',
  argument_values: 'Argument values',
  execution_result: 'Execution result',
  outcome_level_id: 'Outcome',
  detected_at: 'Detected at',
  mfa_enabled: 'Two-factor',
  group_ids: 'Groups',
};

/** "blue_notes" → "Blue notes", "assigned_red_user_id" → "Assigned red user". */
export function fieldLabel(key: string): string {
  if (LABELS[key]) return LABELS[key];
  const k = key.replace(/_user_id$/, '_user').replace(/_id$/, '').replace(/_/g, ' ');
  return k.charAt(0).toUpperCase() + k.slice(1);
}

function isUserKey(key: string): boolean {
  return key === 'user_id' || key.endsWith('_user_id') || key.endsWith('user_ids');
}

function userName(id: string, users: Record<string, UserRef>): { text: string; title?: string } {
  const u = users[id];
  if (!u) return { text: id.length > 13 ? `${id.slice(0, 8)}…` : id };
  return { text: `${u.name || u.email}${u.deleted ? ' (deleted)' : ''}`, title: u.email };
}

function text(v: unknown, key: string, users: Record<string, UserRef>): { text: string; title?: string } {
  if (v === null || v === undefined || v === '') return { text: '—' };
  if (typeof v === 'string') {
    if (isUserKey(key)) return userName(v, users);
    // Other ids are long and meaningless to read: shortened, the full id in the tooltip.
    if (/(^|_)id$/.test(key) && /^[0-9a-f]{8}-[0-9a-f-]{27}$/i.test(v)) return { text: `${v.slice(0, 8)}…`, title: v };
    return { text: v };
  }
  if (typeof v === 'number' || typeof v === 'boolean') return { text: String(v) };
  if (Array.isArray(v)) {
    if (v.length === 0) return { text: '(none)' };
    const parts = v.map((x) =>
      x && typeof x === 'object' && 'name' in x ? String((x as { name: unknown }).name) : text(x, key, users).text,
    );
    return { text: parts.join(', ') };
  }
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length === 0) return { text: '(none)' };
    return { text: entries.map(([k, x]) => `${k} = ${text(x, k, users).text}`).join(', ') };
  }
  return { text: String(v) };
}

function isPair(v: unknown): v is { before: unknown; after: unknown } {
  return !!v && typeof v === 'object' && !Array.isArray(v) && 'before' in v && 'after' in v && Object.keys(v).length === 2;
}

/**
 * An event's details as readable rows: before → after for changes (both
 * shapes the server writes: {before:{…}, after:{…}} and {field:{before,
 * after}}), plain facts for the rest; user ids become names (e-mail in
 * `title`); unchanged pairs are left out.
 */
export function detailRows(details: Record<string, unknown> | null | undefined, users: Record<string, UserRef> = {}): DetailRow[] {
  if (!details || typeof details !== 'object') return [];
  const rows: DetailRow[] = [];
  const change = (field: string, b: unknown, a: unknown) => {
    const before = text(b, field, users);
    const after = text(a, field, users);
    if (before.text === after.text) return;
    rows.push({ field, label: fieldLabel(field), kind: 'change', before: before.text, after: after.text, title: after.title ?? before.title });
  };
  const before = details.before && typeof details.before === 'object' && !Array.isArray(details.before) ? (details.before as Record<string, unknown>) : null;
  const after = details.after && typeof details.after === 'object' && !Array.isArray(details.after) ? (details.after as Record<string, unknown>) : null;
  if (before || after) {
    for (const k of new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])) change(k, before?.[k], after?.[k]);
  }
  for (const [k, v] of Object.entries(details)) {
    if ((k === 'before' || k === 'after') && (before || after)) continue;
    if (isPair(v)) change(k, v.before, v.after);
    else {
      const t = text(v, k, users);
      rows.push({ field: k, label: fieldLabel(k), kind: 'fact', value: t.text, title: t.title });
    }
  }
  // Changes first, then facts, each in a stable (alphabetical) order.
  return [...rows.filter((r) => r.kind === 'change'), ...rows.filter((r) => r.kind === 'fact')];
}

/** The one-line summary of rows: "Name: Ana → Ana Analyst" or "Role: red". */
export function rowSummary(r: DetailRow): string {
  return r.kind === 'change' ? `${r.label}: ${r.before} → ${r.after}` : `${r.label}: ${r.value}`;
}
