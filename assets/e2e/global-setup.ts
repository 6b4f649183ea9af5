/**
 * Starts the real server for the browser tests and stops it afterwards:
 *   <bin> serve --data-dir <fresh tmp dir> --listen 127.0.0.1:0 --enable-reset
 * The binary is $PURPLEBOOK_BIN, else built with `CGO_ENABLED=0 go build` from
 * the repository root (the parent of assets/). The kernel picks the port; the
 * server prints "listening on http://127.0.0.1:<port>/" once it accepts
 * connections, and that line is what the setup waits for (or the process
 * exiting, which fails the run with its output). Then it creates the first
 * admin through POST /api/v1/setup (see setupAdmin).
 * The returned function is Playwright's global teardown: SIGTERM, wait for
 * the process to exit, remove the temp dir (kept with PURPLEBOOK_E2E_KEEP=1).
 * With $PURPLEBOOK_E2E_URL set, no server is started and that URL is tested
 * (give its admin in PURPLEBOOK_E2E_ADMIN_EMAIL / PURPLEBOOK_E2E_ADMIN_PASSWORD).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, appendFileSync, existsSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FullConfig } from '@playwright/test';
import { STATE_ENV, type ServerState } from './server-state';
import { createAdmin } from './accounts';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');
/** Not a wait: how long a server that neither listens nor exits may hang before the run gives up. */
const START_LIMIT_MS = 60_000;
const STOP_LIMIT_MS = 10_000;

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

/** Resolves when the process exits (at once if it has). */
function exited(child: ChildProcess): Promise<string> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(`exited with ${child.signalCode ?? `code ${child.exitCode}`}`);
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(`exited with ${signal ?? `code ${code}`}`)));
}

/**
 * The server's base URL, from its "listening on" line; fails when the
 * process exits first (or hangs past START_LIMIT_MS), with its output.
 */
function listening(child: ChildProcess, output: () => string, onOutput: (f: () => void) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const fail = (why: string) =>
      reject(new Error(`e2e: the server did not start (${why}).\n--- server output ---\n${output() || '(none)'}\n---------------------`));
    const limit = setTimeout(() => fail(`no "listening on" line within ${START_LIMIT_MS / 1000} s`), START_LIMIT_MS);
    const check = () => {
      const m = /listening on (http:\/\/[^\s/]+)\//.exec(output());
      if (m) {
        clearTimeout(limit);
        resolve(m[1]);
      }
    };
    onOutput(check);
    check();
    void exited(child).then((why) => {
      clearTimeout(limit);
      fail(`the process ${why}`);
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  const done = exited(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  let limit: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (limit = setTimeout(() => resolve('timeout'), STOP_LIMIT_MS)));
  if ((await Promise.race([done, timedOut])) === 'timeout') {
    console.warn(`e2e: server pid ${child.pid} ignored SIGTERM for ${STOP_LIMIT_MS / 1000} s; killing it`);
    child.kill('SIGKILL');
    await done;
  }
  clearTimeout(limit);
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

export default async function globalSetup(_config: FullConfig): Promise<(() => Promise<void>) | undefined> {
  const external = process.env.PURPLEBOOK_E2E_URL;
  if (external) {
    process.env.PURPLEBOOK_E2E_BASE_URL = external.replace(/\/+$/, '');
    console.log(`e2e: testing the running server at ${process.env.PURPLEBOOK_E2E_BASE_URL}`);
    return undefined;
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

  const dataDir = path.join(tmpDir, 'data');
  const args = ['serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--enable-reset'];
  console.log(`e2e: starting ${bin} ${args.join(' ')}`);

  let output = '';
  let notify = () => {};
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
  const collect = (chunk: Buffer) => {
    const s = chunk.toString();
    output += s;
    if (output.length > 200_000) output = output.slice(-100_000);
    appendFileSync(state.logFile, s);
    notify();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  child.unref(); // the teardown stops it; never keep the runner alive for it
  (child.stdout as unknown as { unref?: () => void })?.unref?.();
  (child.stderr as unknown as { unref?: () => void })?.unref?.();
  state.pid = child.pid ?? null;
  writeFileSync(stateFile, JSON.stringify(state));

  const teardown = async () => {
    await stop(child);
    if (process.env.PURPLEBOOK_E2E_KEEP === '1') {
      console.log(`e2e: kept ${tmpDir} (server log: ${state.logFile})`);
      return;
    }
    rmSync(tmpDir, { recursive: true, force: true });
  };

  try {
    const baseURL = await listening(child, () => output, (f) => (notify = f));
    const health = await fetch(`${baseURL}/api/v1/health`);
    if (health.status !== 200) throw new Error(`e2e: GET /api/v1/health answered ${health.status}: ${await health.text()}`);
    state.baseURL = baseURL;
    state.dataDir = dataDir;
    writeFileSync(stateFile, JSON.stringify(state));
    await setupAdmin(baseURL, dataDir);
    process.env.PURPLEBOOK_E2E_BASE_URL = baseURL;
    console.log(`e2e: server ready at ${baseURL} (data dir ${dataDir})`);
  } catch (err) {
    await teardown();
    throw err;
  }
  return teardown;
}
