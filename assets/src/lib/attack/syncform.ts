/** Checks of the sync dialog's form before anything is sent (the server checks the same). */

/** The server's upload limit (mitre.MaxBundleBytes). */
export const MAX_UPLOAD_BYTES = 256 * 1024 * 1024;

const HEX64 = /^[0-9a-f]{64}$/i;
const ACCEPTED = /\.(json|gz)$/i;

export interface SyncFormValues {
  file: { name: string; size: number } | null;
  sha: string;
  version: string;
}

/** Field errors by field name (file, expected_sha256, version); empty when the form can be sent. */
export function validateSyncForm(v: SyncFormValues): Record<string, string> {
  const errors: Record<string, string> = {};
  if (!v.file) errors.file = 'Choose the bundle file to import.';
  else if (v.file.size === 0) errors.file = 'The file is empty.';
  else if (v.file.size > MAX_UPLOAD_BYTES) errors.file = `The file is larger than ${MAX_UPLOAD_BYTES / (1024 * 1024)} MB.`;
  else if (!ACCEPTED.test(v.file.name)) errors.file = 'Choose a .json or .json.gz file.';
  const sha = v.sha.trim();
  if (sha && !HEX64.test(sha)) errors.expected_sha256 = 'Must be 64 hexadecimal characters.';
  if (v.version.trim().length > 20) errors.version = 'Must be at most 20 characters.';
  return errors;
}
