/**
 * One way to validate (issue 13, item 6): errors are inline under the field
 * (lib/forms.ts FormCheck), never the browser's own bubbles. Every <form> of
 * the sources is novalidate, and no input carries the native `required`
 * (Field marks required fields with aria-required).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

function svelteFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...svelteFiles(p));
    else if (name.endsWith('.svelte')) out.push(p);
  }
  return out;
}

const root = new URL('.', import.meta.url).pathname;

/** The opening tags <name …> of a Svelte source, reading {…} expressions whole (they may hold "=>"). */
function openingTags(s: string, names: string[]): string[] {
  const out: string[] = [];
  const re = new RegExp(`<(${names.join('|')})\\b`, 'g');
  for (const m of s.matchAll(re)) {
    let depth = 0;
    let i = m.index!;
    for (; i < s.length; i++) {
      const c = s[i];
      if (c === '{') depth++;
      else if (c === '}') depth--;
      else if (c === '>' && depth === 0) break;
    }
    out.push(s.slice(m.index!, i + 1));
  }
  return out;
}

describe('forms', () => {
  const files = svelteFiles(root).map((p) => ({ p: p.slice(root.length), s: readFileSync(p, 'utf8').replace(/<!--[\s\S]*?-->/g, '') }));

  it('finds the forms', () => {
    expect(files.filter((f) => f.s.includes('<form')).length).toBeGreaterThan(20);
  });

  it('every <form> is novalidate', () => {
    const bad: string[] = [];
    for (const { p, s } of files) {
      for (const tag of openingTags(s, ['form'])) {
        if (!/\bnovalidate\b/i.test(tag)) bad.push(`${p}: ${tag.slice(0, 80)}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('no native required attribute on controls', () => {
    const bad: string[] = [];
    for (const { p, s } of files) {
      for (const tag of openingTags(s, ['input', 'select', 'textarea'])) {
        if (/\srequired(\s|=|\/|>)/.test(tag)) bad.push(`${p}: ${tag.slice(0, 80)}`);
      }
    }
    expect(bad).toEqual([]);
  });
});
