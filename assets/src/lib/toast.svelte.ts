/**
 * Toast notifications: toast.success("Saved"), toast.error(err) …
 * Rendered by <ToastRegion/> (mounted once in the layout) in aria-live regions.
 */
import { errorMessage } from './api';

export type ToastKind = 'info' | 'success' | 'warning' | 'error';

export interface Toast {
  id: number;
  kind: ToastKind;
  title?: string;
  message: string;
  /** ms until it closes by itself; 0 keeps it until dismissed. */
  timeout: number;
}

const DEFAULT_TIMEOUT: Record<ToastKind, number> = { info: 5000, success: 4000, warning: 8000, error: 0 };

class Toasts {
  items = $state<Toast[]>([]);
  #next = 1;
  #timers = new Map<number, ReturnType<typeof setTimeout>>();

  show(kind: ToastKind, message: string, opts: { title?: string; timeout?: number } = {}): number {
    const id = this.#next++;
    const timeout = opts.timeout ?? DEFAULT_TIMEOUT[kind];
    this.items = [...this.items, { id, kind, message, title: opts.title, timeout }].slice(-5);
    if (timeout > 0) this.#timers.set(id, setTimeout(() => this.dismiss(id), timeout));
    return id;
  }

  info(message: string, opts?: { title?: string; timeout?: number }) {
    return this.show('info', message, opts);
  }
  success(message: string, opts?: { title?: string; timeout?: number }) {
    return this.show('success', message, opts);
  }
  warning(message: string, opts?: { title?: string; timeout?: number }) {
    return this.show('warning', message, opts);
  }
  /** Accepts an ApiError (shows the server's message) or any error. */
  error(err: unknown, opts?: { title?: string; timeout?: number }) {
    return this.show('error', typeof err === 'string' ? err : errorMessage(err), opts);
  }

  dismiss(id: number) {
    const t = this.#timers.get(id);
    if (t) clearTimeout(t);
    this.#timers.delete(id);
    this.items = this.items.filter((x) => x.id !== id);
  }

  clear() {
    for (const id of [...this.#timers.keys()]) this.dismiss(id);
    this.items = [];
  }
}

export const toast = new Toasts();
