/**
 * Notifications for the bell. The unread badge is live through the server's
 * Server-Sent Events stream GET /notifications/stream, read with fetch() and
 * a stream reader rather than EventSource, so the access token travels in
 * the Authorization header like every other request (EventSource cannot set
 * headers and would need ?access_token= in the URL):
 * `event: unread` carries {"count":N} on connect and on every change;
 * `event: unauthenticated` (token expired or revoked, checked every 25 s)
 * makes the bell refresh the session and reconnect with the new token.
 * When the stream cannot be opened or drops (no EventSource, 429 per-user
 * cap, proxy without streaming), the bell falls back to polling
 * GET /notifications/unread-count every 10 s and tries the stream again
 * after a minute. The list is fetched when the dropdown opens.
 */
import { api } from '../api';

export interface AppNotification {
  id: string;
  kind: string;
  payload: Record<string, unknown>;
  read_at: string | null;
  created_at: string;
}

export const POLL_MS = 10_000;
/** After the stream failed, try it again this much later (polling meanwhile). */
export const STREAM_RETRY_MS = 60_000;

export interface SseEvent {
  event: string;
  data: string;
}

/** Splits SSE text into complete events; returns them and the unfinished rest. Pure. */
export function parseSse(buffer: string): { events: SseEvent[]; rest: string } {
  const text = buffer.replace(/\r\n?/g, '\n');
  const blocks = text.split('\n\n');
  const rest = blocks.pop() ?? '';
  const events: SseEvent[] = [];
  for (const block of blocks) {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (!line || line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length) events.push({ event, data: data.join('\n') });
  }
  return { events, rest };
}

/**
 * Reads the notification stream until it ends; calls onEvent for each event.
 * Resolves when the server closes it; rejects on a failed answer or a
 * network error (an abort rejects with AbortError).
 */
export async function readStream(token: string, onEvent: (e: SseEvent) => void, signal: AbortSignal): Promise<void> {
  const res = await fetch('/api/v1/notifications/stream', {
    headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' },
    credentials: 'same-origin',
    cache: 'no-store',
    signal,
  });
  if (!res.ok || !res.body) throw new Error(`notification stream: HTTP ${res.status}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    const { events, rest } = parseSse(buf + value);
    buf = rest;
    for (const e of events) onEvent(e);
  }
}

/** Reads the count from the answer of /notifications/unread-count (tolerates {count}, {unread}, {unread_count}). */
export function readCount(body: unknown): number {
  if (typeof body === 'number') return body;
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    for (const k of ['count', 'unread', 'unread_count', 'total']) if (typeof b[k] === 'number') return b[k] as number;
  }
  return 0;
}

/** A sentence for a notification from its kind and payload. */
export function describe(n: Pick<AppNotification, 'kind' | 'payload'>): string {
  const p = n.payload ?? {};
  const s = (k: string) => (typeof p[k] === 'string' ? (p[k] as string) : '');
  const by = s('by') || 'Someone';
  const test = s('test_name') ? `“${s('test_name')}”` : 'a test';
  const mission = s('mission_name') ? ` in ${s('mission_name')}` : '';
  switch (n.kind) {
    case 'test.executed':
      return `${by} executed ${test}${mission}: ready for assessment.`;
    case 'test.assessed':
      return `${by} assessed ${test}${mission}.`;
    case 'mission.member_added':
    case 'member.added':
      return `You were added to ${s('mission_name') || 'a mission'}${s('role') ? ` as ${s('role')}` : ''}.`;
    case 'mission.status':
    case 'mission.status_changed':
      return `${s('mission_name') || 'A mission'} is now ${s('to') || s('status') || 'changed'}.`;
    default: {
      const what = n.kind.replace(/[._]/g, ' ');
      return `${what.charAt(0).toUpperCase()}${what.slice(1)}${s('mission_name') ? `: ${s('mission_name')}` : ''}${s('test_name') ? ` / ${s('test_name')}` : ''}.`;
    }
  }
}

/** "By Rita Red <rita@example.org>": the e-mail of who acted, for a tooltip (undefined when unknown). */
export function actorTitle(n: Pick<AppNotification, 'payload'>): string | undefined {
  const p = n.payload ?? {};
  const name = typeof p.by === 'string' ? p.by : '';
  const email = typeof p.by_email === 'string' ? p.by_email : '';
  if (!email) return undefined;
  return name && name !== email ? `By ${name} <${email}>` : `By ${email}`;
}

export const notifApi = {
  unread: () => api.get<unknown>('/notifications/unread-count').then(readCount),
  list: () =>
    api
      .get<{ items: AppNotification[] } | AppNotification[]>('/notifications', { query: { per_page: 20 } })
      .then((r) => (Array.isArray(r) ? r : r.items)),
  read: (id: string) => api.post(`/notifications/${encodeURIComponent(id)}/read`),
  readAll: () => api.post('/notifications/read-all'),
};
