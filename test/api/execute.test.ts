import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import type { Db } from '../../src/db/db.ts';
import { invariantViolations } from '../support/invariants.ts';
import { ADMIN_KEY, bearer, http, startValidator, useSeededValidator } from '../support/validator.ts';
import { tradeBody } from '../support/scenario.ts';

const world = useSeededValidator();

const execute = (body: unknown, headers: Record<string, string> = {}) => http(world.v.url, 'POST', '/execute', body, headers);
const balance = async (actor: string, resource: string) =>
  (
    await world.t.db.query<{ amount: string }>(
      'SELECT b.amount::text FROM balances b JOIN actors a ON a.id = b.actor_id WHERE a.name = $1 AND b.resource = $2',
      [actor, resource],
    )
  ).rows[0]!.amount;
const count = async (table: string) => (await world.t.db.query<{ n: number }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n;
const trade = (over: Record<string, unknown> = {}) => tradeBody({ amount: 5, ...over });

test('applied: 200 with ledger ids; the balances move and the ledger row carries the validator version', async () => {
  const body = trade({ metadata: { reasoning: 'bob is short' } });
  const reply = await execute(body);
  assert.equal(reply.status, 200);
  assert.equal(reply.body.status, 'applied');
  assert.equal(reply.body.replayed, false);
  assert.equal(reply.body.ledger_ids.length, 1);
  assert.equal(await balance('alice', 'energy'), '95.000000');
  assert.equal(await balance('bob', 'energy'), '105.000000');
  const { rows } = await world.t.db.query<{ validator_version: string; metadata: unknown; kind: string }>(
    'SELECT validator_version, metadata, kind FROM ledger WHERE id = $1',
    [reply.body.ledger_ids[0]],
  );
  assert.deepEqual(rows[0], { validator_version: 'test', metadata: { reasoning: 'bob is short' }, kind: 'trade' });
});

test('same id, same payload, already applied: 200 replayed and nothing new (10 equals "10.000")', async () => {
  const body = trade({ amount: 10 });
  const first = await execute(body);
  const ledgerBefore = await count('ledger');
  const again = await execute({ ...body, amount: '10.000', actor_from: 'alice' });
  assert.equal(again.status, 200);
  assert.equal(again.body.replayed, true);
  assert.deepEqual(again.body.ledger_ids, first.body.ledger_ids);
  assert.equal(await count('ledger'), ledgerBefore);
});

test('an actor may be named by id or by name: both are the same payload', async () => {
  const { rows } = await world.t.db.query<{ id: string }>("SELECT id::text FROM actors WHERE name = 'alice'");
  const body = trade();
  await execute(body);
  const byId = await execute({ ...body, actor_from: rows[0]!.id });
  assert.equal(byId.status, 200);
  assert.equal(byId.body.replayed, true);
});

test('business rejection: 422 with the code, one rejection row and one outbox row per target', async () => {
  const body = trade({ amount: 500 });
  const reply = await execute(body);
  assert.equal(reply.status, 422);
  assert.equal(reply.body.status, 'rejected');
  assert.equal(reply.body.error_code, 'CONSTRAINT_VIOLATION');
  const { rows } = await world.t.db.query<{ validation_error_code: string; proposal_json: unknown }>(
    'SELECT validation_error_code, proposal_json FROM rejected_proposals WHERE proposal_id = $1',
    [body.proposal_id],
  );
  assert.deepEqual(rows, [{ validation_error_code: 'CONSTRAINT_VIOLATION', proposal_json: body }]);
  const outbox = await world.t.db.query<{ topic: string; status: string }>(
    "SELECT topic, status FROM outbox WHERE payload->>'proposal_id' = $1 ORDER BY topic",
    [body.proposal_id],
  );
  assert.deepEqual(outbox.rows, [
    { topic: 'discord', status: 'skipped' },
    { topic: 'linear', status: 'skipped' },
  ]);
});

test('same id, same payload, already rejected: the original rejection, replayed, and no second row or ticket', async () => {
  const body = trade({ amount: 60 });
  const first = await execute(body);
  const rejections = await count('rejected_proposals');
  const outbox = await count('outbox');
  const again = await execute(body);
  assert.equal(again.status, 422);
  assert.equal(again.body.replayed, true);
  assert.equal(again.body.error_code, first.body.error_code);
  assert.equal(again.body.rejected_at, first.body.rejected_at);
  assert.equal(await count('rejected_proposals'), rejections);
  assert.equal(await count('outbox'), outbox);
});

test('same id, different payload: 409 IDEMPOTENCY_CONFLICT, audited, nothing else recorded', async () => {
  const body = trade();
  await execute(body);
  const ledger = await count('ledger');
  const reply = await execute({ ...body, amount: 6 });
  assert.equal(reply.status, 409);
  assert.equal(reply.body.status, 'error');
  assert.equal(reply.body.error_code, 'IDEMPOTENCY_CONFLICT');
  assert.equal(await count('ledger'), ledger);
  const audit = await world.t.db.query(
    "SELECT 1 FROM admin_audit WHERE outcome = 'IDEMPOTENCY_CONFLICT' AND payload->>'proposal_id' = $1",
    [body.proposal_id],
  );
  assert.equal(audit.rowCount, 1);
  const rejected = trade({ amount: 70 });
  await execute(rejected);
  const conflict = await execute({ ...rejected, amount: 71 });
  assert.equal(conflict.status, 409);
});

test('malformed body: 400 MALFORMED_PROPOSAL naming the field, nothing recorded', async () => {
  const ledger = await count('ledger');
  const rejections = await count('rejected_proposals');
  const cases: Array<[unknown, string]> = [
    [{ ...trade(), amount: 'lots' }, 'amount'],
    [{ ...trade(), proposal_id: 'not-a-uuid' }, 'proposal_id'],
    [{ ...trade(), surprise: 1 }, 'surprise'],
    [{ proposal_id: randomUUID(), legs: [{ actor_from: 'alice', actor_to: 'bob', resource: 'energy' }] }, 'legs.0.amount'],
  ];
  for (const [body, field] of cases) {
    const reply = await execute(body);
    assert.equal(reply.status, 400, JSON.stringify(reply.body));
    assert.equal(reply.body.error_code, 'MALFORMED_PROPOSAL');
    assert.equal(reply.body.field, field);
  }
  const broken = await execute('{"proposal_id": ');
  assert.equal(broken.status, 400);
  assert.equal(broken.body.error_code, 'MALFORMED_PROPOSAL');
  const wrongType = await http(world.v.url, 'POST', '/execute', 'x=1', { 'content-type': 'application/x-www-form-urlencoded' });
  assert.equal(wrongType.status, 415);
  assert.equal(wrongType.body.error_code, 'UNSUPPORTED_MEDIA_TYPE');
  assert.equal(await count('ledger'), ledger);
  assert.equal(await count('rejected_proposals'), rejections);
});

test('circuit breaker on: 503 CIRCUIT_BREAKER_OPEN and nothing recorded; off: the same proposal applies', async () => {
  await world.t.db.query("UPDATE control SET breaker_on = true, reason = 'maintenance'");
  const body = trade();
  try {
    const reply = await execute(body);
    assert.equal(reply.status, 503);
    assert.equal(reply.body.error_code, 'CIRCUIT_BREAKER_OPEN');
    assert.equal(reply.body.reason, 'maintenance');
    const rows = await world.t.db.query(
      'SELECT 1 FROM ledger WHERE proposal_id = $1 UNION ALL SELECT 1 FROM rejected_proposals WHERE proposal_id = $1',
      [body.proposal_id],
    );
    assert.equal(rows.rowCount, 0);
  } finally {
    await world.t.db.query('UPDATE control SET breaker_on = false, reason = NULL');
  }
  const retry = await execute(body);
  assert.equal(retry.status, 200);
  assert.equal(retry.body.replayed, false);
});

test('database unreachable: 503 DATABASE_UNAVAILABLE', async () => {
  const { createDb } = await import('../../src/db/db.ts');
  const dead = createDb('postgres://nobody:x@127.0.0.1:1/none', { connectionTimeoutMs: 500 });
  const isolated = await startValidator(dead);
  try {
    const reply = await http(isolated.url, 'POST', '/execute', trade());
    assert.equal(reply.status, 503);
    assert.equal(reply.body.error_code, 'DATABASE_UNAVAILABLE');
    const health = await http(isolated.url, 'GET', '/health');
    assert.equal(health.status, 503);
    assert.equal(health.body.checks.database.ok, false);
  } finally {
    await isolated.close();
    await dead.close();
  }
});

test('database out of a resource (SQLSTATE class 53, say a full lock table): 503 DATABASE_UNAVAILABLE, not 500', async () => {
  // What pg raises when the server's lock table is full ("out of shared memory", 53200), out of
  // disk (53100) or out of connections (53300).
  for (const [code, message] of [
    ['53200', 'out of shared memory'],
    ['53100', 'could not extend file: No space left on device'],
    ['53300', 'sorry, too many clients already'],
  ]) {
    // The server answers while the validator starts, then runs out.
    let out = false;
    const refusal = () => Object.assign(new pg.DatabaseError(message!, 0, 'error'), { code });
    const exhausted: Db = {
      query: (sql, params) => (out ? Promise.reject(refusal()) : world.t.db.query(sql, params)),
      transaction: (fn) => (out ? Promise.reject(refusal()) : world.t.db.transaction(fn)),
      close: async () => undefined,
    };
    const isolated = await startValidator(exhausted, { GRIDGOV_LEDGER_GUARD: 'off' });
    out = true;
    try {
      const reply = await http(isolated.url, 'POST', '/execute', trade());
      assert.equal(reply.status, 503, `${code}: ${JSON.stringify(reply.body)}`);
      assert.equal(reply.body.error_code, 'DATABASE_UNAVAILABLE');
      const read = await http(isolated.url, 'GET', '/ledger?limit=1');
      assert.equal(read.status, 503, code);
      assert.equal(read.body.error_code, 'DATABASE_UNAVAILABLE');
    } finally {
      await isolated.close();
    }
  }
});

test('every business error code is reachable and recorded', async () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ amount: 1000 }, 'CONSTRAINT_VIOLATION'],
    [{ actor_from: 'dave', amount: 15 }, 'CONSTRAINT_VIOLATION'],
    [{ actor_from: 'dave', resource: 'credits', amount: 60 }, 'INSUFFICIENT_BALANCE'],
    [{ actor_to: 'nobody' }, 'INVALID_ACTOR'],
    [{ resource: 'gold' }, 'INVALID_RESOURCE'],
    [{ actor_to: 'alice' }, 'SAME_ACTOR'],
    [{ actor_from: 'world' }, 'FORBIDDEN_ACTOR'],
  ];
  for (const [over, code] of cases) {
    const reply = await execute(trade(over));
    assert.equal(reply.status, code === 'FORBIDDEN_ACTOR' ? 403 : 422, `${code}: ${JSON.stringify(reply.body)}`);
    assert.equal(reply.body.error_code, code, reply.body.message);
  }
});

test('the system role may move world funds', async () => {
  const reply = await execute(trade({ actor_from: 'world', actor_to: 'dave', amount: 3 }), bearer(ADMIN_KEY));
  assert.equal(reply.status, 200);
  const badKey = await execute(trade(), bearer('not-a-real-key-at-all'));
  assert.equal(badKey.status, 401);
  assert.equal(badKey.body.error_code, 'UNAUTHORIZED');
});

test('multi-leg swap applies atomically; a failing leg rejects the whole proposal', async () => {
  const before = [await balance('alice', 'energy'), await balance('bob', 'water')];
  const swap = {
    proposal_id: randomUUID(),
    legs: [
      { actor_from: 'alice', actor_to: 'bob', resource: 'energy', amount: 4 },
      { actor_from: 'bob', actor_to: 'alice', resource: 'water', amount: '2.5' },
    ],
    metadata: { transcript: [{ from: 'alice', offer: '4 energy for 2.5 water' }] },
  };
  const reply = await execute(swap);
  assert.equal(reply.status, 200);
  assert.equal(reply.body.ledger_ids.length, 2);
  const failing = {
    proposal_id: randomUUID(),
    legs: [swap.legs[0], { actor_from: 'bob', actor_to: 'alice', resource: 'water', amount: 1000 }],
  };
  const rejected = await execute(failing);
  assert.equal(rejected.status, 422);
  assert.equal(await world.t.db.query('SELECT 1 FROM ledger WHERE proposal_id = $1', [failing.proposal_id]).then((r) => r.rowCount), 0);
  assert.notDeepEqual([await balance('alice', 'energy'), await balance('bob', 'water')], before);
});

test('decimals are exact end to end: 0.1 + 0.2 arrives as 0.3', async () => {
  await execute(trade({ actor_from: 'carol', actor_to: 'dave', resource: 'water', amount: 0.1 }));
  await execute(trade({ actor_from: 'carol', actor_to: 'dave', resource: 'water', amount: '0.2' }));
  const state = await http(world.v.url, 'GET', '/world-state');
  const dave = state.body.actors.find((a: { name: string }) => a.name === 'dave');
  assert.equal(dave.balances.water, 20.3);
  assert.equal(await balance('dave', 'water'), '20.300000');
});

test('after all of the above every invariant holds', async () => {
  assert.deepEqual(await invariantViolations(world.t.db), []);
});
