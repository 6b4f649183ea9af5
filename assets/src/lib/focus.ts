/**
 * Focuses an element once the current navigation has settled. The router
 * moves focus to <main> after every navigation (a microtask), so a page that
 * wants its first field focused (sign-in, setup) asks for it a little later.
 */
export function focusSoon(id: string): void {
  setTimeout(() => document.getElementById(id)?.focus(), 0);
}
