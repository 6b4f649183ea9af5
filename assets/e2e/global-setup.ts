/**
 * Starts the real server for the browser tests:
 *   <bin> serve --data-dir <fresh tmp dir> --listen 127.0.0.1:<free port> --enable-reset
 * The binary is $PURPLEBOOK_BIN, else built with `CGO_ENABLED=0 go build` from
 * the repository root (the parent of assets/). Waits until GET /api/v1/health
 * answers 200 (30 s), showing the server's output if it does not.
 * Then creates the first admin through POST /api/v1/setup (see setupAdmin).
 * With $PURPLEBOOK_E2E_URL set, no server is started and that URL is tested
 * (give its admin in PURPLEBOOK_E2E_ADMIN_EMAIL / PURPLEBOOK_E2E_ADMIN_PASSWORD).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, appendFileSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FullConfig } from '@playwright/test';
import { STATE_ENV, type ServerState } from './server-state';
import { createAdmin } from './accounts';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');
const HEALTH_TIMEOUT_MS = 30_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function buildBinary(tmpDir: string): string {
  const out = path.join(tmpDir, process.platform === 'win32' ? 'purplebook.exe' : 'purplebook');
  console.log(`e2e: building the server (CGO_ENABLED=0 go build -o ${out} .) in ${repoRoot}`);
  execFileSync('go', ['build', '-o', out, '.'], {
    cwd: repoRoot,
    env: { ...process.env, CGO_ENABLED: '0' },
    stdio: 'inherit',
  });
  return out;
}

async function waitForHealth(baseURL: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  let exited: string | null = null;
  child.once('exit', (code, signal) => (exited = `exited with ${signal ?? `code ${code}`}`));
  let last = '';
  while (Date.now() < deadline) {
    if (exited) break;
    try {
      const res = await fetch(`${baseURL}/api/v1/health`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!exited) child.kill('SIGKILL');
  throw new Error(
    `e2e: the server did not answer GET /api/v1/health with 200 ` +
      (exited ? `(the process ${exited})` : `within ${HEALTH_TIMEOUT_MS / 1000} s (last: ${last})`) +
      `.\n--- server output ---\n${output() || '(none)'}\n---------------------`,
  );
}

/**
 * First-run setup through the API, as the setup screen does: the one-time
 * token from <data-dir>/setup-token creates the first admin, whose
 * credentials the tests use (PURPLEBOOK_E2E_ADMIN_EMAIL / _PASSWORD).
 * Skipped for a server without accounts (GET /setup → 404). The same
 * helper (e2e/accounts.ts) restores this admin after a spec resets the instance.
 */
async function setupAdmin(baseURL: string, dataDir: string): Promise<void> {
  const email = 'admin@example.org';
  const password = `e2e-${randomBytes(12).toString('hex')}`;
  if (!(await createAdmin(baseURL, dataDir, { email, name: 'E2E Admin', password }))) return;
  process.env.PURPLEBOOK_E2E_ADMIN_EMAIL = email;
  process.env.PURPLEBOOK_E2E_ADMIN_PASSWORD = password;
}

export default async function globalSetup(_config: FullConfig): Promise<void> {
  const external = process.env.PURPLEBOOK_E2E_URL;
  if (external) {
    process.env.PURPLEBOOK_E2E_BASE_URL = external.replace(/\/+$/, '');
    console.log(`e2e: testing the running server at ${process.env.PURPLEBOOK_E2E_BASE_URL}`);
    return;
  }

  const tmpDir = mkdtempSync(path.join(tmpdir(), 'purplebook-e2e-'));
  const state: ServerState = { tmpDir, pid: null, baseURL: '', logFile: path.join(tmpDir, 'server.log') };
  const stateFile = path.join(tmpDir, 'state.json');
  process.env[STATE_ENV] = stateFile;
  writeFileSync(stateFile, JSON.stringify(state));

  let bin = process.env.PURPLEBOOK_BIN;
  if (bin) {
    bin = path.resolve(bin);
    if (!existsSync(bin)) throw new Error(`e2e: PURPLEBOOK_BIN=${bin} does not exist`);
  } else {
    bin = buildBinary(tmpDir);
  }

  const port = await freePort();
  const baseURL = `http://127.0.0.1:${port}`;
  const dataDir = path.join(tmpDir, 'data');
  const args = ['serve', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`, '--enable-reset'];
  console.log(`e2e: starting ${bin} ${args.join(' ')}`);

  let output = '';
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
  const collect = (chunk: Buffer) => {
    const s = chunk.toString();
    output += s;
    if (output.length > 200_000) output = output.slice(-100_000);
    appendFileSync(state.logFile, s);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  child.unref(); // the teardown stops it; never keep the runner alive for it
  (child.stdout as unknown as { unref?: () => void })?.unref?.();
  (child.stderr as unknown as { unref?: () => void })?.unref?.();

  state.pid = child.pid ?? null;
  state.baseURL = baseURL;
  state.dataDir = dataDir;
  writeFileSync(stateFile, JSON.stringify(state));

  await waitForHealth(baseURL, child, () => output);
  await setupAdmin(baseURL, dataDir);
  process.env.PURPLEBOOK_E2E_BASE_URL = baseURL;
  console.log(`e2e: server ready at ${baseURL} (data dir ${dataDir})`);
}
