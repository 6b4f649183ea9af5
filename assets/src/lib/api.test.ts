import { describe, expect, it, vi } from 'vitest';
import { ApiError, NETWORK_ERROR_MESSAGE, buildQuery, createApiClient, getDbStatus, parseErrorResponse } from './api';

describe('parseErrorResponse', () => {
  it('reads the error envelope', () => {
    const e = parseErrorResponse(
      422,
      'Unprocessable Entity',
      JSON.stringify({
        error: { code: 'validation_failed', message: 'Some fields are invalid.', details: { name: 'is required', email: 'is not an email' } },
        request_id: 'req-123',
      }),
    );
    expect(e).toBeInstanceOf(ApiError);
    expect(e).toBeInstanceOf(Error);
    expect(e.status).toBe(422);
    expect(e.code).toBe('validation_failed');
    expect(e.message).toBe('Some fields are invalid.');
    expect(e.requestId).toBe('req-123');
    expect(e.fieldErrors).toEqual({ name: 'is required', email: 'is not an email' });
    expect(e.userMessage).toBe('Some fields are invalid. (request req-123)');
  });

  it('keeps only string details as field errors, and accepts a nested "fields" object', () => {
    const flat = parseErrorResponse(413, '', JSON.stringify({ error: { code: 'too_large', message: 'Too large.', details: { limit_bytes: 10 } } }));
    expect(flat.details).toEqual({ limit_bytes: 10 });
    expect(flat.fieldErrors).toEqual({});
    const nested = parseErrorResponse(422, '', JSON.stringify({ error: { code: 'x', message: 'm', details: { fields: { title: 'too long' } } } }));
    expect(nested.fieldErrors).toEqual({ title: 'too long' });
  });

  it('tolerates missing or null details and a missing request id', () => {
    const e = parseErrorResponse(404, 'Not Found', '{"error":{"code":"not_found","message":"No such mission.","details":null}}');
    expect(e.details).toEqual({});
    expect(e.requestId).toBeUndefined();
    expect(e.userMessage).toBe('No such mission.');
  });

  it('falls back to a status message for a non-JSON body', () => {
    const e = parseErrorResponse(502, 'Bad Gateway', '<html><body>nginx</body></html>');
    expect(e.code).toBe('http_502');
    expect(e.message).toBe('The server is not reachable through the proxy.');
    expect(e.body).toBeUndefined();
  });

  it('falls back when the envelope has an empty message or code', () => {
    const e = parseErrorResponse(403, 'Forbidden', '{"error":{"code":"","message":"  "}}');
    expect(e.code).toBe('http_403');
    expect(e.message).toBe('You do not have permission to do this.');
  });

  it('uses the status text for unusual statuses with an empty body', () => {
    const e = parseErrorResponse(418, "I'm a teapot", '');
    expect(e.message).toBe("I'm a teapot (HTTP 418).");
    expect(parseErrorResponse(599, '', '').message).toBe('The server answered HTTP 599.');
  });

  it('keeps a JSON body that is not an envelope (503 /diag/db)', () => {
    const e = parseErrorResponse(503, 'Service Unavailable', '{"reachable":false,"driver":"sqlite","error":"the database does not answer"}');
    expect(e.status).toBe(503);
    expect(e.message).toBe('the database does not answer');
    expect(e.body).toEqual({ reachable: false, driver: 'sqlite', error: 'the database does not answer' });
  });
});

describe('buildQuery', () => {
  it('encodes values, repeats arrays and drops null/undefined', () => {
    expect(buildQuery({ q: 'a b', page: 2, deleted: false, tag: ['x', 'y'], none: null, gone: undefined })).toBe(
      '?q=a+b&page=2&deleted=false&tag=x&tag=y',
    );
    expect(buildQuery({})).toBe('');
    expect(buildQuery()).toBe('');
  });
});

/** Resolves to the rejection reason; fails the test if the promise resolves. */
function failure(p: Promise<unknown>): Promise<any> {
  return p.then(
    () => {
      throw new Error('expected the request to fail');
    },
    (e) => e,
  );
}

function jsonResponse(status: number, body: unknown, statusText = '') {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    statusText,
    headers: { 'Content-Type': 'application/json' },
  });
}

describe('createApiClient', () => {
  it('sends JSON to /api/v1 and parses the answer', async () => {
    const fetch = vi.fn(async () => jsonResponse(201, { id: 'm1', name: 'Op Red' }));
    const api = createApiClient({ fetch });
    const out = await api.post<{ id: string }>('/missions', { name: 'Op Red' }, { query: { dry: true } });
    expect(out).toEqual({ id: 'm1', name: 'Op Red' });
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('/api/v1/missions?dry=true');
    expect(init.method).toBe('POST');
    expect(init.body).toBe('{"name":"Op Red"}');
    expect((init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
    expect((init.headers as Record<string, string>).Authorization).toBeUndefined();
  });

  it('returns undefined for 204', async () => {
    const api = createApiClient({ fetch: async () => new Response(null, { status: 204 }) });
    await expect(api.delete('/missions/1')).resolves.toBeUndefined();
  });

  it('throws ApiError with the server message on an error status', async () => {
    const api = createApiClient({
      fetch: async () => jsonResponse(409, { error: { code: 'conflict', message: 'Version mismatch.', details: {} }, request_id: 'r1' }),
    });
    const err = await failure(api.patch('/missions/1/tests/2', { red_notes: 'x' }));
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(409);
    expect(err.code).toBe('conflict');
    expect(err.message).toBe('Version mismatch.');
  });

  it('turns a network failure into a clear ApiError', async () => {
    const api = createApiClient({
      fetch: async () => {
        throw new TypeError('Failed to fetch');
      },
    });
    const err = await failure(api.get('/health'));
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(0);
    expect(err.code).toBe('network_error');
    expect(err.isNetworkError).toBe(true);
    expect(err.message).toBe(NETWORK_ERROR_MESSAGE);
  });

  it('lets an abort through unchanged', async () => {
    const api = createApiClient({
      fetch: async () => {
        throw new DOMException('The operation was aborted.', 'AbortError');
      },
    });
    const err = await failure(api.get('/health'));
    expect(err).toBeInstanceOf(DOMException);
    expect(err.name).toBe('AbortError');
  });

  it('reports a 2xx answer that is not JSON', async () => {
    const api = createApiClient({ fetch: async () => new Response('<html>', { status: 200 }) });
    const err = await failure(api.get('/health'));
    expect(err).toBeInstanceOf(ApiError);
    expect(err.code).toBe('bad_response');
  });

  it('attaches the in-memory access token as a Bearer header', async () => {
    const fetch = vi.fn(async () => jsonResponse(200, {}));
    const api = createApiClient({ fetch });
    api.setAccessToken('tok-1');
    await api.get('/auth/me');
    expect(((fetch.mock.calls[0] as unknown as [string, RequestInit])[1].headers as Record<string, string>).Authorization).toBe('Bearer tok-1');
    api.setAccessToken(null);
    await api.get('/auth/me');
    expect(((fetch.mock.calls[1] as unknown as [string, RequestInit])[1].headers as Record<string, string>).Authorization).toBeUndefined();
  });

  it('calls the 401 hook and retries once when it refreshed the token', async () => {
    const fetch = vi
      .fn()
      .mockResolvedValueOnce(jsonResponse(401, { error: { code: 'unauthenticated', message: 'Token expired.' } }))
      .mockResolvedValueOnce(jsonResponse(200, { ok: true }));
    const api = createApiClient({ fetch });
    api.setAccessToken('old');
    const hook = vi.fn(async (err: ApiError) => {
      expect(err.code).toBe('unauthenticated');
      api.setAccessToken('new');
      return true;
    });
    api.setUnauthorizedHandler(hook);
    await expect(api.get('/missions')).resolves.toEqual({ ok: true });
    expect(hook).toHaveBeenCalledTimes(1);
    expect((fetch.mock.calls[1][1] as RequestInit & { headers: Record<string, string> }).headers.Authorization).toBe('Bearer new');
  });

  it('throws the 401 when the hook declines, and skips the hook when asked', async () => {
    const fetch = vi.fn(async () => jsonResponse(401, { error: { code: 'unauthenticated', message: 'Sign in.' } }));
    const api = createApiClient({ fetch });
    const hook = vi.fn(() => false);
    api.setUnauthorizedHandler(hook);
    await expect(api.get('/missions')).rejects.toMatchObject({ status: 401, message: 'Sign in.' });
    await expect(api.post('/auth/login', {}, { skipAuthRetry: true })).rejects.toMatchObject({ status: 401 });
    expect(hook).toHaveBeenCalledTimes(1);
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it('does not retry more than once', async () => {
    const fetch = vi.fn(async () => jsonResponse(401, { error: { code: 'unauthenticated', message: 'Still no.' } }));
    const api = createApiClient({ fetch });
    api.setUnauthorizedHandler(() => true);
    await expect(api.get('/missions')).rejects.toMatchObject({ status: 401, message: 'Still no.' });
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it('sends FormData as is, without a JSON content type', async () => {
    const fetch = vi.fn(async () => jsonResponse(201, {}));
    const api = createApiClient({ fetch });
    const fd = new FormData();
    fd.append('file', new Blob(['x']), 'x.txt');
    await api.post('/bundles/import', fd);
    const init = (fetch.mock.calls[0] as unknown as [string, RequestInit])[1];
    expect(init.body).toBe(fd);
    expect((init.headers as Record<string, string>)['Content-Type']).toBeUndefined();
  });
});

describe('getDbStatus', () => {
  it('returns the status on 200', async () => {
    vi.stubGlobal('fetch', async () =>
      jsonResponse(200, { reachable: true, driver: 'sqlite', migration_version: 1, dirty: false, table_count: 29 }),
    );
    try {
      await expect(getDbStatus()).resolves.toMatchObject({ reachable: true, table_count: 29 });
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('returns the 503 body as an unreachable status instead of throwing', async () => {
    vi.stubGlobal('fetch', async () => jsonResponse(503, { reachable: false, driver: 'sqlite', error: 'the database does not answer' }));
    try {
      await expect(getDbStatus()).resolves.toEqual({ reachable: false, driver: 'sqlite', error: 'the database does not answer' });
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('maps a 503 error envelope to an unreachable status with its message', async () => {
    vi.stubGlobal('fetch', async () => jsonResponse(503, { error: { code: 'unavailable', message: 'The service is unavailable.' } }));
    try {
      await expect(getDbStatus()).resolves.toMatchObject({ reachable: false, error: 'The service is unavailable.' });
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('throws other errors (401, network)', async () => {
    vi.stubGlobal('fetch', async () => jsonResponse(401, { error: { code: 'unauthenticated', message: 'Sign in.' } }));
    try {
      await expect(getDbStatus()).rejects.toMatchObject({ status: 401 });
    } finally {
      vi.unstubAllGlobals();
    }
  });
});
