/** The template library endpoints (/api/v1/test-templates, /scenario-templates, imports). */
import { api } from '../api';
import { upload, type UploadProgress } from '../upload';
import type { AtomicReport, Page, Scenario, TemplateInput, TestTemplate } from './types';
import type { LibraryFilters, Paging } from './filters';
import { filtersToQuery } from './filters';

export const libraryApi = {
  list(f: LibraryFilters, paging: Paging, signal?: AbortSignal): Promise<Page<TestTemplate>> {
    return api.get<Page<TestTemplate>>('/test-templates', { query: filtersToQuery(f, paging), signal });
  },
  get(id: string): Promise<TestTemplate> {
    return api.get<TestTemplate>(`/test-templates/${encodeURIComponent(id)}`);
  },
  create(input: TemplateInput): Promise<TestTemplate> {
    return api.post<TestTemplate>('/test-templates', input);
  },
  update(id: string, patch: Partial<TemplateInput> & { version: number }): Promise<TestTemplate> {
    return api.patch<TestTemplate>(`/test-templates/${encodeURIComponent(id)}`, patch);
  },
  remove(id: string): Promise<void> {
    return api.delete(`/test-templates/${encodeURIComponent(id)}`);
  },
  restore(id: string): Promise<TestTemplate> {
    return api.post<TestTemplate>(`/test-templates/${encodeURIComponent(id)}/restore`);
  },
  scenarios(p: { q?: string; deleted?: boolean; page?: number; per_page?: number }): Promise<Page<Scenario>> {
    return api.get<Page<Scenario>>('/scenario-templates', {
      query: { q: p.q || undefined, deleted: p.deleted || undefined, page: p.page, per_page: p.per_page },
    });
  },
  scenario(id: string): Promise<Scenario> {
    return api.get<Scenario>(`/scenario-templates/${encodeURIComponent(id)}`);
  },
  createScenario(input: { name: string; description: string; test_template_ids: string[] }): Promise<Scenario> {
    return api.post<Scenario>('/scenario-templates', input);
  },
  updateScenario(id: string, patch: { name?: string; description?: string; version: number }): Promise<Scenario> {
    return api.patch<Scenario>(`/scenario-templates/${encodeURIComponent(id)}`, patch);
  },
  replaceTests(id: string, ids: string[], version: number): Promise<Scenario> {
    return api.put<Scenario>(`/scenario-templates/${encodeURIComponent(id)}/tests`, { test_template_ids: ids, version });
  },
  removeScenario(id: string): Promise<void> {
    return api.delete(`/scenario-templates/${encodeURIComponent(id)}`);
  },
  restoreScenario(id: string): Promise<Scenario> {
    return api.post<Scenario>(`/scenario-templates/${encodeURIComponent(id)}/restore`);
  },
  importAtomics(files: File[], onProgress?: (p: UploadProgress) => void): Promise<AtomicReport> {
    const fd = new FormData();
    for (const f of files) fd.append('file', f, f.name);
    return upload<AtomicReport>('/test-templates/import/atomics', fd, { onProgress });
  },
};
