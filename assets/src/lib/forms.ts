/**
 * Form helpers of the accounts screens: client-side checks that mirror the
 * server's rules (so users learn early; the server stays the authority and
 * its field errors are shown as they come), password strength hints, and the
 * wording of field errors. Pure: unit tested in forms.test.ts.
 */
import { ApiError } from './api';

/** Mirrors the server: 12 to 256 characters (app/auth/password.go). */
export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 256;

export type FieldErrors = Record<string, string>;

export interface PasswordHint {
  id: 'length' | 'variety' | 'personal' | 'strong';
  ok: boolean;
  text: string;
}

function chars(s: string): string[] {
  return Array.from(s);
}

/** Words of the email's local part and of the name that a password should not be built on. */
function contextWords(context: readonly (string | null | undefined)[]): string[] {
  const out: string[] = [];
  for (const c of context) {
    let w = (c ?? '').trim().toLowerCase();
    const at = w.indexOf('@');
    if (at >= 0) w = w.slice(0, at);
    if (w.length >= 4) out.push(w);
  }
  return out;
}

/**
 * Hints shown under a new-password field while typing. The first three
 * follow the server's rules (length, not repetitive, not the user's name or
 * email); the last one is advice (a longer passphrase), never a requirement.
 */
export function passwordHints(pw: string, context: readonly (string | null | undefined)[] = []): PasswordHint[] {
  const n = chars(pw).length;
  const lower = pw.toLowerCase();
  const distinct = new Set(chars(lower)).size;
  const personal = contextWords(context).some((w) => lower.includes(w) && lower.length - w.length < 6);
  return [
    { id: 'length', ok: n >= MIN_PASSWORD_LENGTH && n <= MAX_PASSWORD_LENGTH, text: `At least ${MIN_PASSWORD_LENGTH} characters` },
    { id: 'variety', ok: n > 0 && distinct >= 4, text: 'Not one character repeated' },
    { id: 'personal', ok: n > 0 && !personal, text: 'Not your name or email' },
    { id: 'strong', ok: n >= 16 && distinct >= 8, text: 'Stronger: 16 or more characters, e.g. a few unrelated words' },
  ];
}

/** 0–4 for a meter: how many of the hints hold (the advice counts as one). */
export function passwordScore(pw: string, context: readonly (string | null | undefined)[] = []): number {
  if (!pw) return 0;
  return passwordHints(pw, context).filter((h) => h.ok).length;
}

/**
 * The first problem with a new password that the client can see, or "" (the
 * server also checks a list of common passwords). Like every *Problem below
 * it is a label-free predicate worded as the server's (app/auth/password.go):
 * the form shows it with the field's label (fieldSentence / FormCheck).
 */
export function passwordProblem(pw: string, context: readonly (string | null | undefined)[] = []): string {
  const n = chars(pw).length;
  if (n === 0) return 'is required';
  if (n < MIN_PASSWORD_LENGTH) return `must be at least ${MIN_PASSWORD_LENGTH} characters`;
  if (n > MAX_PASSWORD_LENGTH) return `must be at most ${MAX_PASSWORD_LENGTH} characters`;
  const hints = passwordHints(pw, context);
  if (!hints.find((h) => h.id === 'variety')!.ok) return 'is too repetitive; choose another';
  if (!hints.find((h) => h.id === 'personal')!.ok) return 'is too close to your name or email';
  return '';
}

/** Mirrors the server's email check (app/auth/users.go ValidateEmail); "" when fine. */
export function emailProblem(email: string): string {
  const e = email.trim();
  if (e === '') return 'is required';
  if (e.length > 254) return 'must be at most 254 characters';
  const at = e.indexOf('@');
  if (at <= 0 || at === e.length - 1 || e.indexOf('@', at + 1) >= 0 || /[\s<>"(),;:\\[\]]/.test(e)) {
    return 'must be an email address like name@example.com';
  }
  return '';
}

/** Mirrors the server's name check (ValidateName); "" when fine. */
export function nameProblem(name: string, max = 200): string {
  const n = name.trim();
  if (n === '') return 'is required';
  if (chars(n).length > max) return `must be at most ${max} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(n)) return 'must not contain control characters';
  return '';
}

/** Mirrors text.Check (app/text): optional text up to max characters. */
export function textProblem(v: string, max: number, required = false): string {
  if (required && v.trim() === '') return 'is required';
  if (chars(v).length > max) return `must be at most ${max} characters`;
  return '';
}

/** A date range: the end may not come before the start (ISO dates or datetimes compare as text). */
export function dateOrderProblem(start: string | null | undefined, end: string | null | undefined, what = 'the start date'): string {
  if (!start || !end) return '';
  return end < start ? `must not be before ${what}` : '';
}

/** A TOTP code is six digits; spaces and dashes are ignored. */
export function normalizeCode(code: string): string {
  return code.replace(/[\s-]/g, '');
}

export function isTotpCode(code: string): boolean {
  return /^\d{6}$/.test(normalizeCode(code));
}

/**
 * Turns a field problem into the sentence shown under the field. The server
 * and the client checks word problems the same way (app/fieldmessages_test.go
 * keeps the server to it): a label-free predicate starting with a lowercase
 * letter gets the label in front ("End date" + "must not be before the start
 * date" → "End date must not be before the start date."); anything else is a
 * whole sentence, kept as it is (with a full stop).
 */
export function fieldSentence(label: string, problem: string): string {
  const p = problem.trim();
  if (!p) return '';
  const body = /^[a-z]/.test(p) ? `${label} ${p}` : p;
  return /[.!?]$/.test(body) ? body : `${body}.`;
}

/**
 * The one way a form collects its inline errors, client checks and server
 * answers alike: every error is keyed by the API field name (so the server's
 * details land on the same field) and worded with that field's label.
 *
 *   const check = new FormCheck({ name: 'Name', ends_on: 'End date' });
 *   check.add('name', nameProblem(form.name));
 *   check.add('ends_on', dateOrderProblem(form.starts_on, form.ends_on));
 *   if (!check.ok) { errors = check.errors; return; }
 *   …catch (err) { errors = check.server(err); }
 */
export class FormCheck {
  readonly errors: FieldErrors = {};
  constructor(readonly labels: Record<string, string>) {}

  /** Records a problem (a predicate or a sentence) for a field; the first one per field wins. */
  add(key: string, problem: string | null | undefined): this {
    if (problem && !this.errors[key]) this.errors[key] = fieldSentence(this.label(key), problem);
    return this;
  }

  label(key: string): string {
    return labelFor(key, this.labels);
  }

  get ok(): boolean {
    return noErrors(this.errors);
  }

  /** The field errors of a failed request, worded with the labels ({} for other failures). */
  server(err: unknown): FieldErrors {
    return serverFieldErrors(err, this.labels);
  }
}

/**
 * The label of an error key. Nested keys ("outcomes.0.notes") use the label
 * of their full path, else of their last part, else a humanised name.
 */
export function labelFor(key: string, labels: Record<string, string>): string {
  if (labels[key]) return labels[key];
  const last = key.split('.').pop() ?? key;
  return labels[last] ?? humanize(last);
}

/**
 * The inline errors of a failed request: the server's field errors, worded
 * with the fields' labels; keys without a label are kept under their name.
 */
export function serverFieldErrors(err: unknown, labels: Record<string, string>): FieldErrors {
  if (!(err instanceof ApiError)) return {};
  const out: FieldErrors = {};
  for (const [k, v] of Object.entries(err.fieldErrors)) {
    out[k] = fieldSentence(labelFor(k, labels), v);
  }
  return out;
}

/** "expires_in_days" → "Expires in days". */
export function humanize(key: string): string {
  const s = key.replace(/_/g, ' ').trim();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** True when no field has an error. */
export function noErrors(errors: FieldErrors): boolean {
  return Object.values(errors).every((v) => !v);
}

/** Seconds to wait from a 429 (details.retry_after_seconds), else null. */
export function retryAfterSeconds(err: unknown): number | null {
  if (!(err instanceof ApiError) || err.status !== 429) return null;
  const v = err.details.retry_after_seconds;
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  return Number.isFinite(n) && n > 0 ? Math.ceil(n) : null;
}

/** "42 s", "2 min 5 s". */
export function formatWait(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  const r = s % 60;
  return r ? `${m} min ${r} s` : `${m} min`;
}

/**
 * For a form's `oninput`: the field being edited loses its error (fields carry
 * their error key as `name`), so a stale message does not sit under a
 * corrected value. <form oninput={(e) => clearFieldError(errors, e)}>
 */
export function clearFieldError(errors: FieldErrors, e: Event): void {
  const name = (e.target as { name?: unknown } | null)?.name;
  if (typeof name === 'string' && name && errors[name]) delete errors[name];
}
