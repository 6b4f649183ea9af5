/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The build output is embedded into the Go binary (assets/dist, committed),
// so it must be deterministic: content-hashed names under dist/assets/, no
// timestamps, no inline scripts or styles (the server sends a strict CSP).
export default defineConfig({
  plugins: [svelte()],
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
