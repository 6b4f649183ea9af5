import { describe, expect, it } from 'vitest';
import { MAX_UPLOAD_BYTES, validateSyncForm } from './syncform';
import { syncFormData } from './api';

const file = (name: string, size: number) => ({ name, size });

describe('validateSyncForm', () => {
  it('accepts a .json or .gz file with optional fields', () => {
    expect(validateSyncForm({ file: file('enterprise-attack.json', 10), sha: '', version: '' })).toEqual({});
    expect(validateSyncForm({ file: file('enterprise-attack.json.gz', 10), sha: 'A'.repeat(64), version: '18.1' })).toEqual({});
  });

  it('reports each problem on its field', () => {
    expect(validateSyncForm({ file: null, sha: '', version: '' })).toEqual({ file: 'Choose the bundle file to import.' });
    expect(validateSyncForm({ file: file('a.json', 0), sha: '', version: '' }).file).toBe('The file is empty.');
    expect(validateSyncForm({ file: file('a.json', MAX_UPLOAD_BYTES + 1), sha: '', version: '' }).file).toMatch(/larger than 256 MB/);
    expect(validateSyncForm({ file: file('a.zip', 5), sha: '', version: '' }).file).toMatch(/\.json or \.json\.gz/);
    expect(validateSyncForm({ file: file('a.json', 5), sha: 'abc', version: '' })).toEqual({
      expected_sha256: 'Must be 64 hexadecimal characters.',
    });
    expect(validateSyncForm({ file: file('a.json', 5), sha: 'g'.repeat(64), version: 'x'.repeat(21) })).toEqual({
      expected_sha256: 'Must be 64 hexadecimal characters.',
      version: 'Must be at most 20 characters.',
    });
  });
});

describe('syncFormData', () => {
  it('puts the option fields before the file part (the server streams the file and ignores later fields)', () => {
    const f = new File(['{}'], 'small.json', { type: 'application/json' });
    const fd = syncFormData(f, { allow_unverified: true, expected_sha256: ' ' + 'a'.repeat(64) + ' ', version: ' 18.1 ' });
    expect([...fd.keys()]).toEqual(['allow_unverified', 'expected_sha256', 'version', 'file']);
    expect(fd.get('allow_unverified')).toBe('true');
    expect(fd.get('expected_sha256')).toBe('a'.repeat(64));
    expect(fd.get('version')).toBe('18.1');
    expect((fd.get('file') as File).name).toBe('small.json');
  });

  it('leaves empty options out', () => {
    const fd = syncFormData(new File(['{}'], 'b.json'), { allow_unverified: false, expected_sha256: '', version: '  ' });
    expect([...fd.keys()]).toEqual(['file']);
  });
});
