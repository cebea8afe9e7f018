import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { startDashboard, type TestDashboard } from '../support/dashboard.ts';
import { openEventStream } from '../support/sse.ts';
import { ADMIN_KEY, BIN, bearer, http, useSeededValidator } from '../support/validator.ts';

const world = useSeededValidator();
let d: TestDashboard;
before(async () => {
  await world.ready;
  d = await startDashboard(world.v.url);
});
after(() => d.close());

const envelope = { 'x-gridgov-envelope': '1' };

test('the pages are served as files, with a strict content security policy', async () => {
  const page = await fetch(`${d.url}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'; script-src 'self'; style-src 'self'/);
  assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
  assert.match(await page.text(), /<script type="module" src="\/assets\/js\/app\.js">/);

  for (const [path, type] of [
    ['/assets/js/app.js', /^text\/javascript/],
    ['/assets/js/live-worker.js', /^text\/javascript/],
    ['/assets/style.css', /^text\/css/],
    ['/favicon.ico', /^image\/svg\+xml/],
  ] as const) {
    const reply = await fetch(`${d.url}${path}`);
    assert.equal(reply.status, 200, path);
    assert.match(reply.headers.get('content-type') ?? '', type, path);
  }
  for (const path of ['/assets/../server.ts', '/assets/%2e%2e/server.ts', '/assets/js/nothing.js', '/index.html.bak', '/assets/']) {
    assert.equal((await fetch(`${d.url}${path}`)).status, 404, path);
  }
});

test('/api forwards reads to the validator unchanged', async () => {
  const direct = await http(world.v.url, 'GET', '/ledger?limit=2&kind=genesis');
  const proxied = await http(d.url, 'GET', '/api/ledger?limit=2&kind=genesis');
  assert.equal(proxied.status, 200);
  assert.deepEqual(proxied.body, direct.body);
  const bad = await http(d.url, 'GET', '/api/ledger?limit=0');
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error_code, 'BAD_REQUEST');
  const health = await fetch(`${d.url}/api/health`);
  assert.equal(health.status, 200);
  assert.equal(
    health.headers.get('content-type'),
    (await fetch(`${world.v.url}/health`)).headers.get('content-type'),
    "the validator's own headers",
  );
});

/** The headers every dashboard answer carries, its own and the validator's it forwards. */
function assertSecurityHeaders(headers: Headers, what: string): void {
  assert.match(headers.get('content-security-policy') ?? '', /default-src '(self|none)'.*frame-ancestors 'none'/, what);
  assert.doesNotMatch(headers.get('content-security-policy') ?? '', /script-src[^;]*unsafe/, what);
  assert.equal(headers.get('x-frame-options'), 'DENY', what);
  assert.equal(headers.get('referrer-policy'), 'no-referrer', what);
  assert.equal(headers.get('x-content-type-options'), 'nosniff', what);
}

test('every answer carries the security headers: pages, forwarded reads, event streams, errors', async () => {
  for (const [path, status] of [
    ['/', 200],
    ['/assets/style.css', 200],
    ['/no-such-page', 404],
    ['/api/health', 200],
    ['/api/docs', 200],
    ['/api/ledger?limit=0', 400],
    ['/api/no-such-route', 404],
  ] as const) {
    const reply = await fetch(`${d.url}${path}`);
    assert.equal(reply.status, status, path);
    assertSecurityHeaders(reply.headers, path);
    await reply.arrayBuffer();
  }
  const refused = await fetch(`${d.url}/api/admin/nothing`, { method: 'POST' });
  assert.equal(refused.status, 404);
  assertSecurityHeaders(refused.headers, 'a POST the dashboard does not forward');

  // A stream stays open: its headers are all there is to check before it is dropped.
  const controller = new AbortController();
  const stream = await fetch(`${d.url}/api/events`, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
  assert.equal(stream.status, 200);
  assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
  assertSecurityHeaders(stream.headers, '/api/events');
  controller.abort();

  const lonely = await startDashboard('http://127.0.0.1:9');
  try {
    const unreachable = await fetch(`${lonely.url}/api/health`);
    assert.equal(unreachable.status, 502);
    assertSecurityHeaders(unreachable.headers, 'a validator that does not answer');
  } finally {
    await lonely.close();
  }
});

test('with the envelope header every answer is a 200 carrying the status and the body', async () => {
  const ok = await http(d.url, 'GET', '/api/resources', undefined, envelope);
  assert.equal(ok.status, 200);
  assert.equal(ok.body.status, 200);
  assert.equal(ok.body.body.resources.length, 3);
  const missing = await http(d.url, 'GET', '/api/no-such-route', undefined, envelope);
  assert.equal(missing.status, 200);
  assert.deepEqual(missing.body, {
    status: 404,
    body: { status: 'error', error_code: 'NOT_FOUND', message: 'no route GET /no-such-route' },
  });
  const denied = await http(
    d.url,
    'POST',
    '/api/admin/circuit-breaker',
    { enabled: true },
    { ...envelope, ...bearer('wrong-key-wrong-key') },
  );
  assert.equal(denied.body.status, 401);
  assert.equal(denied.body.body.message, 'unknown API key');
});

test('admin overrides pass through with the Authorization header; /execute does not', async () => {
  const forced = await http(
    d.url,
    'POST',
    '/api/admin/balance',
    { actor_id: 'alice', resource: 'water', amount: '42.5' },
    bearer(ADMIN_KEY),
  );
  assert.equal(forced.status, 200);
  assert.equal(forced.body.amount, 42.5);
  const audit = await http(world.v.url, 'GET', '/admin/audit?action=admin.balance&limit=1', undefined, bearer(ADMIN_KEY));
  assert.equal(audit.body.entries[0].admin_user, 'bootstrap');

  const trade = { proposal_id: randomUUID(), actor_from: 'alice', actor_to: 'bob', resource: 'energy', amount: 1 };
  const refused = await http(d.url, 'POST', '/api/execute', trade);
  assert.equal(refused.status, 404);
  assert.equal(refused.body.message, 'the dashboard does not forward POST /execute');
  assert.equal((await http(world.v.url, 'GET', `/ledger?proposal_id=${trade.proposal_id}`)).body.entries.length, 0);
  assert.equal((await http(d.url, 'DELETE', '/api/admin/balance')).status, 404);
});

test('/api/events streams the validator’s events through the dashboard', async () => {
  const stream = await openEventStream(`${d.url}/api/events`);
  try {
    assert.equal(stream.status, 200);
    const hello = await stream.next('hello');
    if (!hello.data.listening) await stream.next((e) => e.event === 'status' && e.data.listening);
    const applied = await http(world.v.url, 'POST', '/execute', {
      proposal_id: randomUUID(),
      actor_from: 'bob',
      actor_to: 'carol',
      resource: 'energy',
      amount: 2,
    });
    // Matched by proposal: an earlier test's adjustment may still be on its way.
    const event = await stream.next((e) => e.event === 'ledger' && e.data.proposal_ids.includes(applied.body.proposal_id));
    assert.equal(event.data.ledger_head, applied.body.ledger_ids[0]);
  } finally {
    stream.close();
  }
});

test('a validator that does not answer is a 502 naming it, in both forms', async () => {
  const lonely = await startDashboard('http://127.0.0.1:9');
  try {
    const plain = await http(lonely.url, 'GET', '/api/health');
    assert.equal(plain.status, 502);
    assert.equal(plain.body.error_code, 'VALIDATOR_UNREACHABLE');
    assert.match(plain.body.message, /^the validator at http:\/\/127\.0\.0\.1:9 did not answer \(.*ECONNREFUSED/);
    const wrapped = await http(lonely.url, 'GET', '/api/health', undefined, envelope);
    assert.equal(wrapped.status, 200);
    assert.equal(wrapped.body.status, 502);
    assert.equal(wrapped.body.body.error_code, 'VALIDATOR_UNREACHABLE');
    // The pages themselves still load, and say what is wrong once they ask.
    assert.equal((await fetch(`${lonely.url}/`)).status, 200);
  } finally {
    await lonely.close();
  }
});

test('closing the dashboard ends open event streams instead of waiting for them', async () => {
  const other = await startDashboard(world.v.url);
  const stream = await openEventStream(`${other.url}/api/events`);
  await stream.next('hello');
  // The stream is still open on this side: a close() that waited for it would never return.
  await other.close();
  stream.close();
});

test('gridgov dashboard serves the pages for the validator it is given, and stops on SIGTERM', async () => {
  const child = spawn(process.execPath, [BIN, 'dashboard', '--validator', world.v.url, '--port', '0'], {
    env: { ...process.env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  try {
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      // Generous: a busy machine may take long to start a process; this only names a hang.
      const timer = setTimeout(() => reject(new Error(`gridgov dashboard did not start:\n${output}`)), 90_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const match = /dashboard listening on (http:\/\/\S+) \(validator (\S+)\)/.exec(output);
        if (match) {
          clearTimeout(timer);
          assert.equal(match[2], world.v.url);
          resolve(match[1]!);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
    });
    assert.equal((await fetch(`${url}/`)).status, 200);
    assert.equal((await http(url, 'GET', '/api/health')).body.status, 'ok');
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0);

  const run = promisify(execFile);
  await assert.rejects(
    run(process.execPath, [BIN, 'dashboard', '--validator', 'ftp://nowhere'], { env: process.env }),
    (error: { code: number; stderr: string }) =>
      error.code === 2 && /--validator \/ GRIDGOV_URL must be an http\(s\) URL/.test(error.stderr),
  );
});
