/**
 * Typed calls of the accounts API (app/server/auth_handlers.go,
 * admin_handlers.go, account_handlers.go; shapes from app/auth/*.go).
 * Every call throws ApiError on failure (see api.ts).
 */
import { api, type QueryValue } from './api';
import type { GroupRef, SessionResponse, SessionUser } from './session.svelte';

export type { GroupRef, SessionResponse, SessionUser };

export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  per_page: number;
}

// ---- Setup, login, invitations (public) -----------------------------------

export interface MfaChallenge {
  mfa_required: true;
  mfa_token: string;
}

export type LoginResult = SessionResponse | MfaChallenge;

export function isMfaChallenge(r: LoginResult): r is MfaChallenge {
  return (r as MfaChallenge).mfa_required === true && typeof (r as MfaChallenge).mfa_token === 'string';
}

export function setup(body: { token: string; email: string; name: string; password: string }): Promise<SessionResponse> {
  return api.post<SessionResponse>('/setup', body, { skipAuthRetry: true });
}

export function login(email: string, password: string): Promise<LoginResult> {
  return api.post<LoginResult>('/auth/login', { email, password }, { skipAuthRetry: true });
}

/** The second step: a TOTP code or a recovery code. */
export function loginMfa(mfaToken: string, code: string): Promise<SessionResponse> {
  return api.post<SessionResponse>('/auth/login', { mfa_token: mfaToken, code }, { skipAuthRetry: true });
}

/** What the acceptance page shows before the account exists (POST /invitations/lookup, public). */
export interface InvitationPreview {
  email: string;
  invited_by: string;
  groups: string[];
  expires_at: string;
}
export const lookupInvitation = (token: string) =>
  api.post<InvitationPreview>('/invitations/lookup', { token }, { skipAuthRetry: true });

export function acceptInvitation(body: { token: string; name: string; password: string }): Promise<SessionResponse> {
  return api.post<SessionResponse>('/invitations/accept', body, { skipAuthRetry: true });
}

// ---- My account -----------------------------------------------------------

export function updateMe(body: { name: string }): Promise<SessionUser> {
  return api.patch<SessionUser>('/auth/me', body);
}

export function changePassword(body: { current_password: string; new_password: string }): Promise<void> {
  return api.post<void>('/auth/password', body);
}

export interface MfaStatus {
  enabled: boolean;
  enrolled_at: string | null;
  recovery_codes_left: number;
  enrollment_pending: boolean;
  required: boolean;
}

export interface MfaEnrollment {
  secret: string;
  otpauth_uri: string;
  qr_png_data_url: string;
}

export const getMfa = () => api.get<MfaStatus>('/auth/mfa');
export const enrollMfa = () => api.post<MfaEnrollment>('/auth/mfa/enroll');
export const confirmMfa = (code: string) => api.post<{ recovery_codes: string[] }>('/auth/mfa/confirm', { code });
export const disableMfa = (password: string) => api.post<MfaStatus>('/auth/mfa/disable', { password });
export const regenerateRecoveryCodes = (password: string) =>
  api.post<{ recovery_codes: string[] }>('/auth/mfa/recovery-codes', { password });

export interface ApiToken {
  id: string;
  name: string;
  prefix: string;
  /** null: all of the owner's permissions (as they are at each use). */
  permissions: string[] | null;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
  status: 'active' | 'expired' | 'revoked';
}

export interface NewApiToken extends ApiToken {
  token: string;
}

export const listApiTokens = (q: { page?: number; per_page?: number } = {}) => api.get<Page<ApiToken>>('/api-tokens', { query: q });
export const createApiToken = (body: { name: string; expires_in_days: number | null; permissions: string[] | null }) =>
  api.post<NewApiToken>('/api-tokens', body);
export const revokeApiToken = (id: string) => api.delete(`/api-tokens/${encodeURIComponent(id)}`);

// ---- Users ----------------------------------------------------------------

export interface User {
  id: string;
  email: string;
  name: string;
  disabled: boolean;
  mfa_enabled: boolean;
  groups: GroupRef[];
  created_at: string;
  updated_at: string;
  last_login_at: string | null;
  deleted_at: string | null;
}

export interface UserDetail extends User {
  permissions: string[];
}

export interface UserQuery {
  q?: string;
  group?: string;
  disabled?: boolean;
  include_deleted?: boolean;
  sort?: string;
  page?: number;
  per_page?: number;
}

function query(q: object): Record<string, QueryValue> {
  const out: Record<string, QueryValue> = {};
  for (const [k, v] of Object.entries(q)) if (v !== '' && v !== undefined && v !== null) out[k] = v as QueryValue;
  return out;
}

export const listUsers = (q: UserQuery = {}) => api.get<Page<User>>('/users', { query: query(q) });
export const createUser = (body: { email: string; name: string; password: string; group_ids: string[] }) =>
  api.post<UserDetail>('/users', body);
export const updateUser = (id: string, body: { name?: string; email?: string; disabled?: boolean; group_ids?: string[] }) =>
  api.patch<UserDetail>(`/users/${encodeURIComponent(id)}`, body);
export const deleteUser = (id: string) => api.delete(`/users/${encodeURIComponent(id)}`);
/** Turns off two-factor authentication of another account (user.manage); its sessions end. */
export const resetUserMfa = (id: string) => api.post<void>(`/users/${encodeURIComponent(id)}/mfa/reset`);
export const setUserPassword = (id: string, password: string) =>
  api.post<void>(`/users/${encodeURIComponent(id)}/password`, { password });

// ---- Groups and permissions -----------------------------------------------

export interface Group {
  id: string;
  name: string;
  description: string;
  is_system: boolean;
  permissions: string[];
  member_count: number;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface Permission {
  key: string;
  description: string;
}

/** The seeded Admins group: it keeps every permission and cannot be narrowed. */
export const ADMINS_GROUP_ID = '00000000-0000-7000-8000-000000000001';

export const listGroups = (q: { q?: string; page?: number; per_page?: number } = {}) =>
  api.get<Page<Group>>('/groups', { query: query(q) });
export const createGroup = (body: { name: string; description: string; permissions: string[] }) => api.post<Group>('/groups', body);
export const updateGroup = (id: string, body: { name?: string; description?: string }) =>
  api.patch<Group>(`/groups/${encodeURIComponent(id)}`, body);
export const deleteGroup = (id: string) => api.delete(`/groups/${encodeURIComponent(id)}`);
export const listGroupMembers = (id: string, q: UserQuery = {}) =>
  api.get<Page<User>>(`/groups/${encodeURIComponent(id)}/members`, { query: query(q) });
export const setGroupMembers = (id: string, userIds: string[]) =>
  api.put<Group>(`/groups/${encodeURIComponent(id)}/members`, { user_ids: userIds });
export const setGroupPermissions = (id: string, permissions: string[]) =>
  api.put<Group>(`/groups/${encodeURIComponent(id)}/permissions`, { permissions });
export const listPermissions = () => api.get<Page<Permission>>('/permissions');

/** Every group (the list is paginated; instances have a handful). */
export async function allGroups(): Promise<Group[]> {
  const out: Group[] = [];
  for (let page = 1; page <= 50; page++) {
    const p = await listGroups({ page, per_page: 200 });
    out.push(...p.items);
    if (out.length >= p.total || p.items.length === 0) break;
  }
  return out;
}

// ---- Invitations ----------------------------------------------------------

export type InvitationStatus = 'pending' | 'accepted' | 'revoked' | 'expired';

export interface Invitation {
  id: string;
  email: string;
  groups: GroupRef[];
  status: InvitationStatus;
  expires_at: string;
  created_at: string;
  created_by: string | null;
  accepted_at: string | null;
  accepted_user_id: string | null;
  revoked_at: string | null;
}

export interface NewInvitation extends Invitation {
  token: string;
  /** The accept page's full link at the origin the administrator used. */
  url: string;
}

export const listInvitations = (q: { status?: string; q?: string; page?: number; per_page?: number } = {}) =>
  api.get<Page<Invitation>>('/invitations', { query: query(q) });
export const createInvitation = (body: { email: string; group_ids: string[]; expires_in_hours: number; replace?: boolean }) =>
  api.post<NewInvitation>('/invitations', body);
export const revokeInvitation = (id: string) => api.delete(`/invitations/${encodeURIComponent(id)}`);

// ---- Audit ----------------------------------------------------------------

export interface AuditEntry {
  id: string;
  at: string;
  actor_user_id: string | null;
  /** The e-mail (or "console", "anonymous") recorded at the time. */
  actor_label: string;
  /** The actor's current display name ('' for non-users). */
  actor_name?: string;
  action: string;
  object_type: string;
  object_id: string;
  details: Record<string, unknown> | null;
  ip: string;
  request_id: string;
}

export interface AuditQuery {
  action?: string;
  actor?: string;
  object_type?: string;
  object_id?: string;
  since?: string;
  until?: string;
  page?: number;
  per_page?: number;
}

export const listAudit = (q: AuditQuery = {}) =>
  api.get<Page<AuditEntry> & { users?: Record<string, import('./auditlog').UserRef> }>('/audit', { query: query(q) });

// ---- Settings -------------------------------------------------------------

export interface Setting<T = unknown> {
  key: string;
  value: T;
  is_default: boolean;
  updated_at: string | null;
  updated_by: string | null;
}

export const getSetting = <T>(key: string) => api.get<Setting<T>>(`/settings/${encodeURIComponent(key)}`);
export const putSetting = <T>(key: string, value: T) => api.put<Setting<T>>(`/settings/${encodeURIComponent(key)}`, { value });
