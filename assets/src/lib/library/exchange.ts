/**
 * Library exchange (GET /library/export, POST /library/import): move test
 * and scenario templates between Purplebook instances as one JSON document.
 */
import { api } from '../api';
import { upload, type UploadProgress } from '../upload';
import { libraryApi } from './api';
import { emptyFilters, type LibraryFilters } from './filters';

export interface LibraryReport {
  templates: { created: number; updated: number; unchanged: number };
  scenarios: { created: number; updated: number; unchanged: number };
  items: { kind: string; origin_id: string; id: string; name: string; outcome: string }[] | null;
  warnings: { kind: string; origin_id: string; name: string; message: string }[] | null;
  duration_ms: number;
}

/** Every id of a paged list (pages of 200, at most `max`). */
export async function collectIds(page: (p: number) => Promise<{ items: { id: string }[] | null; total: number }>, max = 10_000): Promise<string[]> {
  const out: string[] = [];
  for (let p = 1; p <= Math.ceil(max / 200); p++) {
    const res = await page(p);
    const items = res.items ?? [];
    out.push(...items.map((i) => i.id));
    if (items.length === 0 || out.length >= res.total) break;
  }
  return out.slice(0, max);
}

/** The file name of an export made at `at` ("purplebook-library-20260102-1504.json"). */
export function exportFileName(at: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `purplebook-library-${at.getUTCFullYear()}${p(at.getUTCMonth() + 1)}${p(at.getUTCDate())}-${p(at.getUTCHours())}${p(at.getUTCMinutes())}.json`;
}

export const exchangeApi = {
  /** The ids of the live templates matching the filters (paging and sort ignored). */
  templateIds(f: LibraryFilters): Promise<string[]> {
    const filters = { ...emptyFilters(), ...f, deleted: false, sort: 'name' };
    return collectIds((page) => libraryApi.list(filters, { page, per_page: 200 }), 10_000);
  },
  scenarioIds(): Promise<string[]> {
    return collectIds((page) => libraryApi.scenarios({ page, per_page: 200 }), 1_000);
  },
  exportDoc(templateIds: string[], scenarioIds: string[]): Promise<unknown> {
    return api.get<unknown>('/library/export', {
      query: { template_ids: templateIds.join(',') || undefined, scenario_ids: scenarioIds.join(',') || undefined },
    });
  },
  importDoc(file: File, onProgress?: (p: UploadProgress) => void): Promise<LibraryReport> {
    const fd = new FormData();
    fd.append('file', file, file.name);
    return upload<LibraryReport>('/library/import', fd, { onProgress });
  },
};

/** Saves a JSON value as a download. */
export function downloadJSON(doc: unknown, name: string): void {
  const url = URL.createObjectURL(new Blob([JSON.stringify(doc, null, 2)], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
