// The shell: routes (#/page), the live connection, and the breaker badge shown on every page.
import { api, session, KEY_NEEDED } from './api.js';
import { field, h, notice, replace, throttle } from './dom.js';
import { connectLive } from './live.js';
import { overviewPage } from './pages/overview.js';
import { actorsPage, actorPage } from './pages/actors.js';
import { ledgerPage } from './pages/ledger.js';
import { proposalPage } from './pages/proposal.js';
import { rejectionsPage } from './pages/rejections.js';
import { chartsPage } from './pages/charts.js';
import { comparePage } from './pages/compare.js';
import { adminPage } from './pages/admin.js';

const ROUTES = [
  { pattern: /^#?\/?(?:overview)?$/, nav: 'overview', page: overviewPage },
  { pattern: /^#\/actors$/, nav: 'actors', page: actorsPage },
  { pattern: /^#\/actors\/([^/?]+)$/, nav: 'actors', page: actorPage },
  { pattern: /^#\/ledger(?:\?.*)?$/, nav: 'ledger', page: ledgerPage },
  { pattern: /^#\/proposals\/([0-9a-fA-F-]{36})$/, nav: 'ledger', page: proposalPage },
  { pattern: /^#\/rejections(?:\?.*)?$/, nav: 'rejections', page: rejectionsPage },
  { pattern: /^#\/charts(?:\?.*)?$/, nav: 'charts', page: chartsPage },
  { pattern: /^#\/compare(?:\?.*)?$/, nav: 'compare', page: comparePage },
  { pattern: /^#\/admin$/, nav: 'admin', page: adminPage },
];

const main = document.getElementById('main');
const liveStatus = document.getElementById('live-status');
const breakerBadge = document.getElementById('breaker-badge');
let current = null;
let currentPath = null;

const LIVE_TEXT = { live: 'Live', connecting: 'Connecting…', offline: 'Offline: retrying' };

function setLive(state) {
  liveStatus.dataset.state = state;
  liveStatus.textContent = LIVE_TEXT[state] ?? state;
  liveStatus.title =
    state === 'live' ? 'New entries, rejections and breaker changes appear as they happen' : 'Live updates are paused; pages still load';
}

function showBreaker(breaker) {
  if (!breaker) {
    breakerBadge.dataset.state = 'unknown';
    breakerBadge.textContent = 'Trading: unknown';
    return;
  }
  const open = breaker.state === 'open' || breaker.enabled === true;
  breakerBadge.dataset.state = open ? 'open' : 'closed';
  breakerBadge.textContent = open ? `Trading halted${breaker.reason ? `: ${breaker.reason}` : ''}` : 'Trading: running';
}

async function refreshBreaker() {
  try {
    const health = await api('/health', { accept: [503] });
    showBreaker(health.checks?.circuit_breaker);
  } catch {
    showBreaker(null);
  }
}

/** Shared with pages: what they need from the shell. */
const context = {
  refreshBreaker,
};

function render() {
  const hash = location.hash || '#/overview';
  const path = hash.split('?')[0];
  const route = ROUTES.find((r) => r.pattern.test(hash));
  // Query-only changes (filters, pages) are the page's own business when it says so.
  if (current && path === currentPath && current.onQueryChange) {
    current.onQueryChange();
    return;
  }
  current?.unmount?.();
  current = null;
  currentPath = path;
  for (const link of document.querySelectorAll('[data-nav]')) {
    if (route && link.dataset.nav === route.nav) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (!route) {
    document.title = 'Not found · Grid Governance';
    replace(
      main,
      h('h1', {}, 'Not found'),
      notice('error', 'There is no page at ', h('code', {}, hash), '. ', h('a', { href: '#/overview' }, 'Go to the overview')),
    );
    return;
  }
  const params = hash.match(route.pattern).slice(1).map(decodeURIComponent);
  replace(main);
  current = route.page(main, params, context) ?? {};
  document.title = `${current.title ?? 'Dashboard'} · Grid Governance`;
}

/**
 * The validator refused a read for want of a key (GRIDGOV_READ_AUTH=required): ask for one once,
 * above the page, and keep it for the browser session; the page is then drawn again with it.
 */
let asking = false;
function askForKey() {
  if (asking) return;
  asking = true;
  const input = h('input', { type: 'password', id: 'read-key', name: 'key', autocomplete: 'off', spellcheck: 'false', required: true });
  const outcome = h('div', { id: 'read-key-result' });
  const form = h(
    'form',
    {
      id: 'read-key-form',
      class: 'inline-form',
      onsubmit: async (e) => {
        e.preventDefault();
        const key = input.value.trim();
        if (!key) return;
        try {
          await api('/actors', { key });
        } catch (error) {
          replace(outcome, notice('error', error.message));
          input.focus();
          return;
        }
        session.setKey(key);
        panel.remove();
        asking = false;
        current?.unmount?.();
        current = null;
        render();
        refreshBreaker();
      },
    },
    field('Viewer key', input, 'This validator asks for an API key to read (any role will do). Kept for this browser session only.'),
    h('div', { class: 'field actions' }, h('button', { type: 'submit' }, 'Use this key')),
  );
  const panel = h(
    'section',
    { id: 'key-needed', class: 'notice notice-info', 'aria-label': 'API key needed' },
    h('h2', {}, 'An API key is needed'),
    form,
    outcome,
  );
  main.before(panel);
  input.focus();
}
window.addEventListener(KEY_NEEDED, askForKey);

window.addEventListener('hashchange', () => {
  render();
  // Keyboard and screen-reader users land on the new page's content, not the old link.
  if (!location.hash.includes('?')) main.focus({ preventScroll: true });
});

const breakerChanged = throttle(refreshBreaker, 500);
connectLive({
  onStatus: setLive,
  onEvent(type, data) {
    if (type === 'breaker') showBreaker(data);
    if (type === 'resync') breakerChanged();
    current?.onEvent?.(type, data);
  },
});

// `gridgov start` prints a sign-in link with the admin key in the fragment (never sent to a
// server): keep the key in this tab's session and take it out of the address bar and history.
const signIn = location.hash.match(/^#key=([^&]+)$/);
if (signIn) {
  session.setKey(decodeURIComponent(signIn[1]));
  history.replaceState(null, '', `${location.pathname}${location.search}#/overview`);
}

render();
refreshBreaker();
