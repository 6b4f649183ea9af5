/**
 * Pure helpers of the accounts screens: where to send a user (the route
 * guard's decision), safe `?next=` handling, permission checks and the
 * grouping of the permission catalogue. No DOM, no state: unit tested in
 * auth.test.ts.
 */

export type SessionStatus = 'unknown' | 'authenticated' | 'anonymous';

export interface GuardMeta {
  /** Needs a signed-in user. */
  auth?: boolean;
  /** Only for signed-out users (the login page): signed-in users go on to ?next=. */
  guest?: boolean;
  /** Permission the user must hold (checked where the page renders: a message, not a redirect). */
  perm?: string;
}

export interface GuardTarget {
  path: string;
  search: string;
  hash: string;
  query: URLSearchParams;
  route: { meta?: GuardMeta } | null;
}

export interface GuardState {
  /** GET /setup: true while no account exists; null until known. */
  setupNeeded: boolean | null;
  status: SessionStatus;
  /** The instance requires MFA and this account has none yet (Me.mfa_setup_required). */
  mfaSetupRequired: boolean;
}

export const SETUP_PATH = '/setup';
export const LOGIN_PATH = '/login';
export const ACCOUNT_PATH = '/account';

/**
 * A `?next=` value that is safe to navigate to: an app path on this origin
 * ("/missions?x=1"), never "//evil.example", "/\\evil", "javascript:…", an
 * API path or the login/setup pages themselves. Anything else gives `fallback`.
 */
export function safeNext(next: string | null | undefined, fallback = '/'): string {
  if (!next || next.length > 2000) return fallback;
  if (!next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return fallback;
  // Control characters and backslashes have no business in an app path.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(next)) return fallback;
  let url: URL;
  try {
    url = new URL(next, 'http://local.invalid');
  } catch {
    return fallback;
  }
  if (url.origin !== 'http://local.invalid') return fallback;
  const p = url.pathname;
  if (p === LOGIN_PATH || p === SETUP_PATH || p === '/api' || p.startsWith('/api/')) return fallback;
  return p + url.search + url.hash;
}

/** The login page that brings the user back to `path` afterwards. */
export function loginPath(path: string): string {
  const next = safeNext(path, '/');
  return next === '/' ? LOGIN_PATH : `${LOGIN_PATH}?next=${encodeURIComponent(next)}`;
}

/**
 * The route guard's decision: a path to redirect to, or undefined to render
 * `to`. While the session or the setup state is still unknown nothing is
 * decided (the view shows a spinner; the guard runs again once both are known).
 */
export function authRedirect(to: GuardTarget, s: GuardState): string | undefined {
  if (s.setupNeeded === true) return to.path === SETUP_PATH ? undefined : SETUP_PATH;
  if (s.setupNeeded === null || s.status === 'unknown') return undefined;
  if (to.path === SETUP_PATH) return s.status === 'authenticated' ? '/' : LOGIN_PATH;
  const meta = to.route?.meta;
  if (!meta) return undefined;
  if (meta.guest && s.status === 'authenticated') return safeNext(to.query.get('next'));
  if (meta.auth && s.status !== 'authenticated') return loginPath(to.path + to.search + to.hash);
  if (meta.auth && s.mfaSetupRequired && to.path !== ACCOUNT_PATH) return ACCOUNT_PATH;
  return undefined;
}

/** True when `perms` holds `perm` (no permission asked: true). */
export function hasPerm(perms: readonly string[] | null | undefined, perm: string | null | undefined): boolean {
  if (!perm) return true;
  return !!perms?.includes(perm);
}

/** Keeps the items the user may see (`perm` absent or held). */
export function visibleTo<T extends { perm?: string }>(items: readonly T[], perms: readonly string[] | null | undefined): T[] {
  return items.filter((i) => hasPerm(perms, i.perm));
}

export interface PermissionInfo {
  key: string;
  description: string;
}

export interface PermissionArea {
  /** The part before the dot: "mission_test". */
  area: string;
  /** A heading for it: "Mission tests". */
  label: string;
  items: PermissionInfo[];
}

const AREA_LABELS: Record<string, string> = {
  audit: 'Audit',
  bundle: 'Bundles',
  diag: 'Diagnostics',
  evidence: 'Evidence',
  group: 'Groups',
  invitation: 'Invitations',
  mission: 'Missions',
  mission_test: 'Mission tests',
  mitre: 'ATT&CK catalogue',
  scenario_template: 'Scenario templates',
  settings: 'Settings',
  test_template: 'Test templates',
  user: 'Users',
};

/** "scenario_template" → "Scenario templates" (a known label, else a readable form of the key). */
export function areaLabel(area: string): string {
  if (AREA_LABELS[area]) return AREA_LABELS[area];
  const words = area.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/**
 * Groups the permission catalogue by area (the prefix before the dot), areas
 * in alphabetical order of their label, permissions in catalogue order.
 */
export function groupPermissions(perms: readonly PermissionInfo[]): PermissionArea[] {
  const byArea = new Map<string, PermissionInfo[]>();
  for (const p of perms) {
    const dot = p.key.indexOf('.');
    const area = dot > 0 ? p.key.slice(0, dot) : p.key;
    let list = byArea.get(area);
    if (!list) byArea.set(area, (list = []));
    list.push(p);
  }
  return [...byArea.entries()]
    .map(([area, items]) => ({ area, label: areaLabel(area), items }))
    .sort((a, b) => a.label.localeCompare(b.label));
}

/** True when two permission lists hold the same keys (order and duplicates ignored). */
export function samePermissions(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  const sb = new Set(b);
  if (sa.size !== sb.size) return false;
  for (const k of sa) if (!sb.has(k)) return false;
  return true;
}

/** Up to two initials for an avatar: "Ana Analyst" → "AA", "ana@x.org" → "A". */
export function initials(name: string | null | undefined, email?: string | null): string {
  const words = (name ?? '').trim().split(/\s+/).filter(Boolean);
  if (words.length >= 2) return (first(words[0]) + first(words[words.length - 1])).toUpperCase();
  if (words.length === 1) return first(words[0]).toUpperCase();
  return first((email ?? '').trim()).toUpperCase() || '?';
}

function first(s: string): string {
  return Array.from(s)[0] ?? '';
}
