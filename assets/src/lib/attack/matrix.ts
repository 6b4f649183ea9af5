/**
 * The ATT&CK matrix from API data, and the search over it. Pure functions,
 * unit tested in matrix.test.ts.
 *
 * - Columns are the tactics in matrix order (position, then id); a technique
 *   sits in the column of every tactic it belongs to. Techniques whose tactics
 *   are not among the columns (e.g. a revoked technique of a tactic that is
 *   hidden) go to a last "Other" column.
 * - Within a column: active entries first, then by name, then by id.
 * - Search mirrors the server (app/mitre/query.go): case-insensitive
 *   (Unicode case folding) substring match on "<external id> <name>"; a
 *   technique matches when it or one of its (listed) subtechniques does.
 */
import type { CatalogueState, SubRef, Tactic, Technique } from './types';

/** Case folding close to Go's cases.Fold: "ß" → "ss", "Σ/ς" → "σ", "İ" → "i̇". */
export function foldText(s: string): string {
  return s.toUpperCase().toLowerCase();
}

/** A search query as compared: trimmed and folded ("" = no search). */
export function foldQuery(q: string): string {
  return foldText(q.trim());
}

export interface MatrixColumn {
  /** Stable key: the tactic's external id, or OTHER_COLUMN. */
  key: string;
  /** null for the "Other" column. */
  tactic: Tactic | null;
  cells: Technique[];
}

export const OTHER_COLUMN = '_other';

const collator = new Intl.Collator('en', { sensitivity: 'base', numeric: true });

const inactive = (s: CatalogueState) => (s === 'active' ? 0 : 1);

export function compareTechniques(a: Technique, b: Technique): number {
  return inactive(a.state) - inactive(b.state) || collator.compare(a.name, b.name) || collator.compare(a.external_id, b.external_id);
}

export function buildMatrix(tactics: readonly Tactic[], techniques: readonly Technique[]): MatrixColumn[] {
  const ordered = [...tactics].sort((a, b) => a.position - b.position || collator.compare(a.external_id, b.external_id));
  const columns: MatrixColumn[] = ordered.map((t) => ({ key: t.external_id, tactic: t, cells: [] }));
  const byKey = new Map<string, MatrixColumn>();
  for (const col of columns) {
    byKey.set(foldText(col.tactic!.external_id), col);
    if (col.tactic!.shortname) byKey.set(foldText(col.tactic!.shortname), col);
  }
  const other: MatrixColumn = { key: OTHER_COLUMN, tactic: null, cells: [] };
  for (const tech of techniques) {
    if (tech.kind === 'subtechnique') continue;
    const targets = new Set<MatrixColumn>();
    for (const ref of tech.tactics ?? []) {
      const col = byKey.get(foldText(ref.external_id)) ?? byKey.get(foldText(ref.shortname));
      if (col) targets.add(col);
    }
    if (targets.size === 0) targets.add(other);
    for (const col of targets) if (!col.cells.some((c) => c.id === tech.id)) col.cells.push(tech);
  }
  for (const col of columns) col.cells.sort(compareTechniques);
  other.cells.sort(compareTechniques);
  return other.cells.length ? [...columns, other] : columns;
}

export interface TechniqueMatch {
  /** The technique's own id or name matches. */
  self: boolean;
  /** Ids (row ids) of its matching subtechniques. */
  subs: Set<string>;
}

export interface SearchResult {
  query: string;
  /** Matching techniques by row id. */
  techniques: Map<string, TechniqueMatch>;
  /** Matching techniques plus matching subtechniques. */
  count: number;
}

function matchesText(externalId: string, name: string, fq: string): boolean {
  return foldText(`${externalId} ${name}`).includes(fq);
}

/** The matches of q over the loaded techniques; null when q is blank (nothing is dimmed). */
export function searchTechniques(techniques: readonly Technique[], q: string): SearchResult | null {
  const fq = foldQuery(q);
  if (!fq) return null;
  const out = new Map<string, TechniqueMatch>();
  let count = 0;
  for (const t of techniques) {
    const self = matchesText(t.external_id, t.name, fq);
    const subs = new Set<string>();
    for (const s of t.subtechniques ?? []) if (matchesText(s.external_id, s.name, fq)) subs.add(s.id);
    if (self || subs.size) {
      out.set(t.id, { self, subs });
      count += (self ? 1 : 0) + subs.size;
    }
  }
  return { query: fq, techniques: out, count };
}

export interface SearchEntry {
  kind: 'technique' | 'subtechnique';
  id: string;
  external_id: string;
  name: string;
  state: CatalogueState;
}

/** The matches as a flat list for the result chips: techniques and subtechniques by id (T1059, T1059.001, …). */
export function searchEntries(techniques: readonly Technique[], res: SearchResult | null): SearchEntry[] {
  if (!res) return [];
  const out: SearchEntry[] = [];
  for (const t of techniques) {
    const m = res.techniques.get(t.id);
    if (!m) continue;
    if (m.self) out.push({ kind: 'technique', id: t.id, external_id: t.external_id, name: t.name, state: t.state });
    for (const s of t.subtechniques ?? [])
      if (m.subs.has(s.id)) out.push({ kind: 'subtechnique', id: s.id, external_id: s.external_id, name: s.name, state: s.state });
  }
  return out.sort((a, b) => collator.compare(a.external_id, b.external_id));
}

export interface TextPart {
  text: string;
  match: boolean;
}

/**
 * Splits `text` around the occurrences of the (folded) query, to mark them.
 * When folding changes the text's length (e.g. "ß"), positions cannot be
 * mapped back and the text is returned unmarked.
 */
export function highlightParts(text: string, fq: string): TextPart[] {
  if (!fq) return [{ text, match: false }];
  const folded = foldText(text);
  if (folded.length !== text.length) return [{ text, match: false }];
  const parts: TextPart[] = [];
  let at = 0;
  for (let i = folded.indexOf(fq); i !== -1; i = folded.indexOf(fq, i + fq.length)) {
    if (i > at) parts.push({ text: text.slice(at, i), match: false });
    parts.push({ text: text.slice(i, i + fq.length), match: true });
    at = i + fq.length;
  }
  if (at < text.length) parts.push({ text: text.slice(at), match: false });
  return parts.length ? parts : [{ text, match: false }];
}

export const STATE_LABELS: Record<CatalogueState, string> = {
  active: 'Active',
  revoked: 'Revoked',
  deprecated: 'Deprecated',
  removed: 'Removed',
};

export function stateTone(state: CatalogueState): 'success' | 'danger' | 'warning' | 'neutral' {
  return state === 'active' ? 'success' : state === 'revoked' ? 'danger' : state === 'deprecated' ? 'warning' : 'neutral';
}

/** Visible subtechniques of a cell (the API already leaves out inactive ones unless include_deprecated). */
export function subsOf(t: Technique): SubRef[] {
  return t.subtechniques ?? [];
}
