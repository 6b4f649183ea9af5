/**
 * Dates for the accounts screens: absolute ("26 Nov 2026, 23:58") for
 * tooltips and tables, relative ("5 min ago", "in 3 days") for scanning.
 * Pure apart from the default `now`; unit tested in when.test.ts.
 */

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

function parse(iso: string | null | undefined): Date | null {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

export function formatDateTime(iso: string | null | undefined, empty = '—'): string {
  const d = parse(iso);
  return d ? dateTime.format(d) : empty;
}

export function formatDate(iso: string | null | undefined, empty = '—'): string {
  const d = parse(iso);
  return d ? dateOnly.format(d) : empty;
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 86400],
  ['month', 30 * 86400],
  ['week', 7 * 86400],
  ['day', 86400],
  ['hour', 3600],
  ['minute', 60],
];

/** "just now", "5 minutes ago", "in 3 days" (English, as the rest of the UI). */
export function relativeTime(iso: string | null | undefined, now: Date = new Date(), empty = '—'): string {
  const d = parse(iso);
  if (!d) return empty;
  const secs = Math.round((d.getTime() - now.getTime()) / 1000);
  const abs = Math.abs(secs);
  if (abs < 45) return 'just now';
  const rtf = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
  for (const [unit, size] of UNITS) {
    if (abs >= size) return rtf.format(Math.round(secs / size), unit);
  }
  return rtf.format(Math.round(secs / 60), 'minute');
}

/** The ISO string of the start of a local calendar day given as YYYY-MM-DD (an <input type="date"> value), or "". */
export function startOfDayISO(day: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return '';
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

/** The ISO string of the start of the day after `day` (an exclusive upper bound), or "". */
export function endOfDayISO(day: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return '';
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + 1);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}
