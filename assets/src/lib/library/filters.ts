/** The library table's filters and their mapping to the list endpoint's query. */
import type { QueryValue } from '../api';

export interface LibraryFilters {
  tactic: string;
  technique: string;
  platform: string;
  opsec: string;
  tag: string;
  q: string;
  deleted: boolean;
  /** Server sort key: name, created_at, updated_at, opsec_level; '-' prefix = descending. */
  sort: string;
}

/** Which page of the list (the screen's PagedList holds it). */
export interface Paging {
  page: number;
  per_page: number;
}

export const FILTER_KEYS = ['tactic', 'technique', 'platform', 'opsec', 'tag'] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];

export const FILTER_LABELS: Record<FilterKey, string> = {
  tactic: 'Tactic',
  technique: 'Technique',
  platform: 'Platform',
  opsec: 'OPSEC',
  tag: 'Tag',
};

export function emptyFilters(): LibraryFilters {
  return { tactic: '', technique: '', platform: '', opsec: '', tag: '', q: '', deleted: false, sort: 'name' };
}

/**
 * The query of GET /test-templates: empty values left out, a technique id
 * with a dot goes to `subtechnique` (the server keeps them apart), ids upper-cased.
 */
export function filtersToQuery(f: LibraryFilters, paging: Paging): Record<string, QueryValue> {
  const out: Record<string, QueryValue> = {};
  const tactic = f.tactic.trim();
  if (tactic) out.tactic = /^ta\d+$/i.test(tactic) ? tactic.toUpperCase() : tactic;
  const tech = f.technique.trim().toUpperCase();
  if (tech) {
    if (tech.includes('.')) out.subtechnique = tech;
    else out.technique = tech;
  }
  if (f.platform.trim()) out.platform = f.platform.trim();
  if (f.opsec) out.opsec = f.opsec;
  if (f.tag.trim()) out.tag = f.tag.trim();
  if (f.q.trim()) out.q = f.q.trim();
  if (f.deleted) out.deleted = true;
  if (f.sort && f.sort !== 'name') out.sort = f.sort;
  if (paging.page > 1) out.page = paging.page;
  out.per_page = paging.per_page;
  return out;
}

/** The active filter chips, in display order. */
export function activeChips(f: LibraryFilters): { key: FilterKey; label: string; value: string }[] {
  return FILTER_KEYS.filter((k) => f[k].trim() !== '').map((k) => ({ key: k, label: FILTER_LABELS[k], value: f[k].trim() }));
}

/** Table sort state ↔ server sort key. */
export function sortKey(s: { key: string; dir: 'asc' | 'desc' } | null): string {
  if (!s) return 'name';
  return (s.dir === 'desc' ? '-' : '') + s.key;
}

export function sortState(key: string): { key: string; dir: 'asc' | 'desc' } {
  return key.startsWith('-') ? { key: key.slice(1), dir: 'desc' } : { key: key || 'name', dir: 'asc' };
}

/** Splits "a, b,,c" into trimmed, de-duplicated, non-empty items. */
export function splitList(s: string): string[] {
  const out: string[] = [];
  for (const part of s.split(/[,\n]/)) {
    const v = part.trim();
    if (v && !out.includes(v)) out.push(v);
  }
  return out;
}

/**
 * The library's state in the address bar, so back/forward and reload keep
 * the filters: "?tactic=TA0002&technique=T1059&q=powershell&page=2".
 * Defaults are left out; unknown parameters are ignored.
 */
export function filtersToSearch(f: LibraryFilters, page = 1): string {
  const sp = new URLSearchParams();
  for (const k of FILTER_KEYS) if (f[k].trim()) sp.set(k, f[k].trim());
  if (f.q.trim()) sp.set('q', f.q.trim());
  if (f.deleted) sp.set('deleted', '1');
  if (f.sort && f.sort !== 'name') sp.set('sort', f.sort);
  if (page > 1) sp.set('page', String(page));
  const s = sp.toString();
  return s ? `?${s}` : '';
}

const SORT_KEYS = new Set(['name', 'created_at', 'updated_at', 'opsec_level']);

export function filtersFromSearch(search: string): { filters: LibraryFilters; page: number } {
  const sp = new URLSearchParams(search);
  const f = emptyFilters();
  for (const k of FILTER_KEYS) f[k] = sp.get(k)?.trim() ?? '';
  f.q = sp.get('q') ?? '';
  f.deleted = sp.get('deleted') === '1';
  const sort = sp.get('sort') ?? 'name';
  f.sort = SORT_KEYS.has(sort.replace(/^-/, '')) ? sort : 'name';
  const page = Number(sp.get('page'));
  return { filters: f, page: Number.isInteger(page) && page > 1 ? page : 1 };
}
