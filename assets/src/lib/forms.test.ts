import { describe, expect, it } from 'vitest';
import { parseErrorResponse } from './api';
import {
  FormCheck,
  dateOrderProblem,
  labelFor,
  textProblem,
  emailProblem,
  fieldSentence,
  formatWait,
  humanize,
  clearFieldError,
  isTotpCode,
  nameProblem,
  normalizeCode,
  passwordHints,
  passwordProblem,
  passwordScore,
  retryAfterSeconds,
  serverFieldErrors,
} from './forms';

describe('passwords', () => {
  it('follows the server rules: length, variety, not the name or email', () => {
    expect(passwordProblem('')).toBe('is required');
    expect(passwordProblem('short')).toBe('must be at least 12 characters');
    expect(passwordProblem('x'.repeat(257))).toMatch(/at most 256/);
    expect(passwordProblem('abababababab')).toMatch(/repetitive/);
    expect(passwordProblem('anastasia123', ['anastasia@example.org'])).toMatch(/name or email/);
    expect(passwordProblem('correct horse battery', ['ana@example.org', 'Ana'])).toBe('');
  });

  it('counts characters, not UTF-16 units', () => {
    expect(passwordProblem('🔑🔒🔓🗝️🔑🔒')).toMatch(/at least 12/); // 7 characters, more units
  });

  it('gives hints and a score for the meter', () => {
    const hints = passwordHints('correct horse battery staple');
    expect(hints.map((h) => h.id)).toEqual(['length', 'variety', 'personal', 'strong']);
    expect(hints.every((h) => h.ok)).toBe(true);
    expect(passwordScore('correct horse battery staple')).toBe(4);
    expect(passwordScore('')).toBe(0);
    expect(passwordHints('abc').find((h) => h.id === 'length')!.ok).toBe(false);
    // A long password that only repeats the email is not "personal"-ok.
    expect(passwordHints('ana.analyst', ['ana.analyst@x.org']).find((h) => h.id === 'personal')!.ok).toBe(false);
  });
});

describe('emails and names', () => {
  it.each([
    ['', 'is required'],
    ['ana', /like name@example.com/],
    ['ana@', /like name@example.com/],
    ['@x.org', /like name@example.com/],
    ['a@b@c', /like name@example.com/],
    ['a b@x.org', /like name@example.com/],
    ['ana@example.org', ''],
    ['  ana@example.org ', ''],
  ])('emailProblem(%j)', (v, want) => {
    if (typeof want === 'string') expect(emailProblem(v)).toBe(want);
    else expect(emailProblem(v)).toMatch(want);
  });

  it('nameProblem', () => {
    expect(nameProblem('  ')).toBe('is required');
    expect(nameProblem('x'.repeat(201))).toBe('must be at most 200 characters');
    expect(nameProblem('x'.repeat(101), 100)).toBe('must be at most 100 characters');
    expect(nameProblem('a\u0007b')).toMatch(/control/);
    expect(nameProblem('Ana Analyst')).toBe('');
  });
});

describe('codes', () => {
  it('normalises and checks TOTP codes', () => {
    expect(normalizeCode(' 123 456 ')).toBe('123456');
    expect(normalizeCode('123-456')).toBe('123456');
    expect(isTotpCode('123 456')).toBe(true);
    expect(isTotpCode('12345')).toBe(false);
    expect(isTotpCode('abcdef')).toBe(false);
  });
});

describe('server field errors', () => {
  it('words the problems with the field labels', () => {
    expect(fieldSentence('Password', 'must be at least 12 characters')).toBe('Password must be at least 12 characters.');
    expect(fieldSentence('Email', 'is already in use')).toBe('Email is already in use.');
    expect(fieldSentence('Code', 'was already used; wait for the next code')).toBe('Code was already used; wait for the next code.');
    expect(fieldSentence('Permissions', 'include unknown permissions: x')).toBe('Permissions include unknown permissions: x.');
    expect(fieldSentence('End date', 'must not be before the start date')).toBe('End date must not be before the start date.');
    // A capitalised problem is a whole sentence: kept as it is.
    expect(fieldSentence('Value', 'Turn on MFA for your own account first.')).toBe('Turn on MFA for your own account first.');
    expect(fieldSentence('Name', 'The two passwords differ')).toBe('The two passwords differ.');
    expect(fieldSentence('Name', 'Enter a name.')).toBe('Enter a name.');
    expect(fieldSentence('Name', '')).toBe('');
  });

  it('reads ApiError.fieldErrors, keeping unknown keys readable', () => {
    const err = parseErrorResponse(
      422,
      '',
      JSON.stringify({
        error: { code: 'validation_failed', message: 'Some fields are invalid.', details: { new_password: 'is too common; choose another', expires_in_days: 'must be from 1 to 365' } },
      }),
    );
    expect(serverFieldErrors(err, { new_password: 'New password' })).toEqual({
      new_password: 'New password is too common; choose another.',
      expires_in_days: 'Expires in days must be from 1 to 365.',
    });
    expect(serverFieldErrors(new Error('x'), {})).toEqual({});
    expect(humanize('group_ids')).toBe('Group ids');
  });
});

describe('429', () => {
  it('reads the wait from the details', () => {
    const err = parseErrorResponse(
      429,
      '',
      JSON.stringify({ error: { code: 'too_many_requests', message: 'Too many failed logins. Try again in 8 seconds.', details: { retry_after_seconds: 8 } } }),
    );
    expect(retryAfterSeconds(err)).toBe(8);
    expect(retryAfterSeconds(parseErrorResponse(401, '', ''))).toBeNull();
    expect(retryAfterSeconds(parseErrorResponse(429, '', ''))).toBeNull();
  });

  it('formats the wait', () => {
    expect(formatWait(8)).toBe('8 s');
    expect(formatWait(59.2)).toBe('1 min');
    expect(formatWait(125)).toBe('2 min 5 s');
    expect(formatWait(-3)).toBe('0 s');
  });
});

describe('clearFieldError', () => {
  it('drops the error of the field being edited only', () => {
    const errors: Record<string, string> = { name: 'Enter a name.', email: 'Enter an email address.' };
    clearFieldError(errors, { target: { name: 'name' } } as unknown as Event);
    expect(errors).toEqual({ email: 'Enter an email address.' });
    clearFieldError(errors, { target: { name: '' } } as unknown as Event);
    clearFieldError(errors, { target: null } as unknown as Event);
    expect(errors).toEqual({ email: 'Enter an email address.' });
  });
});

describe('FormCheck: one way for every form', () => {
  const labels = { name: 'Name', starts_on: 'Start date', ends_on: 'End date', notes: 'Notes' };

  it('words client problems with the labels, first problem per field', () => {
    const c = new FormCheck(labels)
      .add('name', textProblem('  ', 200, true))
      .add('name', 'must be at most 200 characters')
      .add('ends_on', dateOrderProblem('2026-03-10', '2026-03-01'))
      .add('starts_on', '');
    expect(c.ok).toBe(false);
    expect(c.errors).toEqual({ name: 'Name is required.', ends_on: 'End date must not be before the start date.' });
    expect(new FormCheck(labels).add('ends_on', dateOrderProblem('2026-03-01', '2026-03-01')).ok).toBe(true);
    expect(dateOrderProblem('', '2026-03-01')).toBe('');
  });

  it('turns the server details into the same sentences under the same fields', () => {
    const err = parseErrorResponse(
      422,
      '',
      JSON.stringify({
        error: {
          code: 'validation_failed',
          message: 'Some fields are invalid.',
          details: { ends_on: 'must not be before the start date', name: 'is required', 'outcomes.0.notes': 'must be at most 20000 characters' },
        },
      }),
    );
    expect(new FormCheck(labels).server(err)).toEqual({
      ends_on: 'End date must not be before the start date.',
      name: 'Name is required.',
      'outcomes.0.notes': 'Notes must be at most 20000 characters.',
    });
  });

  it('finds labels of nested keys', () => {
    expect(labelFor('outcomes.1.alert_name', { alert_name: 'Alert / rule name' })).toBe('Alert / rule name');
    expect(labelFor('outcomes.1.alert_name', {})).toBe('Alert name');
    expect(labelFor('ends_on', labels)).toBe('End date');
  });

  it('client and server agree on the words', () => {
    // The same predicate the server sends (app/missions/service.go).
    expect(dateOrderProblem('2026-02-02', '2026-02-01')).toBe('must not be before the start date');
    expect(textProblem('x'.repeat(5), 4)).toBe('must be at most 4 characters');
  });
});
