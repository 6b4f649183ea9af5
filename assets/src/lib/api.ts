/**
 * The client for Purplebook's JSON API under /api/v1.
 *
 * - JSON in and out; query parameters from a plain object.
 * - Every non-2xx answer becomes an ApiError built from the server's envelope
 *   {"error":{"code","message","details"},"request_id"}: `message` is meant for
 *   users, `fieldErrors` feeds inline form errors.
 * - A network failure (server stopped, connection refused) becomes an ApiError
 *   with status 0 and code "network_error" and a message that says so.
 * - Auth hooks: an access token kept in memory only (never in storage) is sent
 *   as "Authorization: Bearer …"; an unauthorized handler sees every 401 and
 *   may refresh the token and ask for one retry.
 */

export const API_BASE = '/api/v1';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface ErrorEnvelope {
  error: { code: string; message: string; details?: Record<string, unknown> | null };
  request_id?: string;
}

export class ApiError extends Error {
  override readonly name = 'ApiError';
  /** HTTP status; 0 when no answer arrived (network failure, aborted). */
  readonly status: number;
  /** Machine-readable code from the envelope ("validation_failed", "not_found", …). */
  readonly code: string;
  readonly details: Record<string, unknown>;
  readonly requestId?: string;
  /** The parsed response body, when it was JSON (some endpoints answer errors with data, e.g. 503 /diag/db). */
  readonly body: unknown;

  constructor(init: {
    status: number;
    code: string;
    message: string;
    details?: Record<string, unknown>;
    requestId?: string;
    body?: unknown;
  }) {
    super(init.message);
    this.status = init.status;
    this.code = init.code;
    this.details = init.details ?? {};
    this.requestId = init.requestId;
    this.body = init.body;
  }

  /** Per-field messages for forms: {"name": "is required"}. Non-string details are left out. */
  get fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {};
    const src =
      this.details.fields && typeof this.details.fields === 'object' && !Array.isArray(this.details.fields)
        ? (this.details.fields as Record<string, unknown>)
        : this.details;
    for (const [k, v] of Object.entries(src)) {
      if (typeof v === 'string') out[k] = v;
    }
    return out;
  }

  get isNetworkError(): boolean {
    return this.status === 0;
  }

  /** The message plus the request id, for a toast or an error panel. */
  get userMessage(): string {
    return this.requestId ? `${this.message} (request ${this.requestId})` : this.message;
  }
}

export const NETWORK_ERROR_MESSAGE =
  'Cannot reach the Purplebook server. Check that it is running and that this computer can reach it, then try again.';

const FALLBACK_MESSAGES: Record<number, string> = {
  400: 'The request was not accepted by the server.',
  401: 'You need to sign in.',
  403: 'You do not have permission to do this.',
  404: 'Not found.',
  409: 'This was changed by someone else. Reload and try again.',
  413: 'The upload is too large.',
  422: 'Some values are not valid.',
  429: 'Too many attempts. Wait a moment and try again.',
  500: 'The server had an internal error.',
  502: 'The server is not reachable through the proxy.',
  503: 'The server is temporarily unavailable.',
  504: 'The server took too long to answer.',
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Builds the ApiError for a non-2xx answer from its status and raw body text.
 * Pure, so it is unit tested on its own. Accepts the envelope, a JSON body
 * without it, or anything else (HTML from a proxy, empty body).
 */
export function parseErrorResponse(status: number, statusText: string, bodyText: string): ApiError {
  let body: unknown = undefined;
  if (bodyText.trim() !== '') {
    try {
      body = JSON.parse(bodyText);
    } catch {
      body = undefined;
    }
  }
  const fallback =
    FALLBACK_MESSAGES[status] ?? (statusText ? `${statusText} (HTTP ${status}).` : `The server answered HTTP ${status}.`);
  if (isRecord(body) && isRecord(body.error)) {
    const e = body.error;
    const code = typeof e.code === 'string' && e.code ? e.code : `http_${status}`;
    const message = typeof e.message === 'string' && e.message.trim() ? e.message : fallback;
    const details = isRecord(e.details) ? e.details : {};
    const requestId = typeof body.request_id === 'string' && body.request_id ? body.request_id : undefined;
    return new ApiError({ status, code, message, details, requestId, body });
  }
  // A JSON body that is not an envelope may still carry a useful "error" string.
  const message = isRecord(body) && typeof body.error === 'string' && body.error.trim() ? body.error : fallback;
  return new ApiError({ status, code: `http_${status}`, message, body });
}

export function networkError(cause?: unknown): ApiError {
  const e = new ApiError({ status: 0, code: 'network_error', message: NETWORK_ERROR_MESSAGE });
  if (cause !== undefined) (e as { cause?: unknown }).cause = cause;
  return e;
}

export type QueryValue = string | number | boolean | null | undefined | readonly (string | number | boolean)[];

/** Encodes a query object; null/undefined values are left out, arrays repeat the key. */
export function buildQuery(query?: Record<string, QueryValue>): string {
  if (!query) return '';
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === null || v === undefined) continue;
    if (Array.isArray(v)) for (const item of v) sp.append(k, String(item));
    else sp.append(k, String(v));
  }
  const s = sp.toString();
  return s ? `?${s}` : '';
}

export interface RequestOptions {
  query?: Record<string, QueryValue>;
  /** JSON-encoded unless it is FormData, Blob or URLSearchParams. */
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Skip the unauthorized handler (for login/refresh themselves). */
  skipAuthRetry?: boolean;
}

/**
 * Called on a 401. Return true after obtaining a fresh token to retry the
 * request once; false to let the ApiError reach the caller (for example after
 * redirecting to /login).
 */
export type UnauthorizedHandler = (err: ApiError) => Promise<boolean> | boolean;

export interface ApiClientOptions {
  baseUrl?: string;
  fetch?: typeof fetch;
}

export function createApiClient(opts: ApiClientOptions = {}) {
  const baseUrl = (opts.baseUrl ?? API_BASE).replace(/\/+$/, '');
  const doFetch: typeof fetch = (input, init) => (opts.fetch ?? globalThis.fetch)(input, init);
  let accessToken: string | null = null;
  let onUnauthorized: UnauthorizedHandler | null = null;

  async function once(method: string, path: string, o: RequestOptions): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json', ...o.headers };
    let body: BodyInit | undefined;
    if (o.body !== undefined) {
      if (o.body instanceof FormData || o.body instanceof Blob || o.body instanceof URLSearchParams) {
        body = o.body;
      } else {
        headers['Content-Type'] ??= 'application/json';
        body = JSON.stringify(o.body);
      }
    }
    if (accessToken && !('Authorization' in headers)) headers.Authorization = `Bearer ${accessToken}`;
    const url = baseUrl + (path.startsWith('/') ? path : `/${path}`) + buildQuery(o.query);
    try {
      return await doFetch(url, { method, headers, body, signal: o.signal, credentials: 'same-origin' });
    } catch (err) {
      if (err instanceof DOMException && err.name === 'AbortError') throw err;
      throw networkError(err);
    }
  }

  async function request<T>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    let res = await once(method, path, o);
    if (res.status === 401 && onUnauthorized && !o.skipAuthRetry) {
      const err = parseErrorResponse(res.status, res.statusText, await safeText(res));
      if (await onUnauthorized(err)) res = await once(method, path, o);
      else throw err;
    }
    const text = await safeText(res);
    if (!res.ok) throw parseErrorResponse(res.status, res.statusText, text);
    if (res.status === 204 || text.trim() === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError({
        status: res.status,
        code: 'bad_response',
        message: 'The server sent an answer that is not valid JSON.',
      });
    }
  }

  return {
    request,
    get: <T>(path: string, o?: Omit<RequestOptions, 'body'>) => request<T>('GET', path, o),
    post: <T>(path: string, body?: unknown, o?: RequestOptions) => request<T>('POST', path, { ...o, body }),
    put: <T>(path: string, body?: unknown, o?: RequestOptions) => request<T>('PUT', path, { ...o, body }),
    patch: <T>(path: string, body?: unknown, o?: RequestOptions) => request<T>('PATCH', path, { ...o, body }),
    delete: <T = void>(path: string, o?: RequestOptions) => request<T>('DELETE', path, o),
    /** Keeps the access token in memory only; null clears it. */
    setAccessToken(token: string | null) {
      accessToken = token;
    },
    getAccessToken(): string | null {
      return accessToken;
    },
    setUnauthorizedHandler(handler: UnauthorizedHandler | null) {
      onUnauthorized = handler;
    },
  };
}

async function safeText(res: Response): Promise<string> {
  try {
    return await res.text();
  } catch {
    return '';
  }
}

export type ApiClient = ReturnType<typeof createApiClient>;

/** The app-wide client. */
export const api = createApiClient();

/** A failure of any kind as a message for users. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error && err.message) return err.message;
  return 'Something went wrong.';
}

// ---- Typed endpoints used by the shell ------------------------------------

export interface Health {
  status: string;
  version: string;
}

export interface DbStatus {
  reachable: boolean;
  driver?: string;
  migration_version?: number;
  latest_version?: number;
  dirty?: boolean;
  table_count?: number;
  error?: string;
}

export function getHealth(signal?: AbortSignal): Promise<Health> {
  return api.get<Health>('/health', { signal });
}

/**
 * GET /diag/db. A 503 still carries a status body ({"reachable":false,…}):
 * it is returned as data, not thrown, so the card can show the outage.
 */
export async function getDbStatus(signal?: AbortSignal): Promise<DbStatus> {
  try {
    return await api.get<DbStatus>('/diag/db', { signal });
  } catch (err) {
    if (err instanceof ApiError && err.status === 503) {
      const b = isRecord(err.body) ? err.body : {};
      const detail =
        typeof b.error === 'string' ? b.error : isRecord(b.error) && typeof b.error.message === 'string' ? b.error.message : err.message;
      return { ...(b as Partial<DbStatus>), reachable: false, error: detail };
    }
    throw err;
  }
}
