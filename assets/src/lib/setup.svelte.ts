/** First-run state: GET /api/v1/setup → {needed}. While needed, every route leads to /setup. */
import { api } from './api';

type Listener = () => void;

class SetupState {
  /** null until known (or when the server could not be asked). */
  needed = $state<boolean | null>(null);
  #listeners = new Set<Listener>();

  onChange(fn: Listener): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  set(needed: boolean) {
    if (this.needed === needed) return;
    this.needed = needed;
    for (const fn of [...this.#listeners]) fn();
  }

  /**
   * Asks the server. A failure (server unreachable, an old server without
   * accounts) counts as "not needed": the app then behaves as before and the
   * footer shows the outage.
   */
  async check(): Promise<boolean> {
    try {
      const r = await api.get<{ needed: boolean }>('/setup', { skipAuthRetry: true });
      this.set(!!r.needed);
    } catch {
      this.set(false);
    }
    return this.needed === true;
  }
}

export const setupState = new SetupState();
