/**
 * Instance backups (backup.manage): the backups kept in <data-dir>/backups,
 * "back up now", the schedule, and downloads with progress. Restoring is a
 * console command (the server must be stopped), so the page only explains it.
 */
import { API_BASE, api, parseErrorResponse, networkError } from './api';
import { session } from './session.svelte';
import { downloadProgress, filenameFromDisposition, type DownloadProgress } from './bundles/bundles';

export interface StoredBackup {
  name: string;
  size: number;
  created_at: string;
}

export interface Schedule {
  /** Hours between scheduled backups; 0 = no scheduled backups. */
  interval_hours: number;
  /** How many stored backups are kept (the oldest go first). */
  keep: number;
}

export interface BackupList {
  items: StoredBackup[];
  schedule: Schedule;
  directory: string;
}

export const backupsApi = {
  list: () => api.get<BackupList>('/admin/backups'),
  create: () => api.post<StoredBackup>('/admin/backups'),
  remove: (name: string) => api.delete(`/admin/backups/${encodeURIComponent(name)}`),
  putSchedule: (s: Schedule) => api.put<Schedule>('/admin/backups/schedule', s),
};

/** The choices of the schedule's interval, in hours (0 = off). */
export const INTERVALS = [
  { value: 0, label: 'Off (manual backups only)' },
  { value: 6, label: 'Every 6 hours' },
  { value: 12, label: 'Every 12 hours' },
  { value: 24, label: 'Every day' },
  { value: 168, label: 'Every week' },
];

/** A schedule in words: "Every day, keeping the newest 7". Pure. */
export function describeSchedule(s: Schedule): string {
  if (s.interval_hours <= 0) return 'No scheduled backups';
  const known = INTERVALS.find((i) => i.value === s.interval_hours);
  const every = known ? known.label : `Every ${s.interval_hours} hours`;
  return `${every}, keeping the newest ${s.keep}`;
}

/** The restore commands for a backup file and a data dir. Pure. */
export function restoreCommands(file: string, dataDir: string): { sqlite: string; postgres: string } {
  const q = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'"'"'`)}'`);
  return {
    sqlite: `purplebook restore ${q(file)} --data-dir ${q(dataDir)}`,
    postgres: `purplebook restore ${q(file)} --data-dir ${q(dataDir)} --db postgres://USER@HOST/DATABASE`,
  };
}

/**
 * Downloads a backup (a stored one by name, or a fresh one when name is
 * null) with progress, and returns the file.
 */
export async function downloadBackup(
  name: string | null,
  onProgress: (p: DownloadProgress) => void,
  signal?: AbortSignal,
): Promise<{ blob: Blob; filename: string }> {
  const url = name ? `${API_BASE}/admin/backups/${encodeURIComponent(name)}` : `${API_BASE}/admin/backup`;
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
  const total = Number(res.headers.get('Content-Length') ?? 0) || 0;
  const filename = filenameFromDisposition(res.headers.get('Content-Disposition'), name ?? 'purplebook-backup.pbz');
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
