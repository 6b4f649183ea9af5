/** Mirrors app/settings parseSecurityControls: 1 to 30 distinct names of 1 to 60 characters. */
export function controlsProblem(names: readonly string[]): string {
  if (names.length < 1 || names.length > 30) return 'must hold 1 to 30 controls';
  const seen = new Map<string, number>();
  for (const [i, raw] of names.entries()) {
    const n = raw.trim();
    if (!n) return `must not have an empty name (control ${i + 1})`;
    if (Array.from(n).length > 60) return `must have names of at most 60 characters (control ${i + 1})`;
    const k = n.toLowerCase();
    if (seen.has(k)) return `must not name a control twice (${n})`;
    seen.set(k, i);
  }
  return '';
}
