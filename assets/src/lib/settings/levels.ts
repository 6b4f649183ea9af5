/** Detection levels (GET/POST/PATCH/DELETE /detection-levels, PUT /detection-levels/order). */
import { api } from '../api';
import { FormCheck, textProblem } from '../forms';
import { LEVEL_LABELS } from '../labels';

export interface DetectionLevel {
  id: string;
  key: string;
  name: string;
  description: string;
  rank: number;
  color: string;
  counts_as_detected: boolean;
  is_system: boolean;
  in_use: number;
}

export interface LevelForm {
  key: string;
  name: string;
  description: string;
  color: string;
  counts_as_detected: boolean;
}

export const levelsApi = {
  list: () => api.get<{ items: DetectionLevel[] }>('/detection-levels').then((r) => r.items ?? []),
  create: (f: LevelForm) => api.post<DetectionLevel>('/detection-levels', f),
  update: (id: string, body: Partial<LevelForm>) => api.patch<DetectionLevel>(`/detection-levels/${encodeURIComponent(id)}`, body),
  remove: (id: string) => api.delete(`/detection-levels/${encodeURIComponent(id)}`),
  reorder: (ids: string[]) => api.put<{ items: DetectionLevel[] } | DetectionLevel[]>('/detection-levels/order', { ids }),
};

/** The order after moving the item at `from` by `delta` places (clamped); the same array when nothing moves. */
export function moveBy<T>(items: readonly T[], from: number, delta: number): T[] {
  const to = Math.max(0, Math.min(items.length - 1, from + delta));
  if (to === from || from < 0 || from >= items.length) return [...items];
  const out = [...items];
  const [x] = out.splice(from, 1);
  out.splice(to, 0, x);
  return out;
}

/** Mirrors app/levels: key a lowercase slug, name required, colour #rrggbb. */
export function checkLevel(f: LevelForm, isNew: boolean): FormCheck {
  const c = new FormCheck(LEVEL_LABELS);
  if (isNew) {
    c.add('key', textProblem(f.key, 40, true));
    if (f.key.trim() && !/^[a-z][a-z0-9]*([_-][a-z0-9]+)*$/.test(f.key.trim())) {
      c.add('key', 'must be a lowercase slug: letters a-z and digits, words joined by _ or -, starting with a letter (e.g. found_by_ir)');
    }
  }
  c.add('name', textProblem(f.name, 60, true));
  c.add('description', textProblem(f.description, 1000));
  if (!/^#[0-9a-fA-F]{6}$/.test(f.color)) c.add('color', 'must be a colour in the form #rrggbb (e.g. #4CAF50)');
  return c;
}

/** A key made from a name: "Found by IR" → "found_by_ir". */
export function slugKey(name: string): string {
  return name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^[^a-z]+/, '')
    .replace(/_+$/, '')
    .slice(0, 40);
}
