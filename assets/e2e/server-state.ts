/** What global-setup hands to global-teardown (same process; also written to a file). */
export interface ServerState {
  tmpDir: string;
  pid: number | null;
  baseURL: string;
  logFile: string;
}

export const STATE_ENV = 'PURPLEBOOK_E2E_STATE';
