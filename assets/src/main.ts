import './styles/tokens.css';
import './styles/base.css';
import { mount } from 'svelte';
import App from './App.svelte';
import { router } from './lib/router/router.svelte';
import { routes } from './routes';
import { theme } from './lib/theme.svelte';
import { serverInfo } from './lib/server.svelte';
import { installAuth, startAuth } from './lib/authflow';

theme.init();
installAuth(); // route guard: setup, sign-in, ?next=
router.start(routes);
void startAuth(); // setup state, then the session from the refresh cookie, if any
void serverInfo.refresh();

const target = document.getElementById('app');
if (!target) throw new Error('#app is missing from index.html');

export default mount(App, { target });
