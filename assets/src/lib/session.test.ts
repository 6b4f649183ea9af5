import { afterEach, describe, expect, it, vi } from 'vitest';
import { api } from './api';
import { session } from './session.svelte';

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

const sessionBody = (token: string) => ({
  access_token: token,
  token_type: 'Bearer',
  expires_in: 900,
  refresh_token: 'r',
  user: { id: 'u1', email: 'a@example.org', name: 'Ana', permissions: ['diag.reset'] },
});

afterEach(() => {
  vi.unstubAllGlobals();
  session.clear();
  session.status = 'unknown';
});

describe('session', () => {
  it('restores a session from the refresh cookie and attaches the token', async () => {
    const calls: { url: string; auth?: string }[] = [];
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      calls.push({ url, auth: (init.headers as Record<string, string>).Authorization });
      return url.endsWith('/auth/refresh') ? json(200, sessionBody('tok-1')) : json(200, { ok: true });
    });
    session.install();
    await expect(session.refresh()).resolves.toBe(true);
    expect(session.authenticated).toBe(true);
    expect(session.user?.name).toBe('Ana');
    expect(session.can('diag.reset')).toBe(true);
    expect(session.can('user.manage')).toBe(false);
    await api.get('/diag/db');
    expect(calls.at(-1)).toEqual({ url: '/api/v1/diag/db', auth: 'Bearer tok-1' });
  });

  it('shares one refresh between concurrent 401s and retries each request once', async () => {
    let refreshes = 0;
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      if (url.endsWith('/auth/refresh')) {
        refreshes++;
        await new Promise((r) => setTimeout(r, 10));
        return json(200, sessionBody('fresh'));
      }
      const auth = (init.headers as Record<string, string>).Authorization;
      return auth === 'Bearer fresh' ? json(200, { url }) : json(401, { error: { code: 'unauthenticated', message: 'Expired.' } });
    });
    session.install();
    session.status = 'authenticated';
    api.setAccessToken('stale');
    const [a, b] = await Promise.all([api.get('/a'), api.get('/b')]);
    expect(a).toEqual({ url: '/api/v1/a' });
    expect(b).toEqual({ url: '/api/v1/b' });
    expect(refreshes).toBe(1);
  });

  it('becomes anonymous when the refresh is refused, and stops retrying', async () => {
    let refreshes = 0;
    vi.stubGlobal('fetch', async (url: string) => {
      if (url.endsWith('/auth/refresh')) refreshes++;
      return json(401, { error: { code: 'unauthenticated', message: 'Sign in.' } });
    });
    session.install();
    await expect(session.refresh()).resolves.toBe(false);
    expect(session.status).toBe('anonymous');
    await expect(api.get('/diag/db')).rejects.toMatchObject({ status: 401, message: 'Sign in.' });
    expect(refreshes).toBe(1);
    expect(api.getAccessToken()).toBeNull();
  });

  it('keeps the session on a network failure during refresh', async () => {
    vi.stubGlobal('fetch', async (url: string) => (url.endsWith('/auth/refresh') && session.status === 'authenticated' ? Promise.reject(new TypeError('Failed to fetch')) : json(200, sessionBody('t'))));
    session.install();
    await session.refresh();
    expect(session.status).toBe('authenticated');
    await expect(session.refresh()).resolves.toBe(false);
    expect(session.status).toBe('authenticated');
    expect(api.getAccessToken()).toBe('t');
  });
});
