import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { invariantViolations } from '../support/invariants.ts';
import { makeProposals } from '../support/load.ts';
import { http, useSeededValidator } from '../support/validator.ts';

const world = useSeededValidator();

const batch = (proposals: unknown) => http(world.v.url, 'POST', '/execute/batch', { proposals });
const trade = (over: Record<string, unknown> = {}) => ({
  proposal_id: randomUUID(),
  actor_from: 'alice',
  actor_to: 'bob',
  resource: 'water',
  amount: 1,
  ...over,
});

test('POST /execute/batch answers one outcome per proposal, in order, a malformed item failing alone', async () => {
  const a = trade();
  const reply = await batch([
    a,
    { ...a },
    { ...a, amount: 2 },
    trade({ amount: 999 }),
    { proposal_id: 'nope' },
    trade({ actor_to: 'carol' }),
  ]);
  assert.equal(reply.status, 200);
  const results = reply.body.results as Array<{
    status: string;
    http_status: number;
    error_code?: string;
    replayed?: boolean;
    field?: string;
  }>;
  assert.deepEqual(
    results.map((r) => [r.status, r.http_status]),
    [
      ['applied', 200],
      ['applied', 200],
      ['error', 409],
      ['rejected', 422],
      ['error', 400],
      ['applied', 200],
    ],
  );
  assert.equal(results[1]!.replayed, true);
  assert.equal(results[4]!.field, 'proposals.4.proposal_id');
  const again = await http(world.v.url, 'POST', '/execute', a);
  assert.equal(again.body.replayed, true, 'a proposal applied in a batch replays through /execute');
});

test('the batch body itself is checked: shape, size, breaker', async () => {
  assert.equal((await http(world.v.url, 'POST', '/execute/batch', { proposals: [], extra: 1 })).status, 400);
  assert.equal((await batch([])).status, 400);
  assert.equal((await batch(Array.from({ length: 501 }, () => trade()))).status, 400);
  assert.equal((await http(world.v.url, 'POST', '/execute/batch', [trade()])).status, 400);
  await world.t.db.query("UPDATE control SET breaker_on = true, reason = 'drill'");
  const halted = await batch([trade()]);
  await world.t.db.query('UPDATE control SET breaker_on = false, reason = NULL');
  assert.equal(halted.status, 503);
  assert.equal(halted.body.error_code, 'CIRCUIT_BREAKER_OPEN');
});

test('concurrent batches and single calls on the same actors keep every invariant', async () => {
  const proposals = makeProposals(2000, ['alice', 'bob', 'carol', 'dave'], ['energy', 'water'], 5).map((p) => p.body);
  const chunks: unknown[][] = [];
  for (let i = 0; i < proposals.length; i += 100) chunks.push(proposals.slice(i, i + 100));
  const replies = await Promise.all([
    ...chunks.map((chunk) => batch(chunk)),
    ...proposals.slice(0, 200).map((p) => http(world.v.url, 'POST', '/execute', p)),
  ]);
  assert.ok(
    replies.every((r) => [200, 409, 422].includes(r.status)),
    `statuses ${[...new Set(replies.map((r) => r.status))].join(', ')} ${JSON.stringify(replies.find((r) => r.status === 503)?.body)}`,
  );
  assert.deepEqual(await invariantViolations(world.t.db), []);
});
