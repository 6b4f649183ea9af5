/**
 * Atomic Red Team input arguments in the browser: the live preview of a
 * command while red types values, and value checks before saving. The
 * substitution rule is defined once, in Go (app/templates/render.go,
 * templates.Render), which renders what the API returns; this is the same
 * rule for the preview, tested on the same cases (atomic.test.ts):
 *  - #{name} of a declared argument → its value when not empty, else its
 *    default, else it stays and the name is "unfilled";
 *  - #{name} naming no declared argument stays and is not reported;
 *  - names match exactly; one pass (a value containing #{…} is not expanded).
 */
import type { InputArgument } from './missions';

const PLACEHOLDER = /#\{([^{}\s]+)\}/g;

/** An argument default as text ('' for null). */
export function defaultText(v: InputArgument['default'] | undefined): string {
  if (v === null || v === undefined) return '';
  return String(v);
}

/** A piece of rendered text: plain, a substituted value, or a placeholder still unfilled. */
export interface Segment {
  text: string;
  kind: 'text' | 'value' | 'unfilled';
  /** The argument name (value and unfilled segments). */
  name?: string;
}

/** Renders text with the values and defaults; returns segments (for highlighting), the text and the unfilled names. */
export function renderAtomic(
  text: string,
  args: InputArgument[],
  values: Record<string, string> = {},
): { text: string; segments: Segment[]; unfilled: string[] } {
  const byName = new Map(args.map((a) => [a.name, a]));
  const segments: Segment[] = [];
  const unfilled: string[] = [];
  let last = 0;
  for (const m of text.matchAll(PLACEHOLDER)) {
    const at = m.index ?? 0;
    const name = m[1];
    const arg = byName.get(name);
    if (!arg) continue;
    if (at > last) segments.push({ text: text.slice(last, at), kind: 'text' });
    const v = values[name] ?? '';
    const d = defaultText(arg.default);
    if (v !== '') segments.push({ text: v, kind: 'value', name });
    else if (d !== '') segments.push({ text: d, kind: 'value', name });
    else {
      segments.push({ text: m[0], kind: 'unfilled', name });
      if (!unfilled.includes(name)) unfilled.push(name);
    }
    last = at + m[0].length;
  }
  if (last < text.length) segments.push({ text: text.slice(last), kind: 'text' });
  return { text: segments.map((s) => s.text).join(''), segments, unfilled };
}

/** A value check by argument type (mirrors templates.CheckArgumentValues); '' when fine. */
export function checkValue(arg: Pick<InputArgument, 'type'>, value: string): string {
  if (value === '') return '';
  if (value.includes('\u0000')) return 'must be text without NUL characters';
  if ([...value].length > 4000) return 'must be at most 4000 characters';
  const t = value.trim();
  switch ((arg.type || '').toLowerCase()) {
    case 'integer':
    case 'int':
      return /^[+-]?\d+$/.test(t) ? '' : 'must be a whole number';
    case 'float':
    case 'number':
      return t !== '' && !Number.isNaN(Number(t)) && !/^0x/i.test(t) ? '' : 'must be a number';
    case 'bool':
    case 'boolean':
      return /^(1|0|t|f|true|false|TRUE|FALSE|True|False|T|F)$/.test(t) ? '' : 'must be true or false';
    case 'url':
      try {
        const u = new URL(t);
        return u.protocol && (u.host || u.pathname) ? '' : 'must be a URL like https://example.com/file';
      } catch {
        return 'must be a URL like https://example.com/file';
      }
    default:
      return '';
  }
}

/** The values to send: empty ones left out (they mean "the default"). */
export function valuesToSend(values: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) if (v !== '') out[k] = v;
  return out;
}

/** True when the values differ from the stored ones (empties ignored). */
export function valuesChanged(stored: Record<string, string> | undefined, values: Record<string, string>): boolean {
  const a = valuesToSend(stored ?? {});
  const b = valuesToSend(values);
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length !== kb.length || ka.some((k, i) => k !== kb[i] || a[k] !== b[k]);
}
