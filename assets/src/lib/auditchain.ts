/**
 * The audit trail's hash chain: verify it, export an anchor (the chain's
 * head, to keep elsewhere), and check the chain against an anchor later.
 */
import { api } from './api';

export interface AuditBreak {
  seq: number;
  id: string;
  at: string;
  action: string;
  reason: string;
}

export interface AuditAnchor {
  format: string;
  seq: number;
  hash: string;
  event_at: string;
  rows: number;
  exported_at: string;
}

export interface AuditAnchorResult {
  seq: number;
  hash: string;
  matches: boolean;
  reason?: string;
}

export interface AuditReport {
  intact: boolean;
  rows: number;
  head: { seq: number; hash: string };
  checked_at: string;
  first_break: AuditBreak | null;
  unchained: number;
  anchor?: AuditAnchorResult;
}

export const verifyAudit = () => api.get<AuditReport>('/audit/verify');
export const getAuditAnchor = () => api.get<AuditAnchor>('/audit/anchor');
export const verifyAuditAnchor = (a: AuditAnchor) => api.post<AuditReport>('/audit/verify', a);

/** Reads an anchor file; throws a readable error for anything else. */
export function parseAnchor(text: string): AuditAnchor {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error('This file is not JSON: choose an anchor file exported from this page.');
  }
  const a = v as Partial<AuditAnchor>;
  if (!a || typeof a !== 'object' || typeof a.seq !== 'number' || typeof a.hash !== 'string' || typeof a.format !== 'string') {
    throw new Error('This file is not an audit anchor: choose a file exported from this page.');
  }
  return a as AuditAnchor;
}

/** The first characters of a hash, for display. */
export const shortHash = (h: string) => (h.length > 12 ? `${h.slice(0, 12)}…` : h);
