import { describe, expect, it } from 'vitest';
import { parseErrorResponse } from '../api';
import { checkMission, missionServerErrors } from './missionform';

describe('mission form', () => {
  it('checks the name and the date order with the labels', () => {
    const c = checkMission({ name: ' ', description: '', starts_on: '2026-05-10', ends_on: '2026-05-01' });
    expect(c.errors).toEqual({ name: 'Name is required.', ends_on: 'End date must not be before the start date.' });
    expect(checkMission({ name: 'Op', description: '', starts_on: '2026-05-01', ends_on: '' }).ok).toBe(true);
  });

  it('puts the server details under the fields, worded the same', () => {
    const err = parseErrorResponse(
      422,
      '',
      JSON.stringify({ error: { code: 'validation_failed', message: 'x', details: { ends_on: 'must not be before the start date', starts_on: 'must be a date like 2026-03-31' } } }),
    );
    expect(missionServerErrors(err)).toEqual({
      ends_on: 'End date must not be before the start date.',
      starts_on: 'Start date must be a date like 2026-03-31.',
    });
  });
});
