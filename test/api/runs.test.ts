import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseScenario } from '../../src/domain/scenario.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { invariantViolations } from '../support/invariants.ts';
import { ADMIN_KEY, bearer, http, startValidator, type TestValidator } from '../support/validator.ts';

let t: TestDatabase;
let v: TestValidator;
before(async () => {
  t = await createTestDatabase();
  v = await startValidator(t.db);
});
after(async () => {
  await v.close();
  await t.drop();
});

const scenario = {
  name: 'settle-test',
  seed: 7,
  resources: [{ name: 'energy' }, { name: 'water' }, { name: 'credits' }],
  constraints: { max_transfer: 50, min_balance: 10 },
  actors: [
    { name: 'mill', balances: { energy: 20, water: 5 }, production: { energy: 10 }, consumption: { water: 8 } },
    { name: 'town', balances: { energy: 12, water: 100, credits: 50 }, production: { water: 6 }, consumption: { energy: 30, water: 4 } },
  ],
};
const system = bearer(ADMIN_KEY);
const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = system) =>
  http(v.url, method, path, body, headers);
const balance = async (actor: string, resource: string) =>
  (
    await t.db.query<{ amount: string }>(
      'SELECT b.amount::text FROM balances b JOIN actors a ON a.id = b.actor_id WHERE a.name = $1 AND b.resource = $2',
      [actor, resource],
    )
  ).rows[0]!.amount;

let runId = '';

test('POST /runs seeds the scenario and registers the run once; the id derives from scenario, seed and strategy', async () => {
  const anonymous = await call('POST', '/runs', { scenario }, {});
  assert.equal(anonymous.status, 401);
  const first = await call('POST', '/runs', { scenario });
  assert.equal(first.status, 201, JSON.stringify(first.body));
  assert.equal(first.body.seed, '7');
  assert.equal(first.body.last_epoch, null);
  runId = first.body.run_id;
  const again = await call('POST', '/runs', { scenario });
  assert.equal(again.status, 200);
  assert.equal(again.body.run_id, runId);
  const other = await call('POST', '/runs', { scenario, seed: 8 });
  assert.notEqual(other.body.run_id, runId);
  const conflict = await call('POST', '/runs', { scenario: { ...scenario, seed: 9 }, run_id: runId });
  assert.equal(conflict.status, 409);
  assert.equal(conflict.body.error_code, 'RUN_CONFLICT');
  const bad = await call('POST', '/runs', { scenario: { ...scenario, actors: [] } });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.field, 'scenario');
});

test('settling an epoch writes production then consumption, at most what is there, and records the unmet need', async () => {
  const settled = await call('POST', `/runs/${runId}/epochs/1/settle`);
  assert.equal(settled.status, 200, JSON.stringify(settled.body));
  assert.equal(settled.body.replayed, false);
  const s = settled.body.settlement;
  assert.deepEqual(s.production, { energy: 10, water: 6 });
  // town needs 30 energy and holds 12: it consumes 12 and 18 stay unmet; mill needs 8 water and holds 5.
  assert.deepEqual(s.consumed, { energy: 12, water: 9 });
  assert.deepEqual(s.unmet, { energy: 18, water: 3 });
  assert.deepEqual(
    s.deficits.map((d: { actor: string; resource: string }) => `${d.actor}/${d.resource}`),
    ['mill/water', 'town/energy'],
  );
  // min_balance (10) does not bind consumption: both are emptied, never below zero.
  assert.equal(await balance('town', 'energy'), '0.000000');
  assert.equal(await balance('mill', 'water'), '0.000000');
  assert.equal(await balance('mill', 'energy'), '30.000000');
  const { rows } = await t.db.query<{ kind: string; n: number }>(
    "SELECT kind, count(*)::int AS n FROM ledger WHERE metadata->>'run_id' = $1 GROUP BY kind ORDER BY kind",
    [runId],
  );
  assert.deepEqual(rows, [
    { kind: 'consumption', n: 3 },
    { kind: 'production', n: 2 },
  ]);
  const head = (await t.db.query<{ head: number }>('SELECT max(id) AS head FROM ledger')).rows[0]!.head;
  assert.equal(settled.body.ledger_head, head);
  assert.deepEqual(await invariantViolations(t.db), []);
});

test('settlement is exactly once per (run, epoch) however often and however concurrently it is asked', async () => {
  const before = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM ledger')).rows[0]!.n;
  const replies = await Promise.all(Array.from({ length: 8 }, () => call('POST', `/runs/${runId}/epochs/1/settle`)));
  for (const reply of replies) {
    assert.equal(reply.status, 200);
    assert.equal(reply.body.replayed, true);
    assert.deepEqual(reply.body.settlement.unmet, { energy: 18, water: 3 });
  }
  assert.equal((await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM ledger')).rows[0]!.n, before);
});

test('epochs go in order: settle, plan (first one wins), stats; the next epoch only after the last finished', async () => {
  const early = await call('POST', `/runs/${runId}/epochs/2/settle`);
  assert.equal(early.status, 409);
  assert.equal(early.body.error_code, 'EPOCH_OUT_OF_ORDER');
  const planless = await call('PUT', `/runs/${runId}/epochs/2/plan`, { plan: { slots: [] } });
  assert.equal(planless.status, 409);
  const plan = await call('PUT', `/runs/${runId}/epochs/1/plan`, { plan: { slots: [1] } });
  assert.deepEqual(plan.body, { plan: { slots: [1] }, stored: true });
  const second = await call('PUT', `/runs/${runId}/epochs/1/plan`, { plan: { slots: [2] } });
  assert.deepEqual(second.body, { plan: { slots: [1] }, stored: false });
  const stats = await call('PUT', `/runs/${runId}/epochs/1/stats`, { stats: { applied: 0 } });
  assert.equal(stats.status, 200);
  const next = await call('POST', `/runs/${runId}/epochs/2/settle`);
  assert.equal(next.status, 200);
  const state = await http(v.url, 'GET', '/world-state');
  assert.equal(state.body.epoch, 2, 'the world state reports the latest run epoch');
  const epochs = await http(v.url, 'GET', `/epochs?run_id=${runId}`);
  assert.equal(epochs.status, 200);
  assert.deepEqual(
    epochs.body.epochs.map((e: { epoch: number }) => e.epoch),
    [1, 2],
  );
  assert.deepEqual(epochs.body.epochs[0].stats, { applied: 0 });
  assert.equal(epochs.body.epochs[0].plan, undefined, 'plans are served per epoch, not in the list');
  const one = await http(v.url, 'GET', `/runs/${runId}/epochs/1`);
  assert.deepEqual(one.body.plan, { slots: [1] });
  const run = await http(v.url, 'GET', `/runs/${runId}`);
  assert.deepEqual(run.body.last_epoch, { epoch: 2, settled: true, planned: false, finished: false });
});

test('settlement waits while the circuit breaker is open', async () => {
  await call('PUT', `/runs/${runId}/epochs/2/stats`, { stats: {} });
  await t.db.query("UPDATE control SET breaker_on = true, reason = 'drill'");
  try {
    const halted = await call('POST', `/runs/${runId}/epochs/3/settle`);
    assert.equal(halted.status, 503);
    assert.equal(halted.body.error_code, 'CIRCUIT_BREAKER_OPEN');
  } finally {
    await t.db.query('UPDATE control SET breaker_on = false, reason = NULL');
  }
  assert.equal((await call('POST', `/runs/${runId}/epochs/3/settle`)).status, 200);
  assert.deepEqual(await invariantViolations(t.db), []);
});

test('the scenario schema rejects unknown strategies and prices for unknown resources', () => {
  assert.equal(parseScenario({ ...scenario, actors: [{ name: 'x', strategy: 'oracle' }] }).ok, false);
  assert.equal(parseScenario({ ...scenario, negotiation: { prices: { gold: 1 } } }).ok, false);
  const parsed = parseScenario(scenario);
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.scenario.negotiation, {
    turns_per_agent: 2,
    max_rounds: 4,
    horizon_epochs: 3,
    prices: {},
    stale_epochs: 3,
    reflect_every: 5,
  });
  assert.equal(parseScenario({ ...scenario, economy: { tax: { gold: 0.1 } } }).ok, false, 'a tax on an unknown resource');
  assert.equal(parseScenario({ ...scenario, economy: { holdings_on_failure: { heir: 'nobody' } } }).ok, false, 'an unknown heir');
});
