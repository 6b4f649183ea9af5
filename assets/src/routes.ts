/**
 * The route table: first match wins (see lib/router/match.ts for the
 * pattern syntax). Unknown paths render routes/NotFound.svelte.
 * Later issues add /setup, /login, /attack, /library, /missions, /missions/:id,
 * /admin/users … here, with `meta: { auth: true, perm: '…' }` where needed.
 * Big screens use `load: () => import(…)` so they become their own chunk.
 */
import type { RouteDef } from './lib/router/router.svelte';
import Home from './routes/Home.svelte';
import Login from './routes/auth/Login.svelte';

export const routes: RouteDef[] = [
  { path: '/', component: Home, title: 'Home', meta: { auth: true } },
  { path: '/attack', load: () => import('./routes/attack/Attack.svelte'), title: 'ATT&CK', meta: { auth: true } },
  // Accounts and access (issue 4): sign-in pages in the bare layout, then the profile and administration.
  { path: '/login', component: Login, title: 'Sign in', meta: { guest: true, layout: 'bare' } },
  { path: '/setup', load: () => import('./routes/auth/Setup.svelte'), title: 'Set up Purplebook', meta: { layout: 'bare' } },
  { path: '/invite/:token', load: () => import('./routes/auth/AcceptInvite.svelte'), title: 'Accept invitation', meta: { layout: 'bare' } },
  { path: '/account', load: () => import('./routes/account/Account.svelte'), title: 'Your account', meta: { auth: true } },
  { path: '/admin/users', load: () => import('./routes/admin/Users.svelte'), title: 'Users', meta: { auth: true, perm: 'user.manage' } },
  { path: '/admin/groups', load: () => import('./routes/admin/Groups.svelte'), title: 'Groups', meta: { auth: true, perm: 'group.manage' } },
  { path: '/admin/invitations', load: () => import('./routes/admin/Invitations.svelte'), title: 'Invitations', meta: { auth: true, perm: 'invitation.manage' } },
  { path: '/admin/system', load: () => import('./routes/admin/System.svelte'), title: 'System', meta: { auth: true, perm: 'settings.manage' } },
  { path: '/admin/settings', load: () => import('./routes/admin/Settings.svelte'), title: 'Settings', meta: { auth: true, perm: 'settings.manage' } },
  { path: '/admin/backups', load: () => import('./routes/admin/Backups.svelte'), title: 'Backups', meta: { auth: true, perm: 'backup.manage' } },
  { path: '/admin/audit', load: () => import('./routes/admin/Audit.svelte'), title: 'Audit log', meta: { auth: true, perm: 'audit.read' } },
  // Template library (issue 6): test templates, scenario templates, the scenario builder.
  { path: '/library', load: () => import('./routes/library/Library.svelte'), title: 'Test templates', meta: { auth: true, perm: 'test_template.read' } },
  { path: '/library/scenarios', load: () => import('./routes/library/Scenarios.svelte'), title: 'Scenario templates', meta: { auth: true, perm: 'scenario_template.read' } },
  { path: '/library/scenarios/:id', load: () => import('./routes/library/ScenarioBuilder.svelte'), title: 'Scenario builder', meta: { auth: true, perm: 'scenario_template.read' } },
  // Missions (issue 7): list, board, test detail.
  { path: '/missions', load: () => import('./routes/missions/Missions.svelte'), title: 'Missions', meta: { auth: true, perm: 'mission.read' } },
  { path: '/missions/:id', load: () => import('./routes/missions/Mission.svelte'), title: 'Mission', meta: { auth: true, perm: 'mission.read' } },
  // Results (issue 16): a mission's results, the organisation-wide coverage, a Navigator layer into a plan.
  { path: '/missions/:id/results', load: () => import('./routes/results/MissionResults.svelte'), title: 'Results', meta: { auth: true, perm: 'mission.read' } },
  { path: '/coverage', load: () => import('./routes/results/Coverage.svelte'), title: 'Coverage', meta: { auth: true, perm: 'mission.read' } },
  { path: '/layers/import', load: () => import('./routes/results/LayerImport.svelte'), title: 'Plan from a layer', meta: { auth: true, perm: 'test_template.read' } },
  { path: '/missions/:id/tests/:tid', load: () => import('./routes/missions/MissionTest.svelte'), title: 'Mission test', meta: { auth: true, perm: 'mission.read' } },
  // Engagement bundles (issue 12): import, this instance, trusted keys.
  { path: '/bundles', load: () => import('./routes/bundles/Bundles.svelte'), title: 'Bundles', meta: { auth: true } },
  // Help: the API reference from the server's OpenAPI document (not /api: the server keeps /api for JSON).
  { path: '/help/api', load: () => import('./routes/help/ApiDocs.svelte'), title: 'API', meta: { auth: true } },
  // Component gallery (not in the navigation).
  { path: '/_ui', load: () => import('./routes/UiKit.svelte'), title: 'Components' },
];
