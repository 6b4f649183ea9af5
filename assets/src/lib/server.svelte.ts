/** What the shell knows about the server: version and reachability, from GET /health. */
import { getHealth, errorMessage } from './api';

class ServerInfo {
  version = $state<string | null>(null);
  status = $state<'loading' | 'ok' | 'error'>('loading');
  error = $state<string | null>(null);

  async refresh() {
    try {
      const h = await getHealth();
      this.version = h.version || null;
      this.status = h.status === 'ok' ? 'ok' : 'error';
      this.error = h.status === 'ok' ? null : `Server status: ${h.status}`;
    } catch (err) {
      this.status = 'error';
      this.error = errorMessage(err);
    }
  }
}

export const serverInfo = new ServerInfo();
