/** Stops the server started by global-setup and removes its temp dir (unless PURPLEBOOK_E2E_KEEP=1). */
import { readFileSync, rmSync } from 'node:fs';
import { STATE_ENV, type ServerState } from './server-state';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stop(pid: number): Promise<void> {
  if (!alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (!alive(pid)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  console.warn(`e2e: server pid ${pid} ignored SIGTERM for 10 s; killing it`);
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

export default async function globalTeardown(): Promise<void> {
  const file = process.env[STATE_ENV];
  if (!file) return; // external server, or setup failed before creating state
  let state: ServerState;
  try {
    state = JSON.parse(readFileSync(file, 'utf8')) as ServerState;
  } catch {
    return;
  }
  if (state.pid) await stop(state.pid);
  if (process.env.PURPLEBOOK_E2E_KEEP === '1') {
    console.log(`e2e: kept ${state.tmpDir} (server log: ${state.logFile})`);
    return;
  }
  rmSync(state.tmpDir, { recursive: true, force: true });
}
