/// <reference types="vitest/config" />
import { readFileSync } from 'node:fs';
import { defineConfig, type Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

/**
 * Fails the build when the bundle holds code of an npm package that has no
 * notice in THIRD_PARTY_NOTICES.md (`## npm: <name> <version>` sections,
 * written by `make notices` from the `dependencies` in package.json): a
 * package imported by the app must be a runtime dependency, with its notice.
 */
function bundledPackagesHaveNotices(): Plugin {
  const packageOf = (id: string): string | null => {
    if (id.startsWith('\0vite/')) return 'vite'; // vite's own helpers (module preload)
    const i = id.lastIndexOf('/node_modules/');
    if (i < 0) return null;
    const parts = id.slice(i + '/node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  };
  return {
    name: 'purplebook:bundled-packages-have-notices',
    apply: 'build',
    generateBundle(_options, bundle) {
      const notices = readFileSync(new URL('../THIRD_PARTY_NOTICES.md', import.meta.url), 'utf8');
      const listed = new Set([...notices.matchAll(/^## npm: (\S+) /gm)].map((m) => m[1]));
      const missing = new Set<string>();
      for (const out of Object.values(bundle)) {
        if (out.type !== 'chunk') continue;
        for (const id of out.moduleIds) {
          const name = packageOf(id);
          if (name && !listed.has(name)) missing.add(name);
        }
      }
      if (missing.size > 0) {
        this.error(
          `the bundle holds code of ${[...missing].sort().join(', ')}, which THIRD_PARTY_NOTICES.md does not list: ` +
            'make it a runtime dependency ("dependencies" in assets/package.json) and run make notices',
        );
      }
    },
  };
}

// The build output is embedded into the Go binary (assets/dist, committed),
// so it must be deterministic: content-hashed names under dist/assets/, no
// timestamps, no inline scripts or styles (the server sends a strict CSP).
export default defineConfig({
  plugins: [svelte(), bundledPackagesHaveNotices()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: false,
    // Never inline assets as data: URLs into JS/CSS; keep them as files.
    assetsInlineLimit: 0,
    cssCodeSplit: true,
    // The polyfill is an inline <script>, which the CSP forbids.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    chunkSizeWarningLimit: 600,
  },
  server: {
    // `npm run dev`: API calls go to a running `purplebook serve`
    // (PURPLEBOOK_API, default the server's default listen address).
    proxy: {
      '/api': {
        target: process.env.PURPLEBOOK_API ?? 'http://127.0.0.1:8420',
        changeOrigin: false,
      },
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
