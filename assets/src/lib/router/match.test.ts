import { describe, expect, it } from 'vitest';
import { buildPath, compilePattern, createMatcher, matchPath, parseLocation, shouldIntercept } from './match';

describe('matchPath', () => {
  it('matches the root only for "/"', () => {
    expect(matchPath('/', '/')).toEqual({});
    expect(matchPath('/', '')).toEqual({});
    expect(matchPath('/', '/missions')).toBeNull();
  });

  it('matches static paths exactly, ignoring a trailing slash', () => {
    expect(matchPath('/missions', '/missions')).toEqual({});
    expect(matchPath('/missions', '/missions/')).toEqual({});
    expect(matchPath('/missions', '/missions/42')).toBeNull();
    expect(matchPath('/missions', '/mission')).toBeNull();
    expect(matchPath('/admin/users', '/admin/users')).toEqual({});
    expect(matchPath('/admin/users', '/admin')).toBeNull();
  });

  it('is case-sensitive', () => {
    expect(matchPath('/missions', '/Missions')).toBeNull();
  });

  it('extracts and decodes named parameters', () => {
    expect(matchPath('/missions/:id', '/missions/0190a4c2-7d3e-7abc-8def-0123456789ab')).toEqual({
      id: '0190a4c2-7d3e-7abc-8def-0123456789ab',
    });
    expect(matchPath('/missions/:id', '/missions/a%20b%2Fc')).toEqual({ id: 'a b/c' });
    expect(matchPath('/missions/:id/tests/:tid', '/missions/m1/tests/t2')).toEqual({ id: 'm1', tid: 't2' });
    expect(matchPath('/missions/:id', '/missions')).toBeNull();
    expect(matchPath('/missions/:id', '/missions/1/extra')).toBeNull();
  });

  it('treats a malformed escape as no match instead of throwing', () => {
    expect(matchPath('/missions/:id', '/missions/%E0%A4%A')).toBeNull();
    expect(matchPath('/files/*', '/files/ok/%zz')).toBeNull();
  });

  it('supports an optional last parameter', () => {
    expect(matchPath('/attack/:technique?', '/attack')).toEqual({});
    expect(matchPath('/attack/:technique?', '/attack/T1059')).toEqual({ technique: 'T1059' });
    expect(matchPath('/attack/:technique?', '/attack/T1059/x')).toBeNull();
  });

  it('supports a rest wildcard', () => {
    expect(matchPath('/files/*', '/files')).toEqual({ '*': '' });
    expect(matchPath('/files/*', '/files/a/b%20c')).toEqual({ '*': 'a/b c' });
    expect(matchPath('/*', '/anything/at/all')).toEqual({ '*': 'anything/at/all' });
  });

  it('ignores empty segments from doubled slashes', () => {
    expect(matchPath('/missions/:id', '//missions//7')).toEqual({ id: '7' });
  });
});

describe('compilePattern', () => {
  it('rejects malformed patterns', () => {
    expect(() => compilePattern('missions')).toThrow(/start with/);
    expect(() => compilePattern('/a/*/b')).toThrow(/last segment/);
    expect(() => compilePattern('/a/:x?/b')).toThrow(/optional/);
    expect(() => compilePattern('/a/:1x')).toThrow(/bad parameter/);
    expect(() => compilePattern('/a/:id/b/:id')).toThrow(/duplicate/);
  });
});

describe('createMatcher', () => {
  const routes = [
    { path: '/', name: 'home' },
    { path: '/missions', name: 'missions' },
    { path: '/missions/new', name: 'mission-new' },
    { path: '/missions/:id', name: 'mission' },
    { path: '/admin/users', name: 'users' },
  ];
  const resolve = createMatcher(routes);

  it('returns the first matching route with its params', () => {
    expect(resolve('/')?.route.name).toBe('home');
    expect(resolve('/missions/new')?.route.name).toBe('mission-new');
    expect(resolve('/missions/abc')).toEqual({ route: routes[3], params: { id: 'abc' } });
    expect(resolve('/admin/users/')?.route.name).toBe('users');
  });

  it('returns null for unknown paths (the 404 page)', () => {
    expect(resolve('/nope')).toBeNull();
    expect(resolve('/missions/a/b')).toBeNull();
  });
});

describe('buildPath', () => {
  it('fills and encodes parameters', () => {
    expect(buildPath('/missions/:id', { id: 'a b/c' })).toBe('/missions/a%20b%2Fc');
    expect(buildPath('/attack/:t?', {})).toBe('/attack');
    expect(buildPath('/files/*', { '*': 'a/b c' })).toBe('/files/a/b%20c');
    expect(buildPath('/')).toBe('/');
  });

  it('round-trips with matchPath', () => {
    const p = buildPath('/missions/:id/tests/:tid', { id: 'ü?#', tid: '%' });
    expect(matchPath('/missions/:id/tests/:tid', p)).toEqual({ id: 'ü?#', tid: '%' });
  });

  it('throws on a missing required parameter', () => {
    expect(() => buildPath('/missions/:id')).toThrow(/missing parameter/);
  });
});

describe('parseLocation', () => {
  it('splits path, query and hash', () => {
    expect(parseLocation('/missions/7?tab=blue#evidence')).toEqual({
      path: '/missions/7',
      search: '?tab=blue',
      hash: '#evidence',
    });
    expect(parseLocation('missions')).toEqual({ path: '/missions', search: '', hash: '' });
  });
});

describe('shouldIntercept', () => {
  const origin = 'http://127.0.0.1:8420';
  const click = { button: 0, metaKey: false, ctrlKey: false, shiftKey: false, altKey: false, defaultPrevented: false };
  const a = (href: string, extra: Partial<{ target: string; download: boolean; rel: string }> = {}) => ({
    href,
    target: '',
    download: false,
    rel: '',
    ...extra,
  });

  it('handles plain same-origin app links', () => {
    expect(shouldIntercept(click, a(`${origin}/missions`), origin)).toBe(true);
    expect(shouldIntercept(click, a(`${origin}/missions/1?x=1#y`), origin)).toBe(true);
  });

  it('leaves modified clicks, new tabs, downloads and external links to the browser', () => {
    expect(shouldIntercept({ ...click, ctrlKey: true }, a(`${origin}/x`), origin)).toBe(false);
    expect(shouldIntercept({ ...click, metaKey: true }, a(`${origin}/x`), origin)).toBe(false);
    expect(shouldIntercept({ ...click, button: 1 }, a(`${origin}/x`), origin)).toBe(false);
    expect(shouldIntercept({ ...click, defaultPrevented: true }, a(`${origin}/x`), origin)).toBe(false);
    expect(shouldIntercept(click, a(`${origin}/x`, { target: '_blank' }), origin)).toBe(false);
    expect(shouldIntercept(click, a(`${origin}/x`, { download: true }), origin)).toBe(false);
    expect(shouldIntercept(click, a(`${origin}/x`, { rel: 'noopener external' }), origin)).toBe(false);
    expect(shouldIntercept(click, a('https://attack.mitre.org/techniques/T1059/'), origin)).toBe(false);
  });

  it('leaves in-page anchors to the browser', () => {
    const here = { pathname: '/missions', search: '' };
    expect(shouldIntercept(click, a(`${origin}/missions#main-content`), origin, here)).toBe(false);
    expect(shouldIntercept(click, a(`${origin}/#top`), origin, here)).toBe(true);
  });

  it('leaves API calls and files to the browser', () => {
    expect(shouldIntercept(click, a(`${origin}/api/v1/missions/1/report.csv`), origin)).toBe(false);
    expect(shouldIntercept(click, a(`${origin}/api/v1/evidence/1`), origin)).toBe(false);
    expect(shouldIntercept(click, a(`${origin}/favicon.svg`), origin)).toBe(false);
  });
});
