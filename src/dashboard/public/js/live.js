// Live updates: the validator's /events stream (server-sent events), through the dashboard
// server. Events are hints to re-read the API, never data to trust on their own; after any gap
// (a reconnect, a resync) every page re-reads. Tabs share one stream through a SharedWorker
// where the browser has one (see live-worker.js), else each tab opens its own.

// 'epoch' (an epoch's stats were recorded) is announced by the runs routes, where they exist.
const EVENTS = ['ledger', 'rejection', 'breaker', 'resync', 'epoch'];

function viaWorker({ onEvent, onStatus }) {
  const worker = new SharedWorker('/assets/js/live-worker.js', { name: 'gridgov-live' });
  worker.port.addEventListener('message', (m) => {
    if (m.data.kind === 'status') onStatus(m.data.status);
    else if (m.data.kind === 'event') onEvent(m.data.type, m.data.data);
  });
  worker.port.start();
  const bye = () => worker.port.postMessage('bye');
  window.addEventListener('pagehide', bye);
  return { close: bye };
}

function direct({ onEvent, onStatus }) {
  let source;
  let opened = false;
  let stopped = false;
  let retry;

  function open() {
    source = new EventSource('/api/events');
    source.addEventListener('hello', (e) => {
      onStatus(JSON.parse(e.data).listening ? 'live' : 'connecting');
      if (opened) onEvent('resync', { reason: 'reconnected' });
      opened = true;
    });
    source.addEventListener('status', (e) => onStatus(JSON.parse(e.data).listening ? 'live' : 'connecting'));
    for (const type of EVENTS) {
      source.addEventListener(type, (e) => {
        let data = {};
        try {
          data = JSON.parse(e.data);
        } catch {
          // an event without JSON still means "something changed"
        }
        onEvent(type, data);
      });
    }
    source.addEventListener('error', () => {
      if (source.readyState !== EventSource.CLOSED) return onStatus('connecting');
      onStatus('offline');
      if (!stopped) retry = setTimeout(open, 5000);
    });
  }

  open();
  return {
    close() {
      stopped = true;
      clearTimeout(retry);
      source.close();
    },
  };
}

/**
 * Connects and keeps connected. onStatus gets 'live', 'connecting' or 'offline'; onEvent gets
 * (type, data) for ledger, rejection, breaker, resync and epoch.
 */
export function connectLive(handlers) {
  return typeof SharedWorker === 'function' ? viaWorker(handlers) : direct(handlers);
}
