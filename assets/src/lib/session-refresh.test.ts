/**
 * Refresh scheduling and serialisation: the silent refresh before expiry,
 * the cross-tab lock (two tabs never present the same refresh token), the
 * fallback without navigator.locks, sign-out, and the change listeners.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { api } from './api';
import { Session, REFRESH_LOCK, refreshDelayMs, type SessionResponse } from './session.svelte';
import { withLock, type LockManagerLike } from './locks';

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

const sessionBody = (token: string, expiresIn = 900): SessionResponse => ({
  access_token: token,
  token_type: 'Bearer',
  expires_in: expiresIn,
  user: { id: 'u1', email: 'a@example.org', name: 'Ana', permissions: ['user.manage'] },
});

/** An exclusive Web Locks stand-in: callbacks of the same name run one after another. */
function fakeLocks() {
  const chains = new Map<string, Promise<unknown>>();
  const requested: string[] = [];
  const locks: LockManagerLike = {
    request<T>(name: string, _opts: { mode?: 'exclusive' | 'shared' }, cb: () => Promise<T>): Promise<T> {
      requested.push(name);
      const prev = chains.get(name) ?? Promise.resolve();
      const run = prev.then(() => cb());
      chains.set(
        name,
        run.then(
          () => undefined,
          () => undefined,
        ),
      );
      return run;
    },
  };
  return { locks, requested };
}

/**
 * A server with one refresh-token family shared by every tab (the cookie):
 * presenting a token that was already rotated revokes the family, as the
 * real server does.
 */
function rotatingServer() {
  let current = 'r0';
  let n = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let revoked = false;
  const fetch = async (url: string) => {
    if (!url.endsWith('/auth/refresh')) return json(200, {});
    const presented = current; // the browser sends the cookie it has now
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setTimeout(r, 5));
    inFlight--;
    if (revoked || presented !== current) {
      revoked = true;
      return json(401, { error: { code: 'refresh_reused', message: 'Session revoked.' } });
    }
    current = `r${++n}`; // rotated: Set-Cookie
    return json(200, sessionBody(`access-${n}`));
  };
  return {
    fetch,
    get maxInFlight() {
      return maxInFlight;
    },
    get revoked() {
      return revoked;
    },
    get rotations() {
      return n;
    },
  };
}

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
  api.setAccessToken(null);
  api.setUnauthorizedHandler(null);
});

describe('refreshDelayMs', () => {
  it('refreshes a minute early, or a quarter of a short lifetime early', () => {
    expect(refreshDelayMs(900)).toBe(840_000);
    expect(refreshDelayMs(120)).toBe(90_000);
    expect(refreshDelayMs(60)).toBe(45_000);
    expect(refreshDelayMs(2)).toBe(1_500);
    expect(refreshDelayMs(1)).toBe(1_000);
  });
  it('has no delay for tokens without a lifetime', () => {
    expect(refreshDelayMs(0)).toBeNull();
    expect(refreshDelayMs(-5)).toBeNull();
    expect(refreshDelayMs(Number.NaN)).toBeNull();
  });
});

describe('silent refresh', () => {
  beforeEach(() => vi.useFakeTimers());

  it('runs before the access token expires, and again after each refresh', async () => {
    let refreshes = 0;
    vi.stubGlobal('fetch', async (url: string) => {
      if (url.endsWith('/auth/refresh')) refreshes++;
      return json(200, sessionBody(`t${refreshes}`));
    });
    const s = new Session();
    s.adopt(sessionBody('t0'));
    await vi.advanceTimersByTimeAsync(839_000);
    expect(refreshes).toBe(0);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(refreshes).toBe(1);
    expect(api.getAccessToken()).toBe('t1');
    await vi.advanceTimersByTimeAsync(840_000);
    expect(refreshes).toBe(2);
    s.clear();
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(refreshes).toBe(2); // nothing after sign-out
  });

  it('tries again later after a network failure, keeping the session', async () => {
    let calls = 0;
    vi.stubGlobal('fetch', async () => {
      calls++;
      if (calls === 1) throw new TypeError('Failed to fetch');
      return json(200, sessionBody('again'));
    });
    const s = new Session();
    s.adopt(sessionBody('t0', 60));
    await vi.advanceTimersByTimeAsync(45_000);
    expect(calls).toBe(1);
    expect(s.status).toBe('authenticated');
    await vi.advanceTimersByTimeAsync(30_000);
    expect(calls).toBe(2);
    expect(api.getAccessToken()).toBe('again');
    s.clear();
  });
});

describe('refresh serialisation across tabs', () => {
  it('two tabs refreshing at once take turns under the pb-refresh lock', async () => {
    const server = rotatingServer();
    const { locks, requested } = fakeLocks();
    vi.stubGlobal('fetch', server.fetch);
    vi.stubGlobal('navigator', { locks });
    const tabA = new Session();
    const tabB = new Session();
    const [a, b] = await Promise.all([tabA.refresh(), tabB.refresh()]);
    expect([a, b]).toEqual([true, true]);
    expect(server.maxInFlight).toBe(1);
    expect(server.revoked).toBe(false);
    expect(server.rotations).toBe(2);
    expect(requested).toEqual([REFRESH_LOCK, REFRESH_LOCK]);
    tabA.clear();
    tabB.clear();
  });

  it('without the lock the same token would be presented twice (what the lock prevents)', async () => {
    const server = rotatingServer();
    vi.stubGlobal('fetch', server.fetch);
    vi.stubGlobal('navigator', {}); // no navigator.locks: e.g. plain http on a team server
    const tabA = new Session();
    const tabB = new Session();
    await Promise.all([tabA.refresh(), tabB.refresh()]);
    expect(server.maxInFlight).toBe(2);
    expect(server.revoked).toBe(true);
    tabA.clear();
    tabB.clear();
  });

  it('works without navigator.locks (one tab), sharing one refresh between concurrent callers', async () => {
    const server = rotatingServer();
    vi.stubGlobal('fetch', server.fetch);
    vi.stubGlobal('navigator', {});
    const s = new Session();
    const results = await Promise.all([s.refresh(), s.refresh(), s.refresh()]);
    expect(results).toEqual([true, true, true]);
    expect(server.rotations).toBe(1);
    s.clear();
  });
});

describe('withLock', () => {
  it('falls back to running unlocked when the lock manager fails before running', async () => {
    const broken: LockManagerLike = {
      request: () => Promise.reject(new DOMException('denied', 'SecurityError')),
    };
    await expect(withLock('x', async () => 42, broken)).resolves.toBe(42);
  });

  it('passes errors of the locked function through', async () => {
    const { locks } = fakeLocks();
    await expect(withLock('x', async () => Promise.reject(new Error('boom')), locks)).rejects.toThrow('boom');
  });

  it('runs without a lock manager', async () => {
    await expect(withLock('x', async () => 'ok', null)).resolves.toBe('ok');
  });
});

describe('sign-out and listeners', () => {
  it('logout ends the session on the server, then here', async () => {
    const calls: string[] = [];
    vi.stubGlobal('fetch', async (url: string) => {
      calls.push(url);
      return new Response(null, { status: 204 });
    });
    const s = new Session();
    const changes: string[] = [];
    s.onChange(() => changes.push(s.status));
    s.adopt(sessionBody('t'));
    await s.logout();
    expect(calls).toEqual(['/api/v1/auth/logout']);
    expect(s.status).toBe('anonymous');
    expect(api.getAccessToken()).toBeNull();
    expect(changes).toEqual(['authenticated', 'anonymous']);
  });

  it('keeps the session when the server cannot be reached, and forgets it on 401', async () => {
    vi.stubGlobal('fetch', async () => {
      throw new TypeError('Failed to fetch');
    });
    const s = new Session();
    s.adopt(sessionBody('t'));
    await expect(s.logout()).rejects.toMatchObject({ code: 'network_error' });
    expect(s.status).toBe('authenticated');
    vi.stubGlobal('fetch', async () => json(401, { error: { code: 'unauthenticated', message: 'Gone.' } }));
    await s.logout();
    expect(s.status).toBe('anonymous');
  });

  it('reloadUser replaces the user and tells the listeners', async () => {
    vi.stubGlobal('fetch', async () => json(200, { ...sessionBody('t').user, name: 'Ana Analyst', mfa_setup_required: true }));
    const s = new Session();
    s.adopt(sessionBody('t'));
    let seen = '';
    s.onChange(() => (seen = s.user?.name ?? ''));
    await s.reloadUser();
    expect(seen).toBe('Ana Analyst');
    expect(s.user?.mfa_setup_required).toBe(true);
    s.clear();
  });
});
