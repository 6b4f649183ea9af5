/**
 * Static guards for the server's Content-Security-Policy (style-src 'self',
 * script-src 'self'): the browser e2e tests catch violations at run time;
 * these catch the usual mistakes before a build.
 */
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function files(dir: string, ext: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return files(p, ext);
    return p.endsWith(ext) ? [p] : [];
  });
}

/** The template part of a .svelte file: <script> and <style> blocks removed. */
function markup(src: string): string {
  return src.replace(/<script[\s\S]*?<\/script>/g, '').replace(/<style[\s\S]*?<\/style>/g, '');
}

describe('CSP-safe sources', () => {
  const svelteFiles = files(path.join(root, 'src'), '.svelte');

  it('finds the components', () => {
    expect(svelteFiles.length).toBeGreaterThan(10);
  });

  it.each(svelteFiles.map((f) => [path.relative(root, f), f]))(
    '%s has no static style="…" attribute (use a class or style:prop={…})',
    (_name, file) => {
      const m = markup(readFileSync(file, 'utf8')).match(/<[a-zA-Z][^>]*\sstyle\s*=\s*["'{][^>]*>/);
      expect(m?.[0] ?? null).toBeNull();
    },
  );

  it.each(svelteFiles.map((f) => [path.relative(root, f), f]))('%s loads nothing from another origin', (_name, file) => {
    const m = readFileSync(file, 'utf8').match(/(?:src|href|url\()\s*=?\s*["']?(?:https?:)?\/\/[^"')\s]+/);
    expect(m?.[0] ?? null).toBeNull();
  });
});

describe('built index.html', () => {
  const index = path.join(root, 'dist', 'index.html');

  it.skipIf(!existsSync(index))('has no inline script or style and no external URL', () => {
    const html = readFileSync(index, 'utf8');
    for (const tag of html.match(/<script\b[^>]*>/g) ?? []) expect(tag).toMatch(/\ssrc=/);
    expect(html).not.toMatch(/<style\b/);
    expect(html).not.toMatch(/\sstyle=/);
    expect(html).not.toMatch(/(?:src|href)=["']?(?:https?:)?\/\//);
    expect(html).not.toMatch(/rel=["']?(?:prefetch|preconnect|dns-prefetch)/);
  });
});
