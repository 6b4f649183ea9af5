/**
 * Theme preference: "system" follows prefers-color-scheme; "light"/"dark"
 * force a theme via <html data-theme>. Persisted in localStorage under
 * THEME_KEY (read before first paint by public/theme-init.js: keep in sync).
 */
export type ThemePref = 'system' | 'light' | 'dark';

export const THEME_KEY = 'purplebook.theme';

function readPref(): ThemePref {
  try {
    const v = localStorage.getItem(THEME_KEY);
    return v === 'light' || v === 'dark' ? v : 'system';
  } catch {
    return 'system';
  }
}

class Theme {
  pref = $state<ThemePref>('system');
  systemDark = $state(false);

  /** The theme actually shown. */
  get effective(): 'light' | 'dark' {
    return this.pref === 'system' ? (this.systemDark ? 'dark' : 'light') : this.pref;
  }

  init() {
    this.pref = readPref();
    const mq = window.matchMedia('(prefers-color-scheme: dark)');
    this.systemDark = mq.matches;
    mq.addEventListener('change', (e) => (this.systemDark = e.matches));
    // Another tab changed the preference.
    window.addEventListener('storage', (e) => {
      if (e.key === THEME_KEY) this.#apply(readPref(), false);
    });
    this.#apply(this.pref, false);
  }

  set(pref: ThemePref) {
    this.#apply(pref, true);
  }

  /** system → light → dark → system */
  cycle() {
    this.set(this.pref === 'system' ? 'light' : this.pref === 'light' ? 'dark' : 'system');
  }

  #apply(pref: ThemePref, persist: boolean) {
    this.pref = pref;
    const root = document.documentElement;
    if (pref === 'system') root.removeAttribute('data-theme');
    else root.setAttribute('data-theme', pref);
    if (!persist) return;
    try {
      if (pref === 'system') localStorage.removeItem(THEME_KEY);
      else localStorage.setItem(THEME_KEY, pref);
    } catch {
      /* storage disabled: the choice lasts for this page only */
    }
  }
}

export const theme = new Theme();
