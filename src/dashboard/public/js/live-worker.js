// One event stream for every dashboard tab of this browser. A browser opens about six
// connections to one server at a time, and each EventSource holds one for as long as it lives:
// seven tabs with a stream each would leave none for the pages' own requests.
const TYPES = ['ledger', 'rejection', 'breaker', 'resync', 'epoch'];
const ports = new Set();
let source = null;
let status = 'connecting';
let opened = false;

function post(message) {
  for (const port of ports) port.postMessage(message);
}

function setStatus(next) {
  status = next;
  post({ kind: 'status', status });
}

function open() {
  source = new EventSource('/api/events');
  source.addEventListener('hello', (e) => {
    setStatus(JSON.parse(e.data).listening ? 'live' : 'connecting');
    // Whatever happened while the stream was down was not heard: every tab re-reads.
    if (opened) post({ kind: 'event', type: 'resync', data: { reason: 'reconnected' } });
    opened = true;
  });
  source.addEventListener('status', (e) => setStatus(JSON.parse(e.data).listening ? 'live' : 'connecting'));
  for (const type of TYPES) {
    source.addEventListener(type, (e) => {
      let data = {};
      try {
        data = JSON.parse(e.data);
      } catch {
        // an event without JSON still means "something changed"
      }
      post({ kind: 'event', type, data });
    });
  }
  source.addEventListener('error', () => {
    if (source.readyState !== EventSource.CLOSED) return setStatus('connecting');
    // A refused stream (the validator down behind the dashboard) is not retried by the browser.
    setStatus('offline');
    setTimeout(open, 5000);
  });
}

self.addEventListener('connect', (e) => {
  const port = e.ports[0];
  ports.add(port);
  port.addEventListener('message', (m) => {
    if (m.data === 'bye') ports.delete(port);
  });
  port.start();
  port.postMessage({ kind: 'status', status });
  if (!source) open();
});
