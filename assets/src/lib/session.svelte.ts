/**
 * The signed-in session, as far as the shell needs it (the login, setup and
 * profile screens come with the accounts issue).
 *
 * - The access token lives in memory only (api.setAccessToken); a reload
 *   gets a new one from POST /auth/refresh with the HttpOnly refresh cookie.
 * - Every 401 from the API tries one refresh (concurrent 401s share it) and
 *   retries the request once; when that fails the session is anonymous.
 * - Before the access token expires it is refreshed silently.
 */
import { api, ApiError } from './api';

export interface SessionUser {
  id: string;
  email: string;
  name: string;
  permissions?: string[];
  groups?: { id: string; name: string }[];
  mfa_enabled?: boolean;
}

export interface SessionResponse {
  access_token: string;
  token_type: string;
  expires_in: number; // seconds
  refresh_token?: string; // also set as the cookie; never stored by the SPA
  user: SessionUser;
}

/** Refresh this long before the access token expires. */
const EARLY_MS = 60_000;

class Session {
  user = $state<SessionUser | null>(null);
  /** 'unknown' until the first refresh attempt has answered. */
  status = $state<'unknown' | 'authenticated' | 'anonymous'>('unknown');

  #refreshing: Promise<boolean> | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;

  get authenticated() {
    return this.status === 'authenticated';
  }

  /** True when the signed-in user holds the permission. */
  can(perm: string): boolean {
    return !!this.user?.permissions?.includes(perm);
  }

  /** Installs the 401 hook on the API client. Call once at start. */
  install() {
    api.setUnauthorizedHandler(async (err: ApiError) => {
      // Known to be signed out: no point asking again (the login screen calls adopt()).
      if (err.status !== 401 || this.status === 'anonymous') return false;
      return this.refresh();
    });
  }

  /** Adopts a session answer (from login, setup, MFA verify or refresh). */
  adopt(s: SessionResponse) {
    api.setAccessToken(s.access_token);
    this.user = s.user;
    this.status = 'authenticated';
    this.#schedule(s.expires_in);
  }

  /**
   * Gets a new access token with the refresh cookie. Concurrent callers share
   * one request (a refresh token is single-use: a second parallel use would
   * revoke the whole family).
   */
  refresh(): Promise<boolean> {
    this.#refreshing ??= (async () => {
      try {
        const s = await api.post<SessionResponse>('/auth/refresh', undefined, { skipAuthRetry: true });
        this.adopt(s);
        return true;
      } catch (err) {
        // Only a definite "no" ends the session; a network hiccup keeps what we have.
        if (err instanceof ApiError && (err.status === 401 || err.status === 403 || err.status === 404)) {
          this.clear();
        } else if (this.status === 'unknown') {
          this.status = 'anonymous';
        }
        return false;
      } finally {
        this.#refreshing = null;
      }
    })();
    return this.#refreshing;
  }

  /** Forgets the session locally (the server side is ended by POST /auth/logout). */
  clear() {
    api.setAccessToken(null);
    this.user = null;
    this.status = 'anonymous';
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #schedule(expiresIn: number) {
    if (this.#timer) clearTimeout(this.#timer);
    if (!Number.isFinite(expiresIn) || expiresIn <= 0) return;
    const ms = Math.max(5_000, expiresIn * 1000 - EARLY_MS);
    this.#timer = setTimeout(() => void this.refresh(), ms);
  }
}

export const session = new Session();
