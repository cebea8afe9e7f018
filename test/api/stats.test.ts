import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { http, useSeededValidator } from '../support/validator.ts';
import { tradeBody } from '../support/scenario.ts';

const world = useSeededValidator();

const trade = (over: Record<string, unknown>) => http(world.v.url, 'POST', '/execute', tradeBody(over));

test('GET /stats on a fresh world: supply, Gini per resource, nothing decided yet', async () => {
  const { status, body } = await http(world.v.url, 'GET', '/stats');
  assert.equal(status, 200);
  assert.equal(body.epoch, 0);
  assert.equal(body.actors, 4);
  assert.ok(body.ledger_head > 0, 'genesis entries count');
  assert.deepEqual(body.supply, { credits: 3050, energy: 320, water: 320 });
  // energy held 100, 100, 100, 20: (2·(20 + 200 + 300 + 400) − 5·320) / (4·320) = 0.1875
  assert.equal(body.gini.energy, 0.1875);
  assert.equal(body.window.seconds, 300);
  assert.equal(body.window.applied, 0);
  assert.equal(body.window.rejected, 0);
  assert.equal(body.window.acceptance, null);
  assert.deepEqual(body.rejections, { total: 0, by_code: {} });
  assert.deepEqual(body.outbox.by_status, { pending: 0, delivered: 0, skipped: 0, dead: 0 });
  assert.equal(body.outbox.backlog, 0);
});

test('GET /stats counts applied and rejected proposals, rejections by code and the outbox', async () => {
  await trade({ amount: 5 });
  const swap = await http(world.v.url, 'POST', '/execute', {
    proposal_id: randomUUID(),
    legs: [
      { actor_from: 'alice', actor_to: 'bob', resource: 'energy', amount: 1 },
      { actor_from: 'bob', actor_to: 'alice', resource: 'water', amount: 1 },
    ],
  });
  assert.equal(swap.status, 200);
  const rejected = await trade({ actor_from: 'dave', amount: 15 }); // dave has 20 energy, min_balance 10
  assert.equal(rejected.body.error_code, 'CONSTRAINT_VIOLATION');
  await trade({ actor_to: 'nobody' });
  await trade({ actor_to: 'nobody' }).then(async (r) =>
    http(world.v.url, 'POST', '/execute', {
      proposal_id: r.body.proposal_id,
      actor_from: 'alice',
      actor_to: 'nobody',
      resource: 'energy',
      amount: 1,
    }),
  );

  const { body } = await http(world.v.url, 'GET', '/stats?window=60');
  assert.equal(body.window.seconds, 60);
  assert.equal(body.window.applied, 2, 'two trade proposals, three legs');
  // The seed's genesis entries were written moments ago too.
  assert.deepEqual(body.window.entries_by_kind, { genesis: 12, trade: 3 });
  assert.equal(body.window.entries, 15);
  assert.equal(body.window.rejected, 3);
  assert.deepEqual(body.window.rejected_by_code, { CONSTRAINT_VIOLATION: 1, INVALID_ACTOR: 2 });
  assert.equal(body.window.applied_per_minute, 2);
  assert.equal(body.window.acceptance, 0.4);
  assert.deepEqual(body.rejections, { total: 3, by_code: { CONSTRAINT_VIOLATION: 1, INVALID_ACTOR: 2 } });
  // Linear and Discord are not configured here: each rejection's two rows are skipped.
  assert.deepEqual(body.outbox.by_status, { pending: 0, delivered: 0, skipped: 6, dead: 0 });
  assert.deepEqual(body.outbox.by_topic, { discord: { skipped: 3 }, linear: { skipped: 3 } });
  assert.equal(body.supply.energy, 320, 'trades move supply, never create it');
});

test('GET /stats counts pending and dead outbox rows as the backlog', async () => {
  await world.t.db.query(
    `INSERT INTO outbox (topic, dedupe_key, payload, status) VALUES ('linear', 'linear:x1', '{}', 'pending'), ('linear', 'linear:x2', '{}', 'dead')`,
  );
  const { body } = await http(world.v.url, 'GET', '/stats');
  assert.equal(body.outbox.backlog, 2);
  assert.equal(body.outbox.by_topic.linear.pending, 1);
  assert.ok(!Number.isNaN(Date.parse(body.outbox.oldest_pending_at)));
});

test('GET /stats refuses a bad window', async () => {
  for (const query of ['window=5', 'window=abc', 'other=1']) {
    const { status, body } = await http(world.v.url, 'GET', `/stats?${query}`);
    assert.equal(status, 400, query);
    assert.equal(body.error_code, 'BAD_REQUEST');
  }
});

test('an index on executed_at is there for the windowed counts', async () => {
  const { rows } = await world.t.db.query<{ indexdef: string }>("SELECT indexdef FROM pg_indexes WHERE indexname = 'ledger_executed_at'");
  assert.match(rows[0]?.indexdef ?? '', /ON public\.ledger USING btree \(executed_at, id\)/);
});

test('GET /stats names the current epoch: the latest of the run that started an epoch last', async () => {
  const [older, newer] = [randomUUID(), randomUUID()];
  await world.t.db.query(
    "INSERT INTO runs (id, scenario, seed, strategy) VALUES ($1, 'test', '1', 'heuristic'), ($2, 'test', '2', 'heuristic')",
    [older, newer],
  );
  await world.t.db.query(
    `INSERT INTO epochs (run_id, epoch, started_at) VALUES
       ($1, 1, now() - interval '3 minutes'), ($1, 2, now() - interval '2 minutes'), ($1, 3, now() - interval '1 minute'),
       ($2, 1, now())`,
    [older, newer],
  );
  assert.equal((await http(world.v.url, 'GET', '/stats')).body.epoch, 1);
  await world.t.db.query("INSERT INTO epochs (run_id, epoch, started_at) VALUES ($1, 4, now() + interval '1 second')", [older]);
  assert.equal((await http(world.v.url, 'GET', '/stats')).body.epoch, 4);
});
