/**
 * A small History-API router. The Go server answers every extensionless
 * non-/api path with index.html, so deep links and reloads land here.
 *
 * - Routes are declared once in src/routes.ts (path pattern, component, title).
 * - Plain <a href="/missions"> links are intercepted (see shouldIntercept);
 *   call navigate() for programmatic moves.
 * - Guards (beforeEach) can redirect: the auth issue will register one that
 *   sends anonymous users to /login?next=….
 */
import type { Component } from 'svelte';
import { createMatcher, parseLocation, shouldIntercept, type Params } from './match';

export interface RouteMeta {
  /** Needs a signed-in user (enforced by the auth guard, lib/authflow.ts). */
  auth?: boolean;
  /** Permission the user must hold (DESIGN §3 permission strings); RouteView shows a message without it. */
  perm?: string;
  /** Only for signed-out users (the login page); signed-in users go on to ?next=. */
  guest?: boolean;
  /** 'bare': rendered without the navigation, centred (sign-in, setup, invitation). */
  layout?: 'bare';
}

// Route components take no required props; params are read from `router.params`.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type PageComponent = Component<any>;

export interface RouteDef {
  path: string;
  /** The page, bundled with the app… */
  component?: PageComponent;
  /** …or loaded on first visit as its own chunk: () => import('./routes/Big.svelte'). */
  load?: () => Promise<{ default: PageComponent }>;
  title: string | ((params: Params) => string);
  meta?: RouteMeta;
}

export interface Location {
  path: string;
  search: string;
  hash: string;
}

export interface Resolved extends Location {
  route: RouteDef | null; // null: no route matched (404)
  params: Params;
  query: URLSearchParams;
}

/** A guard returns a path to redirect to, or nothing to continue. */
export type Guard = (to: Resolved) => string | void | undefined;

const APP_NAME = 'Purplebook';

class Router {
  current = $state<Resolved>({ path: '/', search: '', hash: '', route: null, params: {}, query: new URLSearchParams() });
  /** Increases on every navigation; views can key on it. */
  navigations = $state(0);

  #resolve: ReturnType<typeof createMatcher<RouteDef>> = () => null;
  #guards: Guard[] = [];
  #started = false;

  get path() {
    return this.current.path;
  }
  get params() {
    return this.current.params;
  }
  get query() {
    return this.current.query;
  }

  /** Installs the route table and starts listening. Call once from main.ts. */
  start(routes: readonly RouteDef[]) {
    this.#resolve = createMatcher(routes);
    if (this.#started) {
      this.#apply(this.#fromWindow(), 'replace', false);
      return;
    }
    this.#started = true;
    if ('scrollRestoration' in history) history.scrollRestoration = 'manual';
    window.addEventListener('popstate', () => this.#apply(this.#fromWindow(), 'none', false));
    document.addEventListener('click', (ev) => this.#onClick(ev));
    this.#apply(this.#fromWindow(), 'replace', false);
  }

  /** Registers a guard; returns a function that removes it. */
  beforeEach(guard: Guard): () => void {
    this.#guards.push(guard);
    return () => {
      this.#guards = this.#guards.filter((g) => g !== guard);
    };
  }

  /** Moves to an app path ("/missions/42?tab=red"). */
  navigate(to: string, opts: { replace?: boolean } = {}) {
    this.#apply(parseLocation(to), opts.replace ? 'replace' : 'push', true);
  }

  back() {
    history.back();
  }

  /**
   * Runs the guards again for the current location (after sign-in, sign-out
   * or a permission change) and follows a redirect if one answers; otherwise
   * nothing happens (no history entry, no scroll).
   */
  recheck() {
    if (!this.#started) return;
    const here = this.#resolveLocation(this.#fromWindow());
    for (const guard of this.#guards) {
      const redirect = guard(here);
      if (redirect) {
        this.#apply(parseLocation(redirect), 'replace', true);
        return;
      }
    }
  }

  /** True when the current path is `href` or below it (for nav highlighting). */
  isActive(href: string, exact = false): boolean {
    const p = this.current.path;
    if (exact || href === '/') return p === href;
    return p === href || p.startsWith(href.endsWith('/') ? href : href + '/');
  }

  #fromWindow(): Location {
    return { path: window.location.pathname, search: window.location.search, hash: window.location.hash };
  }

  #resolveLocation(loc: Location): Resolved {
    const m = this.#resolve(loc.path);
    return { ...loc, route: m?.route ?? null, params: m?.params ?? {}, query: new URLSearchParams(loc.search) };
  }

  #apply(loc: Location, mode: 'push' | 'replace' | 'none', focus: boolean, depth = 0) {
    let next = this.#resolveLocation(loc);
    for (const guard of this.#guards) {
      const redirect = guard(next);
      if (redirect && depth < 5) {
        this.#apply(parseLocation(redirect), mode === 'none' ? 'replace' : mode, focus, depth + 1);
        return;
      }
    }
    const url = next.path + next.search + next.hash;
    const here = window.location.pathname + window.location.search + window.location.hash;
    if (mode === 'push' && url !== here) history.pushState({}, '', url);
    else if (mode === 'replace' || (mode === 'push' && url === here)) history.replaceState(history.state, '', url);

    this.current = next;
    this.navigations++;
    document.title = next.route ? `${titleOf(next)} · ${APP_NAME}` : `Page not found · ${APP_NAME}`;
    if (mode === 'push' || mode === 'replace') window.scrollTo(0, 0);
    if (focus) {
      // Move focus to the main region so screen readers announce the new page.
      queueMicrotask(() => document.getElementById('main-content')?.focus({ preventScroll: true }));
    }
  }

  #onClick(ev: MouseEvent) {
    const target = ev.target as Element | null;
    const a = target?.closest?.('a');
    if (!a || !a.hasAttribute('href')) return;
    const info = { href: a.href, target: a.target, download: a.hasAttribute('download'), rel: a.rel };
    if (!shouldIntercept(ev, info, window.location.origin, window.location)) return;
    ev.preventDefault();
    const url = new URL(a.href);
    this.navigate(url.pathname + url.search + url.hash);
  }
}

function titleOf(r: Resolved): string {
  const t = r.route?.title;
  if (!t) return APP_NAME;
  return typeof t === 'function' ? t(r.params) : t;
}

export const router = new Router();
