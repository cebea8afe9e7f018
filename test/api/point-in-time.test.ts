import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { checkpointNow } from '../../src/ledger/integrity/checkpoint.ts';
import { http, useSeededValidator } from '../support/validator.ts';
import { waitUntil } from '../support/wait.ts';

const world = useSeededValidator({ env: { GRIDGOV_CHECKPOINT_EVERY: '9', GRIDGOV_VERIFY_INTERVAL_MS: '50' } });

type Balances = Record<string, Record<string, number>>;
const balancesOf = (state: { actors: Array<{ name: string; balances: Record<string, number> }> }): Balances =>
  Object.fromEntries(state.actors.map((a) => [a.name, a.balances]));

test('?at=<ledger id> and ?at=<timestamp> match the balances recorded at that point', async () => {
  const recorded: Array<{ id: number; executedAt: string; balances: Balances }> = [];
  const names = ['alice', 'bob', 'carol', 'dave'];
  for (let i = 0; i < 24; i++) {
    const reply = await http(world.v.url, 'POST', '/execute', {
      proposal_id: randomUUID(),
      actor_from: names[i % 4],
      actor_to: names[(i + 1) % 4],
      resource: ['energy', 'water', 'credits'][i % 3],
      amount: `${(i % 5) + 1}.25`,
    });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    const now = await http(world.v.url, 'GET', '/world-state');
    recorded.push({ id: Math.max(...reply.body.ledger_ids), executedAt: reply.body.executed_at, balances: balancesOf(now.body) });
    if (i === 5) await checkpointNow(world.t.db); // and the verifier adds one every 9 ids
    // The next entry gets a later time, so each one can be asked for by time.
    await waitUntil(() => Date.now() > Date.parse(reply.body.executed_at as string) + 1, 'the clock moved past the entry');
  }
  const { rows } = await world.t.db.query<{ n: number }>('SELECT count(*) AS n FROM checkpoints');
  assert.ok(rows[0]!.n >= 2, 'checkpoints to start from');

  const used = new Set<string>();
  for (const point of recorded) {
    const byId = await http(world.v.url, 'GET', `/world-state?at=${point.id}`);
    assert.equal(byId.status, 200);
    assert.deepEqual(balancesOf(byId.body), point.balances, `at=${point.id}`);
    assert.equal(byId.body.as_of.ledger_id, point.id);
    used.add(byId.body.as_of.checkpoint === null ? 'genesis' : byId.body.as_of.checkpoint > point.id ? 'backwards' : 'forwards');

    const byTime = await http(world.v.url, 'GET', `/world-state?at=${encodeURIComponent(point.executedAt)}`);
    assert.equal(byTime.status, 200);
    assert.equal(byTime.body.as_of.ledger_id, point.id, `at=${point.executedAt}`);
    assert.equal(byTime.body.as_of.timestamp, point.executedAt);
    assert.deepEqual(balancesOf(byTime.body), point.balances);
  }
  assert.ok(used.has('forwards') && used.has('backwards'), [...used].join());

  const before = await http(world.v.url, 'GET', '/world-state?at=2000-01-01T00:00:00Z');
  assert.equal(before.body.as_of.ledger_id, 0);
  assert.ok(before.body.actors.every((a: { balances: Record<string, number> }) => Object.values(a.balances).every((x) => x === 0)));
  const offset = await http(world.v.url, 'GET', `/world-state?at=${encodeURIComponent('2999-01-01T01:00:00+01:00')}`);
  assert.equal(offset.body.as_of.ledger_id, recorded[recorded.length - 1]!.id);
  for (const bad of ['yesterday', '2025-13-45T00:00:00Z', '2025-02-28T12:00:00', '-1']) {
    const reply = await http(world.v.url, 'GET', `/world-state?at=${encodeURIComponent(bad)}`);
    assert.equal(reply.status, 400, bad);
    assert.equal(reply.body.field, 'at');
  }
});
