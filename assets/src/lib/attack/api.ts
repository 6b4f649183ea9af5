/** The ATT&CK catalogue endpoints (GET/POST /api/v1/mitre/…). */
import { api } from '../api';
import { upload, type UploadProgress } from '../upload';
import type { MitreStatus, Page, SyncOptions, SyncResult, Tactic, Technique, TechniqueDetail } from './types';

/** The server's page size limit (db.MaxPerPage). */
export const MAX_PER_PAGE = 200;

export function getMitreStatus(signal?: AbortSignal): Promise<MitreStatus> {
  return api.get<MitreStatus>('/mitre/status', { signal });
}

/** POST /mitre/verify: marks the imported catalogue verified by a sha256 or its content digest; answers the status. */
export function verifyCatalogue(sha256: string): Promise<MitreStatus> {
  return api.post<MitreStatus>('/mitre/verify', { sha256 });
}

export async function listTactics(includeDeprecated: boolean, signal?: AbortSignal): Promise<Tactic[]> {
  const res = await api.get<{ items: Tactic[]; total: number }>('/mitre/tactics', {
    query: { include_deprecated: includeDeprecated || undefined },
    signal,
  });
  return res.items ?? [];
}

export interface TechniqueQuery {
  tactic?: string;
  q?: string;
  include_deprecated?: boolean;
}

export function listTechniques(p: TechniqueQuery & { page?: number; per_page?: number }, signal?: AbortSignal): Promise<Page<Technique>> {
  return api.get<Page<Technique>>('/mitre/techniques', {
    query: {
      tactic: p.tactic || undefined,
      q: p.q || undefined,
      include_deprecated: p.include_deprecated || undefined,
      page: p.page,
      per_page: p.per_page,
    },
    signal,
  });
}

/**
 * Every technique matching the query: the first page of 200 tells the total,
 * the other pages (the full catalogue needs one or two more) load in parallel.
 */
export async function listAllTechniques(p: TechniqueQuery, signal?: AbortSignal): Promise<Technique[]> {
  const first = await listTechniques({ ...p, page: 1, per_page: MAX_PER_PAGE }, signal);
  const pages = Math.ceil(first.total / MAX_PER_PAGE);
  const rest = await Promise.all(
    Array.from({ length: Math.max(0, pages - 1) }, (_, i) => listTechniques({ ...p, page: i + 2, per_page: MAX_PER_PAGE }, signal)),
  );
  return [first, ...rest].flatMap((pg) => pg.items ?? []);
}

export function getTechnique(externalId: string, signal?: AbortSignal): Promise<TechniqueDetail> {
  return api.get<TechniqueDetail>(`/mitre/techniques/${encodeURIComponent(externalId)}`, { signal });
}

/**
 * The multipart body of an upload sync. The server reads the parts in order
 * and streams the file straight into the importer, so the option fields must
 * come before the "file" part (fields after it are not seen).
 */
export function syncFormData(file: Blob & { name?: string }, o: SyncOptions): FormData {
  const fd = new FormData();
  if (o.allow_unverified) fd.append('allow_unverified', 'true');
  const sha = o.expected_sha256?.trim();
  if (sha) fd.append('expected_sha256', sha);
  const version = o.version?.trim();
  if (version) fd.append('version', version);
  fd.append('file', file, file.name || 'bundle.json');
  return fd;
}

/** POST /mitre/sync with an uploaded bundle, reporting upload progress. */
export function syncUpload(
  file: Blob & { name?: string },
  o: SyncOptions,
  opts: { onProgress?: (p: UploadProgress) => void; signal?: AbortSignal } = {},
): Promise<SyncResult> {
  return upload<SyncResult>('/mitre/sync', syncFormData(file, o), opts);
}

/** POST /mitre/sync with JSON: no source = the compiled-in pinned release (needs network on the server). */
export function syncPinned(o: SyncOptions & { source?: string } = {}, signal?: AbortSignal): Promise<SyncResult> {
  return api.post<SyncResult>('/mitre/sync', o, { signal });
}
