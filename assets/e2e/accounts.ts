/**
 * Account helpers shared by the global setup and the specs:
 * - createAdmin: first-run setup through POST /api/v1/setup with the
 *   one-time token from <data-dir>/setup-token (what the global setup does,
 *   and what a spec that resets the instance does to restore the admin the
 *   other specs sign in with);
 * - resetInstance: POST /api/v1/diag/reset (the server runs with
 *   --enable-reset); afterwards no account exists and a new setup token is
 *   in the data dir;
 * - apiLogin / apiAs: tokens and authorised calls for preparing data.
 * Plain fetch (Node), so it works in the global setup and in workers.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { STATE_ENV, type ServerState } from './server-state';

export interface Credentials {
  email: string;
  name: string;
  password: string;
}

/** The server the global setup started (null for an external server: PURPLEBOOK_E2E_URL). */
export function serverState(): ServerState | null {
  const file = process.env[STATE_ENV];
  if (!file) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ServerState;
  } catch {
    return null;
  }
}

/** The e2e admin the global setup created (from the environment it exported). */
export function e2eAdmin(): Credentials | null {
  const email = process.env.PURPLEBOOK_E2E_ADMIN_EMAIL;
  const password = process.env.PURPLEBOOK_E2E_ADMIN_PASSWORD;
  return email && password ? { email, password, name: 'E2E Admin' } : null;
}

export function readSetupToken(dataDir: string): string {
  return readFileSync(path.join(dataDir, 'setup-token'), 'utf8').trim();
}

/**
 * First-run setup through the API, as the setup screen does. Returns false
 * for a server without accounts (GET /setup → 404); throws when setup is
 * not needed or fails.
 */
export async function createAdmin(baseURL: string, dataDir: string, who: Credentials): Promise<boolean> {
  const res = await fetch(`${baseURL}/api/v1/setup`);
  if (res.status === 404) return false;
  const { needed } = (await res.json()) as { needed: boolean };
  if (!needed) throw new Error('e2e: the instance should need setup');
  const token = readSetupToken(dataDir);
  const setup = await fetch(`${baseURL}/api/v1/setup`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ token, email: who.email, name: who.name, password: who.password }),
  });
  if (setup.status !== 201) throw new Error(`e2e: POST /api/v1/setup answered ${setup.status}: ${await setup.text()}`);
  return true;
}

export async function apiLogin(baseURL: string, email: string, password: string): Promise<string> {
  const res = await fetch(`${baseURL}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`e2e: login as ${email} answered ${res.status}: ${text}`);
  return (JSON.parse(text) as { access_token: string }).access_token;
}

/** An authorised JSON call; throws with the body on an unexpected status. */
export async function apiAs<T = unknown>(baseURL: string, token: string, method: string, p: string, body?: unknown, want = [200, 201, 204]): Promise<T> {
  const res = await fetch(`${baseURL}/api/v1${p}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!want.includes(res.status)) throw new Error(`e2e: ${method} ${p} answered ${res.status}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** POST /diag/reset as `token`'s user: every account is gone afterwards and setup is needed again. */
export async function resetInstance(baseURL: string, token: string): Promise<void> {
  await apiAs(baseURL, token, 'POST', '/diag/reset', undefined, [200]);
}

/**
 * Puts the e2e admin back after a spec reset the instance: reset once more
 * (signed in as `token`'s user, who must hold diag.reset) and run the same
 * setup as the global setup, with the same credentials.
 */
export async function restoreE2eAdmin(baseURL: string, dataDir: string, token: string): Promise<void> {
  const admin = e2eAdmin();
  if (!admin) return;
  await resetInstance(baseURL, token);
  await createAdmin(baseURL, dataDir, admin);
}
