/**
 * The catalogue's status (GET /mitre/status), shared by the ATT&CK page
 * header badge and the Home card; reloaded after a sync.
 */
import { ApiError, errorMessage } from '../api';
import { getMitreStatus } from './api';
import type { MitreStatus, Verification } from './types';

class Catalogue {
  status = $state<MitreStatus | null>(null);
  loading = $state(false);
  error = $state<string | null>(null);
  /** The last failure was a 401 (signed out). */
  needsAuth = $state(false);
  /** Increases after every sync, so views reload their data. */
  generation = $state(0);

  #pending: Promise<void> | null = null;

  /** A catalogue has been synced at least once. */
  get loaded(): boolean {
    return !!this.status?.last_sync;
  }

  refresh(): Promise<void> {
    this.#pending ??= (async () => {
      this.loading = true;
      try {
        this.status = await getMitreStatus();
        this.error = null;
        this.needsAuth = false;
      } catch (err) {
        this.needsAuth = err instanceof ApiError && err.status === 401;
        this.error = errorMessage(err);
      } finally {
        this.loading = false;
        this.#pending = null;
      }
    })();
    return this.#pending;
  }

  /** Takes a status fetched by someone else (Home's GET /me/work carries it). */
  adopt(st: MitreStatus) {
    this.status = st;
    this.error = null;
    this.needsAuth = false;
  }

  /** After a successful sync: new status, and a signal for views to reload. */
  async synced() {
    this.generation++;
    await this.refresh();
  }
}

export const catalogue = new Catalogue();

export const VERIFICATION_LABELS: Record<string, string> = {
  sha256: 'Verified by sha256',
  pinned_release: 'Verified pinned release',
  unverified: 'Unverified',
};

export function verificationLabel(v: Verification | string, verified: boolean): string {
  return VERIFICATION_LABELS[v] ?? (verified ? 'Verified' : 'Unverified');
}

/** The catalogue version, or null when the bundle carried none and none was given (the server says "unknown"). */
export function knownVersion(v: string | null | undefined): string | null {
  return v && v !== 'unknown' ? v : null;
}

/** "18.1", or "version unknown". */
export function versionLabel(v: string | null | undefined): string {
  return knownVersion(v) ?? 'version unknown';
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
];

/** "3 minutes ago", "yesterday", "just now". */
export function relativeTime(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const secs = Math.round((t - now) / 1000);
  if (Math.abs(secs) < 45) return 'just now';
  const rtf = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
  for (const [unit, size] of UNITS) if (Math.abs(secs) >= size) return rtf.format(Math.round(secs / size), unit);
  return rtf.format(Math.round(secs / 60), 'minute');
}

export function formatDateTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}
