/**
 * ATT&CK descriptions are markdown-ish text: paragraphs split by blank lines,
 * "* " bullet lists, [text](url) links, **bold**, <code>…</code> and `…`,
 * and "(Citation: Name)" references. This turns one into plain data that a
 * component renders with text interpolation only, so nothing in it is ever
 * interpreted as HTML (a "<script>" in a description stays visible text).
 *
 * - Citations are dropped (their sources are not part of the catalogue).
 * - Links to ATT&CK techniques become references that open the technique
 *   in the app; any other link is shown as its text only (never fetched,
 *   never a clickable foreign URL).
 */

export type Inline =
  | { t: 'text'; text: string; bold: boolean }
  | { t: 'code'; text: string; bold: boolean }
  | { t: 'technique'; text: string; externalId: string; bold: boolean }
  | { t: 'br' };

export type Block = { t: 'p'; parts: Inline[] } | { t: 'list'; items: Inline[][] };

const CITATION = /\s?\(Citation:[^()]*(?:\([^()]*\)[^()]*)*\)/g;
const INLINE = /<code>([\s\S]*?)<\/code>|`([^`\n]+)`|\[([^\]\n]+)\]\(((?:[^()\s]|\([^()\s]*\))+)\)|\*\*|<\/?b>|<br\s*\/?>/gi;
const TECHNIQUE_URL = /^https?:\/\/attack\.mitre\.org\/techniques\/(T\d{4})(?:\/(\d{3}))?\/?$/i;
const BULLET = /^\s*(?:[*-]|\d+\.)\s+/;

/** The external id an ATT&CK technique URL points at ("…/techniques/T1059/001" → "T1059.001"), or null. */
export function techniqueIdFromUrl(url: string): string | null {
  const m = TECHNIQUE_URL.exec(url.trim());
  if (!m) return null;
  return m[2] ? `${m[1].toUpperCase()}.${m[2]}` : m[1].toUpperCase();
}

export function stripCitations(s: string): string {
  return s.replace(CITATION, '');
}

/** Inline markup of one paragraph or list item. `bold` carries over between calls of one block. */
function inline(src: string, state: { bold: boolean }): Inline[] {
  const out: Inline[] = [];
  const text = (s: string) => {
    if (!s) return;
    const last = out[out.length - 1];
    if (last && last.t === 'text' && last.bold === state.bold) last.text += s;
    else out.push({ t: 'text', text: s, bold: state.bold });
  };
  let at = 0;
  for (const m of src.matchAll(INLINE)) {
    text(src.slice(at, m.index));
    at = m.index! + m[0].length;
    const tok = m[0].toLowerCase();
    if (m[1] !== undefined || m[2] !== undefined) {
      out.push({ t: 'code', text: m[1] ?? m[2], bold: state.bold });
    } else if (m[3] !== undefined) {
      const id = techniqueIdFromUrl(m[4]);
      if (id) out.push({ t: 'technique', text: m[3], externalId: id, bold: state.bold });
      else text(m[3]);
    } else if (tok === '**') {
      state.bold = !state.bold;
    } else if (tok === '<b>') {
      state.bold = true;
    } else if (tok === '</b>') {
      state.bold = false;
    } else {
      out.push({ t: 'br' });
    }
  }
  text(src.slice(at));
  return out;
}

export function parseDescription(src: string | null | undefined): Block[] {
  if (!src) return [];
  const clean = stripCitations(src.replace(/\r\n?/g, '\n'));
  const blocks: Block[] = [];
  for (const chunk of clean.split(/\n[ \t]*\n+/)) {
    const state = { bold: false };
    let para: string[] = [];
    let list: Inline[][] | null = null;
    const flushPara = () => {
      const s = para.join(' ').trim();
      if (s) blocks.push({ t: 'p', parts: inline(s, state) });
      para = [];
    };
    const flushList = () => {
      if (list?.length) blocks.push({ t: 'list', items: list });
      list = null;
    };
    for (const line of chunk.split('\n')) {
      if (BULLET.test(line)) {
        flushPara();
        (list ??= []).push(inline(line.replace(BULLET, '').trim(), state));
      } else if (line.trim()) {
        flushList();
        para.push(line.trim());
      }
    }
    flushPara();
    flushList();
  }
  return blocks;
}
