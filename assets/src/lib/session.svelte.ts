/**
 * The signed-in session.
 *
 * - The access token lives in memory only (api.setAccessToken); a reload
 *   gets a new one from POST /auth/refresh with the HttpOnly refresh cookie
 *   (restore()). The refresh token itself is never read or stored here.
 * - Every 401 from the API tries one refresh (concurrent 401s share it) and
 *   retries the request once; when that fails the session is anonymous and
 *   the route guard sends the user to /login?next=….
 * - Before the access token expires it is refreshed silently
 *   (refreshDelayMs), and again when the tab becomes visible after a sleep.
 * - Refreshes are serialised across tabs with navigator.locks ("pb-refresh"):
 *   the tabs share one refresh cookie, and presenting a rotated refresh token
 *   revokes the whole session (reuse detection).
 * - Signing out in one tab signs out the others (BroadcastChannel); signing
 *   in makes the others pick the session up.
 * - onChange() listeners run synchronously on every change of status or
 *   user, so the router can redirect in the same tick (no flash of a page
 *   the user may not see).
 */
import { api, ApiError } from './api';
import { withLock } from './locks';

export interface GroupRef {
  id: string;
  name: string;
}

export interface SessionUser {
  id: string;
  email: string;
  name: string;
  permissions?: string[];
  groups?: GroupRef[];
  mfa_enabled?: boolean;
  created_at?: string;
  last_login_at?: string | null;
  /** The instance requires MFA and this account must enrol first. */
  mfa_setup_required?: boolean;
}

export interface SessionResponse {
  access_token: string;
  token_type: string;
  expires_in: number; // seconds
  refresh_token?: string; // also set as the cookie; never stored by the SPA
  user: SessionUser;
}

export type SessionStatus = 'unknown' | 'authenticated' | 'anonymous';

/** The Web Locks name that serialises refreshes across tabs. */
export const REFRESH_LOCK = 'pb-refresh';
const CHANNEL = 'pb-session';

/** Refresh at most this long before the access token expires. */
const EARLY_MS = 60_000;
/** After a network failure, try the refresh again this much later. */
const RETRY_MS = 30_000;
/** A refresh that takes longer than this is given up (the lock must not be held forever). */
const REFRESH_TIMEOUT_MS = 20_000;

/**
 * When to refresh an access token that expires in `expiresIn` seconds: a
 * minute early, or a quarter of its lifetime early for short-lived tokens;
 * never sooner than one second. null for a token without a usable lifetime.
 */
export function refreshDelayMs(expiresIn: number): number | null {
  if (!Number.isFinite(expiresIn) || expiresIn <= 0) return null;
  const life = expiresIn * 1000;
  return Math.max(1_000, life - Math.min(EARLY_MS, life / 4));
}

type Listener = () => void;

export class Session {
  user = $state<SessionUser | null>(null);
  /** 'unknown' until the first refresh attempt has answered. */
  status = $state<SessionStatus>('unknown');

  #refreshing: Promise<boolean> | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #refreshAt = 0; // epoch ms when the next silent refresh is due (0: none)
  #listeners = new Set<Listener>();
  #channel: BroadcastChannel | null = null;
  #installed = false;

  get authenticated() {
    return this.status === 'authenticated';
  }

  /** True when the signed-in user holds the permission. */
  can(perm: string): boolean {
    return !!this.user?.permissions?.includes(perm);
  }

  /** Runs `fn` after every change of status or user; returns the unsubscribe function. */
  onChange(fn: Listener): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  #changed() {
    for (const fn of [...this.#listeners]) fn();
  }

  /** Installs the 401 hook on the API client and the cross-tab hooks. Call once at start. */
  install() {
    api.setUnauthorizedHandler(async (err: ApiError) => {
      // Known to be signed out: no point asking again (the login screen calls adopt()).
      if (err.status !== 401 || this.status === 'anonymous') return false;
      return this.refresh();
    });
    if (this.#installed || typeof window === 'undefined') return;
    this.#installed = true;
    if (typeof BroadcastChannel === 'function') {
      this.#channel = new BroadcastChannel(CHANNEL);
      this.#channel.onmessage = (ev: MessageEvent) => this.#onMessage(ev.data);
    }
    // Timers do not run while a laptop sleeps: catch up when the tab is seen again.
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.#catchUp();
    });
    window.addEventListener('online', () => this.#catchUp());
  }

  #catchUp() {
    if (this.status === 'authenticated' && this.#refreshAt > 0 && Date.now() >= this.#refreshAt) void this.refresh();
  }

  #onMessage(data: unknown) {
    const type = (data as { type?: unknown } | null)?.type;
    if (type === 'logout' && this.status !== 'anonymous') {
      this.clear();
    } else if (type === 'login' && this.status === 'anonymous') {
      void this.refresh();
    }
  }

  #broadcast(type: 'login' | 'logout') {
    try {
      this.#channel?.postMessage({ type });
    } catch {
      /* a closed channel: the other tabs find out at their next refresh */
    }
  }

  /** Adopts a session answer (from login, setup, invitation accept, MFA step or refresh). */
  adopt(s: SessionResponse, opts: { announce?: boolean } = {}) {
    api.setAccessToken(s.access_token);
    this.user = s.user;
    this.status = 'authenticated';
    this.#schedule(s.expires_in);
    if (opts.announce) this.#broadcast('login');
    this.#changed();
  }

  /** Replaces the user (after a profile change or GET /auth/me). */
  setUser(user: SessionUser) {
    this.user = user;
    this.#changed();
  }

  /** Reloads the user with their current permissions (GET /auth/me). */
  async reloadUser(): Promise<SessionUser | null> {
    if (this.status !== 'authenticated') return null;
    const me = await api.get<SessionUser>('/auth/me');
    this.setUser(me);
    return me;
  }

  /** At start: a session from the refresh cookie, if there is one. */
  restore(): Promise<boolean> {
    return this.refresh();
  }

  /**
   * Gets a new access token with the refresh cookie. Concurrent callers share
   * one request, and tabs take turns (REFRESH_LOCK): a refresh token is
   * single-use, and a second use would revoke the whole session.
   */
  refresh(): Promise<boolean> {
    if (!this.#refreshing) {
      const p: Promise<boolean> = withLock(REFRESH_LOCK, () => this.#doRefresh()).finally(() => {
        if (this.#refreshing === p) this.#refreshing = null;
      });
      this.#refreshing = p;
    }
    return this.#refreshing;
  }

  async #doRefresh(): Promise<boolean> {
    try {
      const signal = typeof AbortSignal.timeout === 'function' ? AbortSignal.timeout(REFRESH_TIMEOUT_MS) : undefined;
      const s = await api.post<SessionResponse>('/auth/refresh', undefined, { skipAuthRetry: true, signal });
      this.adopt(s);
      return true;
    } catch (err) {
      // Only a definite "no" ends the session; a network hiccup keeps what we have.
      if (err instanceof ApiError && (err.status === 401 || err.status === 403 || err.status === 404)) {
        this.clear();
      } else if (this.status === 'unknown') {
        this.status = 'anonymous';
        this.#changed();
      } else if (this.status === 'authenticated') {
        if (this.#timer) clearTimeout(this.#timer);
        this.#timer = setTimeout(() => void this.refresh(), RETRY_MS);
        this.#refreshAt = Date.now() + RETRY_MS;
      }
      return false;
    }
  }

  /**
   * Signs out: POST /auth/logout ends the session on the server (and clears
   * the cookie), then the session is forgotten here and in the other tabs.
   * A failure other than "already signed out" is thrown and nothing changes.
   */
  async logout(): Promise<void> {
    try {
      await api.post('/auth/logout', undefined, { skipAuthRetry: true });
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) throw err;
    }
    this.#broadcast('logout');
    this.clear();
  }

  /** Forgets the session locally (the server side is ended by POST /auth/logout). */
  clear() {
    api.setAccessToken(null);
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#refreshAt = 0;
    const changed = this.status !== 'anonymous' || this.user !== null;
    this.user = null;
    this.status = 'anonymous';
    if (changed) this.#changed();
  }

  #schedule(expiresIn: number) {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#refreshAt = 0;
    const ms = refreshDelayMs(expiresIn);
    if (ms === null) return;
    this.#refreshAt = Date.now() + ms;
    this.#timer = setTimeout(() => void this.refresh(), ms);
  }
}

export const session = new Session();
