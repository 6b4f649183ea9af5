import './styles/tokens.css';
import './styles/base.css';
import { mount } from 'svelte';
import App from './App.svelte';
import { router } from './lib/router/router.svelte';
import { routes } from './routes';
import { theme } from './lib/theme.svelte';
import { serverInfo } from './lib/server.svelte';
import { session } from './lib/session.svelte';

theme.init();
session.install();
void session.refresh(); // restores a session from the refresh cookie, if any
router.start(routes);
void serverInfo.refresh();

const target = document.getElementById('app');
if (!target) throw new Error('#app is missing from index.html');

export default mount(App, { target });
