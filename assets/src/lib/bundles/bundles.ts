/**
 * Engagement bundles: types and endpoints of export, import (dry run,
 * apply), merge conflicts, trusted keys and the instance identity, plus the
 * pure helpers of those screens (unit tested in bundles.test.ts).
 */
import { API_BASE, api, parseErrorResponse, networkError } from '../api';
import { session } from '../session.svelte';

export interface SourceInfo {
  instance_id: string;
  instance_name: string;
  app_version: string;
  created_at: string;
  fingerprint: string;
  public_key: string;
  trusted: boolean;
  own: boolean;
}

export interface Tally {
  created: number;
  updated: number;
  unchanged: number;
  conflicts: number;
}

export interface Change {
  object_type: string;
  object_id: string;
  name: string;
  action: 'create' | 'update';
  fields?: string[];
}

export interface ConflictItem {
  object_type: string;
  object_id: string;
  name: string;
  field: string;
  local: unknown;
  incoming: unknown;
}

export type UserAction = 'create' | 'map' | 'skip';

export interface UserMapping {
  email: string;
  name: string;
  role?: string;
  status: 'matched' | 'unknown';
  action: UserAction;
  user_id?: string;
}

export interface ImportReport {
  import_id: string;
  kind: string;
  dry_run: boolean;
  expires_at?: string;
  source: SourceInfo;
  bundle: {
    size: number;
    entries: number;
    options: { evidence: boolean; blue: boolean };
    counts: { tests: number; outcomes: number; evidence_files: number; evidence_bytes: number; audit_events: number };
    schema_version: number;
  };
  mission: { id: string; name: string; exists: boolean; action: 'create' | 'merge' };
  objects: Record<string, Tally>;
  changed: number;
  conflicts: ConflictItem[];
  changes: Change[];
  more_changes: number;
  users: UserMapping[];
  warnings: string[];
}

/** The dry-run and apply report of a library bundle (templates, scenarios, levels, controls). */
export interface LibraryImportReport {
  import_id: string;
  kind: 'library';
  dry_run: boolean;
  expires_at?: string;
  source: SourceInfo;
  meta: { templates: number; scenarios: number; detection_levels: number; controls: number };
  templates: { created: number; updated: number; unchanged: number };
  scenarios: { created: number; updated: number; unchanged: number };
  detection_levels: { created: number; updated: number; unchanged: number };
  new_levels: string[];
  new_controls: string[];
  warnings: { kind: string; origin_id: string; name: string; message: string }[];
  /** Permissions the apply needs beyond bundle.import. */
  needs: string[];
  changed: number;
}

export interface UserChoice {
  email: string;
  action: UserAction;
  user_id?: string;
}

export interface Conflict {
  id: string;
  mission_id: string;
  object_type: string;
  object_id: string;
  object_name: string;
  field: string;
  local: unknown;
  incoming: unknown;
  peer_instance_id: string;
  peer_instance_name: string;
  created_at: string;
  updated_at: string;
  resolved_at: string | null;
  resolved_by: string | null;
  resolution: 'mine' | 'theirs' | null;
}

export interface TrustedKey {
  fingerprint: string;
  public_key: string;
  label: string;
  instance_id?: string;
  added_at: string;
  added_by: string;
}

export interface InstanceInfo {
  id: string;
  name: string;
  public_key: string;
  fingerprint: string;
}

export const bundlesApi = {
  get: (id: string) => api.get<ImportReport>(`/bundles/${encodeURIComponent(id)}`),
  apply: (id: string, body: { accept_untrusted: boolean; users: UserChoice[] }) =>
    api.post<ImportReport>(`/bundles/${encodeURIComponent(id)}/apply`, body),
  applyLibrary: (id: string, accept_untrusted: boolean) =>
    api.post<LibraryImportReport>(`/bundles/${encodeURIComponent(id)}/apply`, { accept_untrusted, users: [] }),
  discard: (id: string) => api.delete(`/bundles/${encodeURIComponent(id)}`),
  conflicts: (missionId: string) =>
    api.get<{ items: Conflict[]; open: number }>(`/missions/${encodeURIComponent(missionId)}/conflicts`),
  resolve: (missionId: string, conflictId: string, choice: 'mine' | 'theirs') =>
    api.post<Conflict>(`/missions/${encodeURIComponent(missionId)}/conflicts/${encodeURIComponent(conflictId)}/resolve`, { choice }),
  trustedKeys: () => api.get<{ items: TrustedKey[] }>('/trusted-keys'),
  trust: (public_key: string, label: string, instance_id?: string) =>
    api.post<TrustedKey>('/trusted-keys', { public_key, label, instance_id: instance_id ?? '' }),
  untrust: (fingerprint: string) => api.delete('/trusted-keys', { query: { fingerprint } }),
  instance: () => api.get<InstanceInfo>('/instance'),
  renameInstance: (name: string) => api.patch<InstanceInfo>('/instance', { name }),
};

/** "1.5 MB", "320 kB", "12 bytes". */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '—';
  if (n < 1000) return `${n} bytes`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

/**
 * The file name of a Content-Disposition header: the RFC 5987 filename*
 * when present, else filename="…", else the fallback.
 */
export function filenameFromDisposition(header: string | null, fallback: string): string {
  if (!header) return fallback;
  const star = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(header);
  if (star) {
    try {
      return decodeURIComponent(star[1].trim());
    } catch {
      /* fall through */
    }
  }
  const plain = /filename\s*=\s*"([^"]*)"/i.exec(header) ?? /filename\s*=\s*([^;]+)/i.exec(header);
  return plain ? plain[1].trim() : fallback;
}

/** A conflict value as text: strings as they are, null as "(empty)", the rest as JSON. */
export function describeValue(v: unknown, field = ''): string {
  if (field === 'deleted') return v === null || v === undefined ? 'not deleted' : `deleted ${String(v)}`;
  if (v === null || v === undefined || v === '') return '(empty)';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v, null, 2);
}

/** A field name for people: "red_notes" → "red notes", "outcome:EDR" → "outcome (EDR)". */
export function fieldLabel(field: string): string {
  if (field.startsWith('outcome:')) return `outcome (${field.slice('outcome:'.length)})`;
  if (field === 'timing') return 'start and finish';
  if (field === 'state') return 'state and skip reason';
  return field.replaceAll('_', ' ');
}

const OBJECT_LABELS: Record<string, string> = {
  mission: 'Mission',
  mission_category: 'Category',
  mission_scenario: 'Scenario',
  mission_test: 'Test',
  evidence_file: 'Evidence',
};

export function objectLabel(type: string): string {
  return OBJECT_LABELS[type] ?? type;
}

/** The user decisions to send with an apply: one per unknown user. */
export function userChoices(users: UserMapping[], picks: Record<string, { action: UserAction; user_id?: string }>): UserChoice[] {
  return users
    .filter((u) => u.status === 'unknown')
    .map((u) => {
      const p = picks[u.email] ?? { action: u.action };
      return p.action === 'map' ? { email: u.email, action: 'map', user_id: p.user_id ?? '' } : { email: u.email, action: p.action };
    });
}

/** Whether the picks can be applied: every mapped user has a target. */
export function choicesComplete(choices: UserChoice[]): boolean {
  return choices.every((c) => c.action !== 'map' || !!c.user_id);
}

export interface DownloadProgress {
  loaded: number;
  /** Estimated size; 0 when unknown. */
  total: number;
  /** 0…1 (never 1 before the end: the size is an estimate), or null. */
  fraction: number | null;
}

/** The progress of a download of `loaded` bytes of an estimated `total`. Pure. */
export function downloadProgress(loaded: number, total: number): DownloadProgress {
  return { loaded, total, fraction: total > 0 ? Math.min(0.99, loaded / total) : null };
}

/**
 * Downloads a mission bundle with progress (fetch streaming: the server
 * sends an X-Bundle-Estimated-Size header) and returns the file.
 */
export async function downloadBundle(
  missionId: string,
  opts: { evidence: boolean; blue: boolean },
  onProgress: (p: DownloadProgress) => void,
  signal?: AbortSignal,
): Promise<{ blob: Blob; filename: string }> {
  const url = `${API_BASE}/missions/${encodeURIComponent(missionId)}/bundle?evidence=${opts.evidence}&blue=${opts.blue}`;
  const send = async () => {
    const token = api.getAccessToken();
    try {
      return await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {}, signal, credentials: 'same-origin' });
    } catch (err) {
      if (err instanceof DOMException && err.name === 'AbortError') throw err;
      throw networkError(err);
    }
  };
  let res = await send();
  if (res.status === 401 && (await session.refresh())) res = await send();
  if (!res.ok) throw parseErrorResponse(res.status, res.statusText, await res.text().catch(() => ''));
  const total = Number(res.headers.get('X-Bundle-Estimated-Size') ?? 0) || 0;
  const filename = filenameFromDisposition(res.headers.get('Content-Disposition'), 'mission.pbz');
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  if (res.body) {
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      loaded += value.byteLength;
      onProgress(downloadProgress(loaded, total));
    }
  }
  onProgress({ loaded, total: loaded, fraction: 1 });
  return { blob: new Blob(chunks as BlobPart[], { type: 'application/vnd.purplebook.bundle+zip' }), filename };
}

/** Hands a Blob to the browser as a file download. */
export function saveBlob(blob: Blob, filename: string) {
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
}

/** Downloads the library bundle (templates, scenarios, detection levels, security controls). */
export async function downloadLibraryBundle(signal?: AbortSignal): Promise<{ blob: Blob; filename: string }> {
  const url = `${API_BASE}/library/bundle`;
  const send = async () => {
    const token = api.getAccessToken();
    try {
      return await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {}, signal, credentials: 'same-origin' });
    } catch (err) {
      if (err instanceof DOMException && err.name === 'AbortError') throw err;
      throw networkError(err);
    }
  };
  let res = await send();
  if (res.status === 401 && (await session.refresh())) res = await send();
  if (!res.ok) throw parseErrorResponse(res.status, res.statusText, await res.text().catch(() => ''));
  const filename = filenameFromDisposition(res.headers.get('Content-Disposition'), 'purplebook-library.pbz');
  return { blob: new Blob([await res.arrayBuffer()], { type: 'application/vnd.purplebook.bundle+zip' }), filename };
}
