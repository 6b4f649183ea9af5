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
