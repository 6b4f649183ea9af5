/**
 * Uploads with progress. fetch() cannot report upload progress, so this
 * sends the request with XMLHttpRequest (upload.onprogress) and otherwise
 * behaves like the client in api.ts:
 *
 * - "Authorization: Bearer <access token>" from the app-wide client;
 * - a 401 asks for one token refresh (session.refresh) and sends once more;
 * - a non-2xx answer becomes the same ApiError (parseErrorResponse: the
 *   server's envelope message, field errors, request id);
 * - no answer at all becomes the network ApiError (status 0);
 * - an aborted upload (AbortSignal) rejects with a DOMException "AbortError".
 *
 *   const res = await upload<SyncResult>('/mitre/sync', form, { onProgress: (p) => (pct = p.fraction) });
 */
import { API_BASE, ApiError, api, networkError, parseErrorResponse } from './api';
import { session } from './session.svelte';

export interface UploadProgress {
  /** Bytes sent so far. */
  loaded: number;
  /** Bytes to send; 0 when unknown. */
  total: number;
  /** loaded / total in 0…1, or null when the total is unknown. */
  fraction: number | null;
}

/** The part of XMLHttpRequest the helper uses (a fake in unit tests). */
export interface XhrLike {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  send(body: Document | XMLHttpRequestBodyInit | null): void;
  abort(): void;
  readonly status: number;
  readonly statusText: string;
  readonly responseText: string;
  withCredentials: boolean;
  upload: { onprogress: ((ev: ProgressEvent) => void) | null };
  onload: ((ev: ProgressEvent) => void) | null;
  onerror: ((ev: ProgressEvent) => void) | null;
  onabort: ((ev: ProgressEvent) => void) | null;
  ontimeout: ((ev: ProgressEvent) => void) | null;
}

export interface UploadOptions {
  method?: string;
  onProgress?: (p: UploadProgress) => void;
  signal?: AbortSignal;
  headers?: Record<string, string>;
  /** Default: the app-wide client's access token. */
  getToken?: () => string | null;
  /** Called on a 401; true = a fresh token was obtained, send once more. Default: session.refresh(). */
  refresh?: () => Promise<boolean>;
  /** Default: new XMLHttpRequest(). */
  createXhr?: () => XhrLike;
  baseUrl?: string;
}

/** The outcome of one finished XHR: the parsed JSON body, or the ApiError to throw. Pure. */
export function readXhrResponse<T>(status: number, statusText: string, text: string): { ok: true; value: T } | { ok: false; error: ApiError } {
  if (status === 0) return { ok: false, error: networkError() };
  if (status < 200 || status >= 300) return { ok: false, error: parseErrorResponse(status, statusText, text) };
  if (status === 204 || text.trim() === '') return { ok: true, value: undefined as T };
  try {
    return { ok: true, value: JSON.parse(text) as T };
  } catch {
    return {
      ok: false,
      error: new ApiError({ status, code: 'bad_response', message: 'The server sent an answer that is not valid JSON.' }),
    };
  }
}

function abortError(): DOMException {
  return new DOMException('The upload was cancelled.', 'AbortError');
}

function sendOnce<T>(
  url: string,
  body: XMLHttpRequestBodyInit,
  o: UploadOptions,
): Promise<{ ok: true; value: T } | { ok: false; error: ApiError }> {
  return new Promise((resolve, reject) => {
    if (o.signal?.aborted) {
      reject(abortError());
      return;
    }
    const xhr = o.createXhr ? o.createXhr() : (new XMLHttpRequest() as unknown as XhrLike);
    const onAbortSignal = () => xhr.abort();
    const done = () => o.signal?.removeEventListener('abort', onAbortSignal);
    xhr.open(o.method ?? 'POST', url);
    xhr.withCredentials = true;
    xhr.setRequestHeader('Accept', 'application/json');
    for (const [k, v] of Object.entries(o.headers ?? {})) xhr.setRequestHeader(k, v);
    const token = (o.getToken ?? (() => api.getAccessToken()))();
    if (token && !o.headers?.Authorization) xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    xhr.upload.onprogress = (ev) => {
      const total = ev.lengthComputable ? ev.total : 0;
      o.onProgress?.({ loaded: ev.loaded, total, fraction: total > 0 ? Math.min(1, ev.loaded / total) : null });
    };
    xhr.onload = () => {
      done();
      resolve(readXhrResponse<T>(xhr.status, xhr.statusText, xhr.responseText ?? ''));
    };
    xhr.onerror = xhr.ontimeout = () => {
      done();
      resolve({ ok: false, error: networkError() });
    };
    xhr.onabort = () => {
      done();
      reject(abortError());
    };
    o.signal?.addEventListener('abort', onAbortSignal, { once: true });
    xhr.send(body);
  });
}

/** Sends `body` (FormData or a Blob) to an API path with upload progress; resolves with the JSON answer. */
export async function upload<T>(path: string, body: FormData | Blob, o: UploadOptions = {}): Promise<T> {
  const baseUrl = (o.baseUrl ?? API_BASE).replace(/\/+$/, '');
  const url = baseUrl + (path.startsWith('/') ? path : `/${path}`);
  let res = await sendOnce<T>(url, body, o);
  if (!res.ok && res.error.status === 401) {
    if (await (o.refresh ?? (() => session.refresh()))()) res = await sendOnce<T>(url, body, o);
  }
  if (!res.ok) throw res.error;
  return res.value;
}
