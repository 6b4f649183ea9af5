/**
 * Wires the session to the router (called once from main.ts):
 *
 * - a guard (lib/auth.ts authRedirect): while setup is needed every path
 *   leads to /setup; signed-out users of `meta.auth` routes go to
 *   /login?next=<path>; signed-in users on /login go on to ?next=; accounts
 *   that must enrol in MFA first go to /account;
 * - the guard runs again on every change of the session or the setup state,
 *   synchronously, so a signed-out page never renders (a 401 anywhere ends
 *   in a failed refresh, session.clear(), and the redirect to the login);
 * - the start: setup state first, then the session from the refresh cookie.
 *   The route view shows a spinner until both are known.
 */
import { authRedirect } from './auth';
import { router } from './router/router.svelte';
import { session } from './session.svelte';
import { setupState } from './setup.svelte';

let installed = false;

export function installAuth(): void {
  if (installed) return;
  installed = true;
  session.install();
  router.beforeEach((to) =>
    authRedirect(to, {
      setupNeeded: setupState.needed,
      status: session.status,
      mfaSetupRequired: !!session.user?.mfa_setup_required,
    }),
  );
  session.onChange(() => router.recheck());
  setupState.onChange(() => router.recheck());
}

/** Learns the setup state, then restores the session from the refresh cookie. */
export async function startAuth(): Promise<void> {
  const needed = await setupState.check();
  if (needed) session.clear();
  else await session.restore();
}
