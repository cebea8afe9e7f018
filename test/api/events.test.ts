import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { pino } from 'pino';
import { createEventHub } from '../../src/api/events.ts';
import { createEventReader, type Announcement, type EventReader } from '../../src/ledger/reads/live-events.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { seedTestScenario, tradeBody } from '../support/scenario.ts';
import { openEventStream } from '../support/sse.ts';
import { waitUntil } from '../support/wait.ts';
import { ADMIN_KEY, bearer, http, startValidator, type TestValidator } from '../support/validator.ts';

let t: TestDatabase;
let a: TestValidator;
let b: TestValidator;
before(async () => {
  t = await createTestDatabase();
  await seedTestScenario(t.db);
  // Two replicas on one database: what one writes, the other's clients must hear.
  a = await startValidator(t.db);
  b = await startValidator(t.db);
});
after(async () => {
  await a.close();
  await b.close();
  await t.drop();
});

const trade = (url: string, over: Record<string, unknown> = {}) => http(url, 'POST', '/execute', tradeBody(over));

async function listening(url: string) {
  const stream = await openEventStream(`${url}/events`);
  assert.equal(stream.status, 200);
  const hello = await stream.next('hello');
  if (!hello.data.listening) await stream.next((e) => e.event === 'status' && e.data.listening);
  return stream;
}

test('GET /events streams ledger, rejection and breaker events from every replica', async () => {
  const onA = await listening(a.url);
  const onB = await listening(b.url);
  try {
    const applied = await trade(a.url, { amount: 2 });
    assert.equal(applied.status, 200);
    for (const stream of [onA, onB]) {
      const event = await stream.next((e) => e.event === 'ledger' && e.data.proposal_ids.includes(applied.body.proposal_id));
      assert.equal(event.data.ledger_head, applied.body.ledger_ids[0]);
      assert.equal(event.data.kinds.trade, 1);
      assert.ok(event.id, 'events carry an id');
    }

    const rejected = await trade(b.url, { amount: 10_000 });
    assert.equal(rejected.status, 422);
    for (const stream of [onA, onB]) {
      const event = await stream.next((e) => e.event === 'rejection' && e.data.proposal_ids.includes(rejected.body.proposal_id));
      assert.deepEqual(event.data.by_code, { [rejected.body.error_code]: 1 });
      assert.deepEqual(event.data.proposal_ids, [rejected.body.proposal_id]);
    }

    const on = await http(a.url, 'POST', '/admin/circuit-breaker', { enabled: true, reason: 'storm' }, bearer(ADMIN_KEY));
    assert.equal(on.status, 200);
    for (const stream of [onA, onB]) {
      const event = await stream.next('breaker');
      assert.equal(event.data.enabled, true);
      assert.equal(event.data.reason, 'storm');
    }
    await http(a.url, 'POST', '/admin/circuit-breaker', { enabled: false }, bearer(ADMIN_KEY));
    await onB.next((e) => e.event === 'breaker' && e.data.enabled === false);
  } finally {
    onA.close();
    onB.close();
  }
});

test('replays add no event; an admin adjustment is a ledger event of kind adjustment', async () => {
  const stream = await listening(a.url);
  try {
    const first = await trade(a.url);
    await stream.next((e) => e.event === 'ledger' && e.data.proposal_ids.includes(first.body.proposal_id));
    const replay = await http(a.url, 'POST', '/execute', {
      proposal_id: first.body.proposal_id,
      actor_from: 'alice',
      actor_to: 'bob',
      resource: 'energy',
      amount: 1,
    });
    assert.equal(replay.body.replayed, true);
    const forced = await http(a.url, 'POST', '/admin/balance', { actor_id: 'carol', resource: 'water', amount: 77 }, bearer(ADMIN_KEY));
    assert.equal(forced.status, 200);
    const event = await stream.next('ledger');
    assert.deepEqual(event.data.proposal_ids, [forced.body.proposal_id], 'the replay announced nothing');
    assert.deepEqual(event.data.kinds, { adjustment: 1 });
    assert.equal(event.data.ledger_head, forced.body.ledger_id);
  } finally {
    stream.close();
  }
});

test('many trades at once are summed into few notifications', async () => {
  const stream = await listening(a.url);
  try {
    const replies = await Promise.all(Array.from({ length: 20 }, () => trade(a.url, { amount: 0.5 })));
    const ids = new Set(replies.map((r) => r.body.proposal_id));
    let proposals = 0;
    const heads: number[] = [];
    while (proposals < 20) {
      const event = await stream.next('ledger');
      proposals += event.data.proposals;
      heads.push(event.data.ledger_head);
      for (const id of event.data.proposal_ids) assert.ok(ids.has(id));
    }
    assert.equal(proposals, 20);
    assert.ok(heads.length < 20, `20 trades gave ${heads.length} notifications`);
    assert.equal(Math.max(...heads), Math.max(...replies.map((r) => r.body.ledger_ids[0])));
  } finally {
    stream.close();
  }
});

test('a notification is not believed: forged events sent as the application role are not relayed, real changes are', async () => {
  // A session holding only the validator's login, as a stolen password would give.
  const login = `gg_forger_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  await t.db.query(`CREATE ROLE ${login} LOGIN PASSWORD '${password}' IN ROLE gridgov_app`);
  const url = new URL(t.url);
  url.username = login;
  url.password = password;
  const forger = new pg.Client({ connectionString: url.toString() });
  await forger.connect();
  const stream = await listening(a.url);
  const forgedId = randomUUID();
  try {
    const breaker = await t.db.query<{ breaker_on: boolean }>('SELECT breaker_on FROM control');
    assert.equal(breaker.rows[0]!.breaker_on, false);
    for (const forged of [
      { type: 'breaker', enabled: true, reason: 'forged halt', changed_by: 'admin' },
      { type: 'ledger', ledger_head: 99_999_999, proposals: 4242, entries: 4242, kinds: { trade: 4242 }, proposal_ids: [forgedId] },
      { type: 'rejection', rejections: 4242, by_code: { FORGED: 4242 }, proposal_ids: [forgedId] },
      { type: 'epoch', run_id: forgedId, epoch: 7 },
      { type: 'resync', reason: 'forged' },
    ]) {
      await forger.query(`SELECT pg_notify('gridgov_events', $1)`, [JSON.stringify(forged)]);
    }

    // Real changes, notified after the forged ones on the same channel, come through as the tables say.
    const applied = await trade(a.url, { amount: 1 });
    const ledger = await stream.next((e) => e.event === 'ledger' && e.data.proposal_ids.includes(applied.body.proposal_id));
    assert.equal(ledger.data.ledger_head, applied.body.ledger_ids[0]);
    const on = await http(a.url, 'POST', '/admin/circuit-breaker', { enabled: true, reason: 'real halt' }, bearer(ADMIN_KEY));
    assert.equal(on.status, 200);
    const real = await stream.next((e) => e.event === 'breaker' && e.data.enabled === true);
    assert.equal(real.data.reason, 'real halt');

    const upToReal = stream.events.slice(0, stream.events.indexOf(real));
    const forgedContent = upToReal.filter(
      (e) => /forged|4242|99999999/.test(JSON.stringify(e.data)) || e.data?.proposal_ids?.includes(forgedId),
    );
    assert.deepEqual(forgedContent, [], 'nothing the forged notifications claimed reached the client');
    assert.deepEqual(
      upToReal.filter((e) => e.event === 'breaker' && e.data.enabled !== false),
      [],
      'no breaker-on before the real one: the control row said off',
    );
    assert.deepEqual(
      upToReal.filter((e) => e.event === 'epoch' || e.event === 'resync' || e.event === 'rejection'),
      [],
    );
  } finally {
    stream.close();
    await http(a.url, 'POST', '/admin/circuit-breaker', { enabled: false }, bearer(ADMIN_KEY));
    await forger.end();
    await t.db.query(`DROP ROLE IF EXISTS ${login}`);
  }
});

test('a breaker notification sends what the control row holds, and nothing while it has not changed', async () => {
  const reader = createEventReader(t.db);
  const claim: Announcement[] = [{ type: 'breaker', payload: { type: 'breaker', enabled: true, reason: 'claimed' } }];
  const [first] = await reader.read(claim);
  assert.equal(first!.event, 'breaker');
  assert.equal(first!.data.enabled, false, 'the row says off, whatever the notification claimed');
  assert.deepEqual(await reader.read(claim), [], 'unchanged: nothing to send');
  await t.db.query("UPDATE control SET breaker_on = true, reason = 'row says', changed_at = now()");
  try {
    const [changed] = await reader.read(claim);
    assert.equal(changed!.data.enabled, true);
    assert.equal(changed!.data.reason, 'row says');
  } finally {
    await t.db.query('UPDATE control SET breaker_on = false, reason = NULL, changed_at = now()');
  }
});

test('an epoch notification is relayed only for an epoch whose stats the table holds', async () => {
  const run = randomUUID();
  await t.db.query("INSERT INTO runs (id, scenario, seed, strategy) VALUES ($1, 'test', '1', 'heuristic')", [run]);
  await t.db.query('INSERT INTO epochs (run_id, epoch, finished_at) VALUES ($1, 0, now()), ($1, 1, NULL)', [run]);
  const claims: Announcement[] = [0, 1, 2].map((epoch) => ({ type: 'epoch', payload: { type: 'epoch', run_id: run, epoch } }));
  claims.push({ type: 'epoch', payload: { type: 'epoch', run_id: 'not-a-uuid', epoch: 0 } });
  const events = await createEventReader(t.db).read(claims);
  assert.deepEqual(events, [{ event: 'epoch', data: { type: 'epoch', run_id: run, epoch: 0 } }]);
});

/** The hub alone on a plain HTTP server, with a short heartbeat and a small buffer bound. */
async function hubServer(options: { heartbeatMs?: number; maxBufferedBytes?: number; maxClients?: number; reader?: EventReader } = {}) {
  const hub = createEventHub({ db: t.db, logger: pino({ level: 'silent' }), ...options });
  const server: Server = createServer((req, res) => hub.subscribe(req, res));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    hub,
    url,
    async close() {
      await hub.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

test('heartbeats keep an idle stream open, and a closed client is forgotten', async () => {
  const s = await hubServer({ heartbeatMs: 50 });
  try {
    const stream = await openEventStream(s.url);
    await waitUntil(() => stream.comments.some((c) => c.startsWith('heartbeat')), 'a heartbeat');
    assert.equal(s.hub.clientCount(), 1);
    stream.close();
    await waitUntil(() => s.hub.clientCount() === 0, 'the client to be dropped');
  } finally {
    await s.close();
  }
});

/** Relays notifications as they came: only to fill buffers fast, with payloads no table holds. */
const believing: EventReader = {
  baseline: async () => undefined,
  read: async (batch) => batch.map((a) => ({ event: a.type, data: a.payload })),
};

test('a client that stops reading is dropped once its buffer passes the bound; others go on', async () => {
  const s = await hubServer({ maxBufferedBytes: 64 * 1024, reader: believing });
  try {
    const reader = await openEventStream(s.url);
    const hello = await reader.next('hello');
    if (!hello.data.listening) await reader.next((e) => e.event === 'status' && e.data.listening);

    const { port } = new URL(s.url);
    const stalled = connect(Number(port), '127.0.0.1');
    await once(stalled, 'connect');
    stalled.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    stalled.pause(); // never reads: the kernel buffers fill, then the server's
    await waitUntil(() => s.hub.clientCount() === 2, 'the stalled client to subscribe');

    // Distinct payloads (identical ones in one transaction are folded into one notification).
    for (let round = 0; round < 40 && s.hub.clientCount() > 1; round++) {
      await t.db.query(
        `SELECT pg_notify('gridgov_events', json_build_object('type', 'ledger', 'round', $1::int, 'n', g, 'pad', repeat('x', 7000))::text)
           FROM generate_series(1, 100) g`,
        [round],
      );
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitUntil(() => s.hub.clientCount() === 1, 'the stalled client to be dropped');
    await reader.next((e) => e.event === 'ledger' && e.data.n === 100, 10_000);
    assert.equal(s.hub.clientCount(), 1, 'the reading client is still subscribed');
    stalled.destroy();
    reader.close();
  } finally {
    await s.close();
  }
});

test('after the LISTEN connection is lost, the hub reconnects and tells clients to re-read', async () => {
  const s = await hubServer();
  try {
    const stream = await openEventStream(s.url);
    const hello = await stream.next('hello');
    if (!hello.data.listening) await stream.next((e) => e.event === 'status' && e.data.listening);
    await t.db.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'gridgov-listen' AND datname = current_database() AND pid <> pg_backend_pid()",
    );
    await stream.next((e) => e.event === 'status' && e.data.state === 'connecting');
    await stream.next('resync', 10_000);
    const applied = await trade(a.url, { amount: 1 });
    await stream.next((e) => e.event === 'ledger' && e.data.proposal_ids.includes(applied.body.proposal_id));
    stream.close();
  } finally {
    await s.close();
  }
});

test('the hub has no room for subscribers past its limit (the route answers RATE_LIMITED)', async () => {
  const s = await hubServer({ maxClients: 1 });
  try {
    assert.equal(s.hub.hasRoom(), true);
    const stream = await openEventStream(s.url);
    await stream.next('hello');
    assert.equal(s.hub.hasRoom(), false);
    stream.close();
  } finally {
    await s.close();
  }
});
