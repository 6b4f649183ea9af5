/** Pure list helpers of the scenario builder (drag-and-drop and keyboard ordering). */

/** A copy of `list` with the item at `from` moved to index `to` (clamped). */
export function move<T>(list: readonly T[], from: number, to: number): T[] {
  const out = [...list];
  if (from < 0 || from >= out.length) return out;
  const dest = Math.max(0, Math.min(out.length - 1, to));
  if (dest === from) return out;
  const [item] = out.splice(from, 1);
  out.splice(dest, 0, item);
  return out;
}

/** A copy of `list` with `item` inserted before index `at` (clamped; ≥ length appends). */
export function insertAt<T>(list: readonly T[], item: T, at: number): T[] {
  const out = [...list];
  out.splice(Math.max(0, Math.min(out.length, at)), 0, item);
  return out;
}

export function removeAt<T>(list: readonly T[], index: number): T[] {
  if (index < 0 || index >= list.length) return [...list];
  return [...list.slice(0, index), ...list.slice(index + 1)];
}

/**
 * Where a dragged entry lands when dropped on the slot before `target`
 * (target = list.length: the end). Moving down past itself shifts by one.
 */
export function dropIndex(from: number, target: number): number {
  return from < target ? target - 1 : target;
}

/** Keyboard: Alt+ArrowUp/Down (and Home/End with Alt) → the new index, or null for other keys. */
export function keyboardTarget(key: string, altKey: boolean, index: number, length: number): number | null {
  if (!altKey) return null;
  switch (key) {
    case 'ArrowUp':
      return index > 0 ? index - 1 : null;
    case 'ArrowDown':
      return index < length - 1 ? index + 1 : null;
    case 'Home':
      return index > 0 ? 0 : null;
    case 'End':
      return index < length - 1 ? length - 1 : null;
    default:
      return null;
  }
}

/** Order of tactics in the Enterprise matrix (kill-chain order), for the coverage strip. */
export const TACTIC_ORDER = [
  'TA0043', 'TA0042', 'TA0001', 'TA0002', 'TA0003', 'TA0004', 'TA0005', 'TA0006',
  'TA0007', 'TA0008', 'TA0009', 'TA0011', 'TA0010', 'TA0040',
];

/** Sorts coverage items by matrix order (unknown ids last, by id). */
export function byMatrixOrder<T extends { external_id: string }>(items: readonly T[], order: readonly string[] = TACTIC_ORDER): T[] {
  const rank = (id: string) => {
    const i = order.indexOf(id);
    return i < 0 ? order.length : i;
  };
  return [...items].sort((a, b) => rank(a.external_id) - rank(b.external_id) || a.external_id.localeCompare(b.external_id));
}
