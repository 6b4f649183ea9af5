/**
 * The route table: first match wins (see lib/router/match.ts for the
 * pattern syntax). Unknown paths render routes/NotFound.svelte.
 * Later issues add /setup, /login, /attack, /library, /missions, /missions/:id,
 * /admin/users … here, with `meta: { auth: true, perm: '…' }` where needed.
 * Big screens use `load: () => import(…)` so they become their own chunk.
 */
import type { RouteDef } from './lib/router/router.svelte';
import Home from './routes/Home.svelte';

export const routes: RouteDef[] = [
  { path: '/', component: Home, title: 'Home' },
  // Component gallery (not in the navigation).
  { path: '/_ui', load: () => import('./routes/UiKit.svelte'), title: 'Components' },
];
