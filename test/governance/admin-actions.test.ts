import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { createValidatorApp } from '../../src/api/validator.ts';
import { loadConfig } from '../../src/config.ts';
import { seedScenario } from '../../src/ledger/writing/seed.ts';
import { parseScenario } from '../../src/domain/scenario.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { invariantViolations } from '../support/invariants.ts';
import { seedTestScenario } from '../support/scenario.ts';
import { ADMIN_KEY, bearer, http } from '../support/validator.ts';

let t: TestDatabase;
let url: string;
let close: () => Promise<void>;
let logs = '';
before(async () => {
  t = await createTestDatabase();
  await seedTestScenario(t.db);
  const logger = pino({ level: 'debug' }, new Writable({ write: (chunk, _enc, done) => ((logs += chunk.toString()), done()) }));
  const app = await createValidatorApp({
    db: t.db,
    config: loadConfig({ GRIDGOV_ADMIN_KEY: ADMIN_KEY, GRIDGOV_VALIDATOR_VERSION: 'test' }),
    logger,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  close = () => app.close();
});
after(async () => {
  await close();
  await t.drop();
});

const admin = (path: string, body: unknown) => http(url, 'POST', path, body, bearer(ADMIN_KEY));
const balance = async (actor: string, resource: string) =>
  (
    await t.db.query<{ amount: string }>(
      'SELECT b.amount::text FROM balances b JOIN actors a ON a.id = b.actor_id WHERE a.name = $1 AND b.resource = $2',
      [actor, resource],
    )
  ).rows[0]!.amount;

test('POST /admin/balance sets the balance through an adjustment entry against world, audited in the same transaction', async () => {
  const up = await admin('/admin/balance', { actor_id: 'bob', resource: 'water', amount: '250.5' });
  assert.equal(up.status, 200, JSON.stringify(up.body));
  assert.deepEqual([up.body.previous, up.body.amount, up.body.adjustment], [100, 250.5, 150.5]);
  assert.equal(await balance('bob', 'water'), '250.500000');
  const down = await admin('/admin/balance', { actor_id: 'bob', resource: 'water', amount: 0 });
  assert.equal(down.body.adjustment, -250.5);
  const { rows } = await t.db.query<{ kind: string; from: string; to: string; amount: string; metadata: { admin_user: string } }>(
    `SELECT l.kind, af.name AS from, at.name AS to, l.amount::text, l.metadata FROM ledger l
       JOIN actors af ON af.id = l.actor_from JOIN actors at ON at.id = l.actor_to WHERE l.id = ANY($1::bigint[]) ORDER BY l.id`,
    [[up.body.ledger_id, down.body.ledger_id]],
  );
  assert.deepEqual(
    rows.map((r) => [r.kind, r.from, r.to, r.amount, r.metadata.admin_user]),
    [
      ['adjustment', 'world', 'bob', '150.500000', 'bootstrap'],
      ['adjustment', 'bob', 'world', '250.500000', 'bootstrap'],
    ],
  );
  const same = await admin('/admin/balance', { actor_id: 'bob', resource: 'water', amount: 0 });
  assert.equal(same.body.ledger_id, null, 'no entry when nothing changes');
  const audit = await t.db.query("SELECT 1 FROM admin_audit WHERE action = 'admin.balance' AND outcome = 'applied'");
  assert.equal(audit.rowCount, 3);
  assert.deepEqual(await invariantViolations(t.db), [], 'adjustments keep every invariant and survive a replay');
});

test('a negative amount, an unknown actor or resource, and world itself are refused and change nothing', async () => {
  const ledger = async () => (await t.db.query<{ n: number }>('SELECT count(*) AS n FROM ledger')).rows[0]!.n;
  const before = await ledger();
  assert.equal((await admin('/admin/balance', { actor_id: 'bob', resource: 'water', amount: -5 })).status, 400);
  assert.equal((await admin('/admin/balance', { actor_id: 'zed', resource: 'water', amount: 5 })).status, 404);
  assert.equal((await admin('/admin/balance', { actor_id: 'bob', resource: 'gold', amount: 5 })).status, 404);
  assert.equal((await admin('/admin/balance', { actor_id: 'world', resource: 'water', amount: 5 })).status, 400);
  assert.equal((await admin('/admin/balance', { actor_id: 'bob', resource: 'water', amount: 5, extra: 1 })).status, 400);
  const missing = await admin('/admin/balance', { actor_id: 'bob', resource: 'water' });
  assert.deepEqual([missing.status, missing.body.field], [400, 'amount']);
  assert.match(missing.body.message, /^amount: required, a number \(or decimal string\) of at least 0/);
  assert.equal(await ledger(), before);
});

test('POST /admin/reset-credit restores default_credit, or the starting credits when the scenario has none', async () => {
  await admin('/admin/balance', { actor_id: 'carol', resource: 'credits', amount: 3 });
  const reset = await admin('/admin/reset-credit', { actor_id: 'carol' });
  assert.equal(reset.status, 200);
  assert.equal(reset.body.amount, 100);
  assert.equal(reset.body.default_credit_source, 'default_credit');
  assert.equal(await balance('carol', 'credits'), '100.000000');

  const parsed = parseScenario({
    name: 'no-default',
    resources: [{ name: 'credits' }],
    actors: [{ name: 'erin', balances: { credits: 42 } }],
  });
  assert.ok(parsed.ok);
  await seedScenario(t.db, parsed.scenario, 'test');
  await admin('/admin/balance', { actor_id: 'erin', resource: 'credits', amount: 0 });
  const fallback = await admin('/admin/reset-credit', { actor_id: 'erin' });
  assert.equal(fallback.body.amount, 42);
  assert.equal(fallback.body.default_credit_source, 'starting_balance');
  assert.deepEqual(await invariantViolations(t.db), []);
});

test('the breaker halts /execute (nothing recorded) and /health, and a retry applies once it is off', async () => {
  const on = await http(url, 'POST', '/admin/circuit-breaker', { enabled: true, reason: 'audit in progress' }, bearer(ADMIN_KEY));
  assert.equal(on.status, 200);
  assert.equal(on.body.enabled, true);
  const proposal = { proposal_id: randomUUID(), actor_from: 'alice', actor_to: 'bob', resource: 'energy', amount: 1 };
  const halted = await http(url, 'POST', '/execute', proposal);
  assert.equal(halted.status, 503);
  assert.equal(halted.body.error_code, 'CIRCUIT_BREAKER_OPEN');
  const health = await http(url, 'GET', '/health');
  assert.equal(health.status, 503);
  assert.equal(health.body.checks.circuit_breaker.reason, 'audit in progress');
  const recorded = await t.db.query(
    'SELECT 1 FROM ledger WHERE proposal_id = $1 UNION ALL SELECT 1 FROM rejected_proposals WHERE proposal_id = $1',
    [proposal.proposal_id],
  );
  assert.equal(recorded.rowCount, 0);
  await http(url, 'POST', '/admin/circuit-breaker', { enabled: false }, bearer(ADMIN_KEY));
  const retry = await http(url, 'POST', '/execute', proposal);
  assert.equal(retry.status, 200);
  assert.equal(retry.body.replayed, false);
});

test('keys never appear in the logs', () => {
  assert.ok(logs.length > 0, 'the validator logged something');
  assert.ok(!logs.includes(ADMIN_KEY));
});
