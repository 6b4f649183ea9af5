/**
 * Path matching for the client-side router. Pure functions, no DOM: unit
 * tested in match.test.ts.
 *
 * Pattern syntax (segments separated by "/"):
 *   /missions          static segment, case-sensitive
 *   /missions/:id      named parameter (one non-empty segment, URI-decoded)
 *   /docs/:page?       optional parameter (last segment only)
 *   /files/*           rest: matches zero or more trailing segments, exposed as params["*"]
 * A trailing slash on the path is ignored ("/missions/" matches "/missions").
 * Routes are tried in order: the first match wins.
 */

export type Params = Record<string, string>;

type Segment =
  | { kind: 'static'; value: string }
  | { kind: 'param'; name: string; optional: boolean }
  | { kind: 'rest' };

export interface CompiledPattern {
  pattern: string;
  segments: Segment[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function splitPath(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

/** Parses a pattern; throws on malformed patterns (a programming error). */
export function compilePattern(pattern: string): CompiledPattern {
  if (!pattern.startsWith('/')) {
    throw new Error(`route pattern must start with "/": ${pattern}`);
  }
  const parts = splitPath(pattern);
  const segments: Segment[] = parts.map((part, i) => {
    const last = i === parts.length - 1;
    if (part === '*') {
      if (!last) throw new Error(`"*" must be the last segment: ${pattern}`);
      return { kind: 'rest' };
    }
    if (part.startsWith(':')) {
      const optional = part.endsWith('?');
      const name = part.slice(1, optional ? -1 : undefined);
      if (!NAME.test(name)) throw new Error(`bad parameter name "${name}" in ${pattern}`);
      if (optional && !last) throw new Error(`optional parameter must be last: ${pattern}`);
      return { kind: 'param', name, optional };
    }
    return { kind: 'static', value: part };
  });
  const names = segments.flatMap((s) => (s.kind === 'param' ? [s.name] : []));
  if (new Set(names).size !== names.length) {
    throw new Error(`duplicate parameter name in ${pattern}`);
  }
  return { pattern, segments };
}

function decode(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null; // malformed %-escape: treat as no match rather than crash
  }
}

/**
 * Matches a pathname (no query, no hash) against a pattern. Returns the
 * decoded parameters, or null when it does not match.
 */
export function matchPath(pattern: string | CompiledPattern, pathname: string): Params | null {
  const compiled = typeof pattern === 'string' ? compilePattern(pattern) : pattern;
  const parts = splitPath(pathname);
  const params: Params = {};
  const segs = compiled.segments;
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i];
    if (seg.kind === 'rest') {
      const rest: string[] = [];
      for (const p of parts.slice(i)) {
        const d = decode(p);
        if (d === null) return null;
        rest.push(d);
      }
      params['*'] = rest.join('/');
      return params;
    }
    const part = parts[i];
    if (part === undefined) {
      if (seg.kind === 'param' && seg.optional) continue;
      return null;
    }
    const decoded = decode(part);
    if (decoded === null) return null;
    if (seg.kind === 'static') {
      if (decoded !== seg.value) return null;
    } else {
      params[seg.name] = decoded;
    }
  }
  return parts.length <= segs.length ? params : null;
}

export interface RouteLike {
  path: string;
}

export interface Match<R extends RouteLike> {
  route: R;
  params: Params;
}

/** A route table compiled once; resolve() returns the first matching route. */
export function createMatcher<R extends RouteLike>(routes: readonly R[]) {
  const compiled = routes.map((route) => ({ route, pattern: compilePattern(route.path) }));
  return function resolve(pathname: string): Match<R> | null {
    for (const { route, pattern } of compiled) {
      const params = matchPath(pattern, pathname);
      if (params) return { route, params };
    }
    return null;
  };
}

/**
 * Builds a path from a pattern and parameters, URI-encoding each value:
 * buildPath('/missions/:id', { id: 'a b' }) === '/missions/a%20b'.
 */
export function buildPath(pattern: string, params: Params = {}): string {
  const { segments } = compilePattern(pattern);
  const out: string[] = [];
  for (const seg of segments) {
    if (seg.kind === 'static') out.push(seg.value);
    else if (seg.kind === 'rest') {
      const rest = params['*'];
      if (rest) out.push(...rest.split('/').map(encodeURIComponent));
    } else {
      const v = params[seg.name];
      if (v === undefined || v === '') {
        if (seg.optional) continue;
        throw new Error(`missing parameter "${seg.name}" for ${pattern}`);
      }
      out.push(encodeURIComponent(v));
    }
  }
  return '/' + out.join('/');
}

/** Splits "/a/b?x=1#h" into its parts. Relative input is taken from "/". */
export function parseLocation(href: string): { path: string; search: string; hash: string } {
  const url = new URL(href, 'http://local.invalid/');
  return { path: url.pathname, search: url.search, hash: url.hash };
}

export interface LinkClick {
  button: number;
  metaKey: boolean;
  ctrlKey: boolean;
  shiftKey: boolean;
  altKey: boolean;
  defaultPrevented: boolean;
}

export interface AnchorInfo {
  href: string; // absolute URL (anchor.href)
  target: string;
  download: boolean;
  rel: string;
}

/**
 * Decides whether a click on an anchor should be handled by the router (a
 * same-origin, plain left click to an app path) or left to the browser.
 */
export function shouldIntercept(
  ev: LinkClick,
  a: AnchorInfo,
  origin: string,
  here?: { pathname: string; search: string },
): boolean {
  if (ev.defaultPrevented || ev.button !== 0) return false;
  if (ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return false;
  if (a.download) return false;
  if (a.target && a.target !== '_self') return false;
  if (/(^|\s)external(\s|$)/i.test(a.rel)) return false;
  let url: URL;
  try {
    url = new URL(a.href);
  } catch {
    return false;
  }
  if (url.origin !== origin) return false;
  // In-page anchors ("#main-content") are left to the browser.
  if (url.hash && here && url.pathname === here.pathname && url.search === here.search) return false;
  // API endpoints and files (downloads, exports) are real requests.
  if (url.pathname === '/api' || url.pathname.startsWith('/api/')) return false;
  const last = url.pathname.split('/').pop() ?? '';
  if (last.includes('.')) return false;
  return true;
}
