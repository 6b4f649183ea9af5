import { describe, expect, it } from 'vitest';
import {
  authRedirect,
  groupPermissions,
  hasPerm,
  initials,
  loginPath,
  safeNext,
  samePermissions,
  visibleTo,
  type GuardMeta,
  type GuardState,
  type GuardTarget,
} from './auth';

function to(path: string, meta: GuardMeta & { layout?: string } = {}, search = ''): GuardTarget {
  return { path, search, hash: '', query: new URLSearchParams(search), route: { meta } };
}
const notFound = (path: string): GuardTarget => ({ path, search: '', hash: '', query: new URLSearchParams(), route: null });

const signedIn: GuardState = { setupNeeded: false, status: 'authenticated', mfaSetupRequired: false };
const signedOut: GuardState = { setupNeeded: false, status: 'anonymous', mfaSetupRequired: false };

describe('safeNext', () => {
  it('keeps app paths with their query and hash', () => {
    expect(safeNext('/admin/users?q=ana#top')).toBe('/admin/users?q=ana#top');
    expect(safeNext('/')).toBe('/');
  });
  it.each([
    ['//evil.example/x'],
    ['/\\evil.example'],
    ['https://evil.example/'],
    ['javascript:alert(1)'],
    ['admin/users'],
    ['/login?next=/x'],
    ['/setup'],
    ['/api/v1/auth/logout'],
    ['/a\u0000b'],
    [''],
    [null],
    [undefined],
  ])('refuses %j', (v) => {
    expect(safeNext(v as string | null | undefined, '/fallback')).toBe('/fallback');
  });
});

describe('loginPath', () => {
  it('carries the page to come back to', () => {
    expect(loginPath('/admin/users?page=2')).toBe('/login?next=%2Fadmin%2Fusers%3Fpage%3D2');
  });
  it('leaves out next for Home and unsafe paths', () => {
    expect(loginPath('/')).toBe('/login');
    expect(loginPath('//evil')).toBe('/login');
  });
});

describe('authRedirect', () => {
  it('sends every path to /setup while setup is needed, whatever the session', () => {
    const s: GuardState = { setupNeeded: true, status: 'unknown', mfaSetupRequired: false };
    expect(authRedirect(to('/', { auth: true }), s)).toBe('/setup');
    expect(authRedirect(to('/login', { guest: true }), s)).toBe('/setup');
    expect(authRedirect(notFound('/nope'), s)).toBe('/setup');
    expect(authRedirect(to('/setup', {}), s)).toBeUndefined();
  });

  it('decides nothing while the session or the setup state is unknown', () => {
    expect(authRedirect(to('/', { auth: true }), { ...signedOut, status: 'unknown' })).toBeUndefined();
    expect(authRedirect(to('/', { auth: true }), { ...signedOut, setupNeeded: null })).toBeUndefined();
  });

  it('leaves /setup once it is done', () => {
    expect(authRedirect(to('/setup', {}), signedIn)).toBe('/');
    expect(authRedirect(to('/setup', {}), signedOut)).toBe('/login');
  });

  it('sends signed-out users of protected pages to the login, with the way back', () => {
    expect(authRedirect(to('/admin/users', { auth: true, perm: 'user.manage' }, '?q=x'), signedOut)).toBe(
      '/login?next=%2Fadmin%2Fusers%3Fq%3Dx',
    );
    expect(authRedirect(to('/', { auth: true }), signedOut)).toBe('/login');
  });

  it('lets signed-out users see public pages and the 404 page', () => {
    expect(authRedirect(to('/login', { guest: true }), signedOut)).toBeUndefined();
    expect(authRedirect(to('/invite/abc', { layout: 'bare' }), signedOut)).toBeUndefined();
    expect(authRedirect(notFound('/nope'), signedOut)).toBeUndefined();
  });

  it('moves signed-in users from the login page on to ?next= (safely)', () => {
    expect(authRedirect(to('/login', { guest: true }, '?next=%2Faccount'), signedIn)).toBe('/account');
    expect(authRedirect(to('/login', { guest: true }, '?next=%2F%2Fevil.example'), signedIn)).toBe('/');
    expect(authRedirect(to('/login', { guest: true }), signedIn)).toBe('/');
  });

  it('does not redirect for a missing permission (the page shows a message)', () => {
    expect(authRedirect(to('/admin/users', { auth: true, perm: 'user.manage' }), signedIn)).toBeUndefined();
  });

  it('keeps accounts that must enrol in MFA on their profile', () => {
    const s = { ...signedIn, mfaSetupRequired: true };
    expect(authRedirect(to('/admin/users', { auth: true }), s)).toBe('/account');
    expect(authRedirect(to('/account', { auth: true }), s)).toBeUndefined();
    expect(authRedirect(to('/invite/x', {}), s)).toBeUndefined();
  });
});

describe('permissions', () => {
  it('hasPerm and visibleTo', () => {
    expect(hasPerm(['a.read'], 'a.read')).toBe(true);
    expect(hasPerm(['a.read'], 'b.read')).toBe(false);
    expect(hasPerm(undefined, 'a.read')).toBe(false);
    expect(hasPerm(undefined, undefined)).toBe(true);
    const items = [{ href: '/' }, { href: '/admin/users', perm: 'user.manage' }, { href: '/admin/audit', perm: 'audit.read' }];
    expect(visibleTo(items, ['audit.read']).map((i) => i.href)).toEqual(['/', '/admin/audit']);
    expect(visibleTo(items, null).map((i) => i.href)).toEqual(['/']);
  });

  it('groups the catalogue by area with readable labels', () => {
    const areas = groupPermissions([
      { key: 'mission.read', description: 'r' },
      { key: 'audit.read', description: 'a' },
      { key: 'mission.create', description: 'c' },
      { key: 'mission_test.execute', description: 'e' },
      { key: 'odd_thing', description: 'o' },
    ]);
    expect(areas.map((a) => a.label)).toEqual(['Audit', 'Mission tests', 'Missions', 'Odd thing']);
    expect(areas.find((a) => a.area === 'mission')!.items.map((i) => i.key)).toEqual(['mission.read', 'mission.create']);
  });

  it('samePermissions ignores order and duplicates', () => {
    expect(samePermissions(['a', 'b'], ['b', 'a', 'a'])).toBe(true);
    expect(samePermissions(['a'], ['a', 'b'])).toBe(false);
    expect(samePermissions([], [])).toBe(true);
  });
});

describe('initials', () => {
  it.each([
    ['Ana Analyst', 'a@x.org', 'AA'],
    ['ana maria de la cruz', '', 'AC'],
    ['Ōsaka', '', 'Ō'],
    ['', 'zoe@example.org', 'Z'],
    ['', '', '?'],
  ])('%j → %j', (name, email, want) => {
    expect(initials(name, email)).toBe(want);
  });
});
