import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/vite-plugin-svelte').SvelteConfig} */
export default {
  preprocess: vitePreprocess(),
  compilerOptions: {
    // CSS goes into emitted .css files (CSP: style-src 'self', no <style> injection).
    css: 'external',
  },
};
