/**
 * Cross-tab mutual exclusion with the Web Locks API: the token refresh runs
 * under the "pb-refresh" lock, so two tabs never present the same refresh
 * token (a second use revokes the whole session: reuse detection).
 *
 * navigator.locks exists only in secure contexts (https, or http://localhost
 * and 127.0.0.1). Elsewhere — a team server reached over plain http — the
 * function still runs, just without the cross-tab lock; refreshes within one
 * tab are serialised by the session anyway.
 */

export interface LockManagerLike {
  request<T>(name: string, options: { mode?: 'exclusive' | 'shared' }, callback: () => Promise<T>): Promise<T>;
}

export function lockManager(): LockManagerLike | null {
  const nav = (globalThis as { navigator?: { locks?: unknown } }).navigator;
  const locks = nav?.locks as Partial<LockManagerLike> | undefined;
  return locks && typeof locks.request === 'function' ? (locks as LockManagerLike) : null;
}

/** Runs `fn` holding the named exclusive lock (or without one when the browser has none). */
export async function withLock<T>(name: string, fn: () => Promise<T>, locks: LockManagerLike | null = lockManager()): Promise<T> {
  if (!locks) return fn();
  let ran = false;
  try {
    return await locks.request(name, { mode: 'exclusive' }, () => {
      ran = true;
      return fn();
    });
  } catch (err) {
    // A lock manager that fails before running us (e.g. a sandboxed frame) must not break sign-in.
    if (!ran) return fn();
    throw err;
  }
}
