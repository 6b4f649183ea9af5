/**
 * Reordering the tests of the board (PUT /missions/{id}/tests/order takes
 * every live test id in the new order). A card is moved within its column;
 * its place in the mission's order is just before or after the card it was
 * dropped on, so the other columns keep their order.
 */
import { api } from '../api';

/** `all` with `moving` placed right before (or after) `target`; unchanged when either is missing or they are the same. */
export function placeNear(all: readonly string[], moving: string, target: string, after: boolean): string[] {
  if (moving === target || !all.includes(moving) || !all.includes(target)) return [...all];
  const rest = all.filter((id) => id !== moving);
  const at = rest.indexOf(target) + (after ? 1 : 0);
  return [...rest.slice(0, at), moving, ...rest.slice(at)];
}

/** Keyboard move within a column: the new order, or null when the card is already at that end. */
export function moveInColumn(all: readonly string[], column: readonly string[], id: string, delta: -1 | 1): string[] | null {
  const i = column.indexOf(id);
  const j = i + delta;
  if (i < 0 || j < 0 || j >= column.length) return null;
  return placeNear(all, id, column[j], delta > 0);
}

export function saveOrder(missionId: string, ids: string[]): Promise<void> {
  return api.put<void>(`/missions/${encodeURIComponent(missionId)}/tests/order`, { test_ids: ids });
}

export interface DragOptions {
  id: string;
  enabled: boolean;
  /** Drop of the dragged card `moving` on this card (`after`: on its lower half). */
  ondrop: (moving: string, target: string, after: boolean) => void;
}

const MIME = 'application/x-purplebook-test';

/**
 * Svelte action for a board card: draggable when enabled, a drop target for
 * the other cards, with a marker class on the half it would land in.
 */
export function draggableCard(node: HTMLElement, initial: DragOptions) {
  let o = initial;
  const apply = () => {
    node.draggable = o.enabled;
    node.classList.toggle('reorderable', o.enabled);
  };
  const clear = () => node.classList.remove('drop-before', 'drop-after');
  const lower = (e: DragEvent) => {
    const r = node.getBoundingClientRect();
    return e.clientY > r.top + r.height / 2;
  };
  const start = (e: DragEvent) => {
    if (!o.enabled || !e.dataTransfer) return;
    e.dataTransfer.setData(MIME, o.id);
    e.dataTransfer.effectAllowed = 'move';
    node.classList.add('dragging');
  };
  const end = () => node.classList.remove('dragging');
  const over = (e: DragEvent) => {
    if (!o.enabled || !e.dataTransfer?.types.includes(MIME)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'move';
    const after = lower(e);
    node.classList.toggle('drop-after', after);
    node.classList.toggle('drop-before', !after);
  };
  const drop = (e: DragEvent) => {
    const moving = e.dataTransfer?.getData(MIME);
    clear();
    if (!o.enabled || !moving) return;
    e.preventDefault();
    o.ondrop(moving, o.id, lower(e));
  };
  apply();
  node.addEventListener('dragstart', start);
  node.addEventListener('dragend', end);
  node.addEventListener('dragover', over);
  node.addEventListener('dragleave', clear);
  node.addEventListener('drop', drop);
  return {
    update(next: DragOptions) {
      o = next;
      apply();
    },
    destroy() {
      node.removeEventListener('dragstart', start);
      node.removeEventListener('dragend', end);
      node.removeEventListener('dragover', over);
      node.removeEventListener('dragleave', clear);
      node.removeEventListener('drop', drop);
    },
  };
}
