/** What global-setup hands to the specs (written to a file, path in STATE_ENV). */
export interface ServerState {
  tmpDir: string;
  pid: number | null;
  baseURL: string;
  logFile: string;
  /** The server's --data-dir (setup-token lives there). */
  dataDir?: string;
}

export const STATE_ENV = 'PURPLEBOOK_E2E_STATE';
