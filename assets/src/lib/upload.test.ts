import { describe, expect, it } from 'vitest';
import { ApiError, NETWORK_ERROR_MESSAGE } from './api';
import { readXhrResponse, upload, type UploadProgress, type XhrLike } from './upload';

type Script = (x: FakeXhr) => void;

/** A scripted XMLHttpRequest: `script` runs on send() and decides what happens. */
class FakeXhr implements XhrLike {
  method = '';
  url = '';
  headers: Record<string, string> = {};
  body: unknown = null;
  status = 0;
  statusText = '';
  responseText = '';
  withCredentials = false;
  aborted = false;
  upload: { onprogress: ((ev: ProgressEvent) => void) | null } = { onprogress: null };
  onload: ((ev: ProgressEvent) => void) | null = null;
  onerror: ((ev: ProgressEvent) => void) | null = null;
  onabort: ((ev: ProgressEvent) => void) | null = null;
  ontimeout: ((ev: ProgressEvent) => void) | null = null;
  constructor(private script: Script) {}
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(name: string, value: string) {
    this.headers[name] = value;
  }
  send(body: unknown) {
    this.body = body;
    queueMicrotask(() => this.script(this));
  }
  abort() {
    this.aborted = true;
    this.onabort?.({} as ProgressEvent);
  }
  progress(loaded: number, total: number, lengthComputable = true) {
    this.upload.onprogress?.({ loaded, total, lengthComputable } as ProgressEvent);
  }
  respond(status: number, body: unknown, statusText = '') {
    this.status = status;
    this.statusText = statusText;
    this.responseText = typeof body === 'string' ? body : JSON.stringify(body);
    this.onload?.({} as ProgressEvent);
  }
}

function fakes(...scripts: Script[]) {
  const made: FakeXhr[] = [];
  return {
    made,
    createXhr: () => {
      const x = new FakeXhr(scripts[made.length] ?? scripts[scripts.length - 1]);
      made.push(x);
      return x;
    },
  };
}

/** The rejection of a promise that must fail. */
function failure<T = ApiError>(p: Promise<unknown>): Promise<T> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as T,
  );
}

const ENVELOPE = {
  error: {
    code: 'unverified_source',
    message: 'This bundle is not the pinned ATT&CK 18.1 release and no expected_sha256 was given. Nothing was changed.',
    details: { actual_sha256: 'ab'.repeat(32) },
  },
  request_id: 'req-9',
};

describe('readXhrResponse', () => {
  it('parses a JSON answer', () => {
    expect(readXhrResponse(200, 'OK', '{"a":1}')).toEqual({ ok: true, value: { a: 1 } });
    expect(readXhrResponse(204, 'No Content', '')).toEqual({ ok: true, value: undefined });
  });

  it('turns the error envelope into the same ApiError as the fetch client', () => {
    const r = readXhrResponse(422, 'Unprocessable Entity', JSON.stringify(ENVELOPE));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toBeInstanceOf(ApiError);
    expect(r.error.status).toBe(422);
    expect(r.error.code).toBe('unverified_source');
    expect(r.error.message).toBe(ENVELOPE.error.message);
    expect(r.error.details.actual_sha256).toBe('ab'.repeat(32));
    expect(r.error.requestId).toBe('req-9');
  });

  it('keeps field errors of a validation failure', () => {
    const r = readXhrResponse(
      422,
      '',
      JSON.stringify({ error: { code: 'validation_failed', message: 'Some fields are invalid.', details: { expected_sha256: 'must be 64 hexadecimal characters' } } }),
    );
    if (r.ok) throw new Error('expected an error');
    expect(r.error.fieldErrors).toEqual({ expected_sha256: 'must be 64 hexadecimal characters' });
  });

  it('falls back to a status message without an envelope (proxy page, 413 from a proxy)', () => {
    const r = readXhrResponse(413, 'Payload Too Large', '<html>nginx</html>');
    if (r.ok) throw new Error('expected an error');
    expect(r.error.message).toBe('The upload is too large.');
    expect(r.error.code).toBe('http_413');
  });

  it('reports no answer (status 0) as the network error', () => {
    const r = readXhrResponse(0, '', '');
    if (r.ok) throw new Error('expected an error');
    expect(r.error.isNetworkError).toBe(true);
    expect(r.error.message).toBe(NETWORK_ERROR_MESSAGE);
  });

  it('rejects a 200 that is not JSON', () => {
    const r = readXhrResponse(200, 'OK', '<html>');
    if (r.ok) throw new Error('expected an error');
    expect(r.error.code).toBe('bad_response');
  });
});

describe('upload', () => {
  it('posts the body with the Bearer token and reports progress', async () => {
    const f = fakes((x) => {
      x.progress(50, 200);
      x.progress(200, 200);
      x.respond(200, { ok: true });
    });
    const seen: UploadProgress[] = [];
    const body = new Blob(['x']);
    const res = await upload<{ ok: boolean }>('/mitre/sync', body, { createXhr: f.createXhr, getToken: () => 'tok-1', onProgress: (p) => seen.push(p) });
    expect(res).toEqual({ ok: true });
    const x = f.made[0];
    expect(x.method).toBe('POST');
    expect(x.url).toBe('/api/v1/mitre/sync');
    expect(x.headers.Authorization).toBe('Bearer tok-1');
    expect(x.headers.Accept).toBe('application/json');
    expect(x.withCredentials).toBe(true);
    expect(x.body).toBe(body);
    expect(seen).toEqual([
      { loaded: 50, total: 200, fraction: 0.25 },
      { loaded: 200, total: 200, fraction: 1 },
    ]);
  });

  it('reports an unknown total as fraction null and sends no token when there is none', async () => {
    const f = fakes((x) => {
      x.progress(10, 0, false);
      x.respond(200, {});
    });
    const seen: UploadProgress[] = [];
    await upload('/x', new Blob(['x']), { createXhr: f.createXhr, getToken: () => null, onProgress: (p) => seen.push(p) });
    expect(seen).toEqual([{ loaded: 10, total: 0, fraction: null }]);
    expect(f.made[0].headers.Authorization).toBeUndefined();
  });

  it('throws the server error (envelope message) as an ApiError', async () => {
    const f = fakes((x) => x.respond(422, ENVELOPE, 'Unprocessable Entity'));
    const err = await failure(upload('/mitre/sync', new Blob(['x']), { createXhr: f.createXhr, getToken: () => 't' }));
    expect(err).toBeInstanceOf(ApiError);
    expect(err.message).toBe(ENVELOPE.error.message);
    expect(err.code).toBe('unverified_source');
  });

  it('refreshes the token once on a 401 and sends again', async () => {
    let token = 'old';
    const f = fakes(
      (x) => x.respond(401, { error: { code: 'unauthorized', message: 'The access token expired.' } }),
      (x) => x.respond(200, { done: true }),
    );
    const res = await upload('/mitre/sync', new Blob(['x']), {
      createXhr: f.createXhr,
      getToken: () => token,
      refresh: async () => {
        token = 'new';
        return true;
      },
    });
    expect(res).toEqual({ done: true });
    expect(f.made.map((x) => x.headers.Authorization)).toEqual(['Bearer old', 'Bearer new']);
  });

  it('gives up with the 401 when the refresh fails', async () => {
    const f = fakes((x) => x.respond(401, { error: { code: 'unauthorized', message: 'Sign in again.' } }));
    const err = await failure(upload('/x', new Blob(['x']), { createXhr: f.createXhr, getToken: () => 't', refresh: async () => false }));
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(401);
    expect(err.message).toBe('Sign in again.');
    expect(f.made).toHaveLength(1);
  });

  it('reports a connection failure as the network error', async () => {
    const f = fakes((x) => x.onerror?.({} as ProgressEvent));
    const err = await failure(upload('/x', new Blob(['x']), { createXhr: f.createXhr, getToken: () => null }));
    expect(err).toBeInstanceOf(ApiError);
    expect(err.isNetworkError).toBe(true);
  });

  it('aborts through the AbortSignal with an AbortError', async () => {
    const ac = new AbortController();
    const f = fakes((x) => {
      x.progress(1, 100);
      ac.abort();
    });
    const err = await failure<DOMException>(upload('/x', new Blob(['x']), { createXhr: f.createXhr, getToken: () => null, signal: ac.signal }));
    expect(err).toBeInstanceOf(DOMException);
    expect(err.name).toBe('AbortError');
    expect(f.made[0].aborted).toBe(true);

    const again = await failure<DOMException>(upload('/x', new Blob(['x']), { createXhr: f.createXhr, signal: ac.signal }));
    expect(again.name).toBe('AbortError');
    expect(f.made).toHaveLength(1); // an already aborted signal sends nothing
  });
});
