import assert from 'node:assert/strict';
import { test } from 'node:test';
import { http, waitForHealth, useSeededValidator } from '../support/validator.ts';
import { tradeBody } from '../support/scenario.ts';

const world = useSeededValidator();

const get = (path: string) => http(world.v.url, 'GET', path);
const execute = (over: Record<string, unknown>) => http(world.v.url, 'POST', '/execute', tradeBody(over));

test('GET /world-state has the blueprint shape plus ledger_head', async () => {
  const { status, body } = await get('/world-state');
  assert.equal(status, 200);
  assert.equal(body.epoch, 0);
  assert.ok(!Number.isNaN(Date.parse(body.timestamp)));
  assert.deepEqual(body.resources.sort(), ['credits', 'energy', 'water']);
  assert.equal(body.constraints.max_transfer, 50);
  assert.equal(body.constraints.min_balance, 10);
  assert.deepEqual(body.constraints.per_resource.credits, { max_transfer: 500, min_balance: 0 });
  const alice = body.actors.find((a: { name: string }) => a.name === 'alice');
  assert.deepEqual(Object.keys(alice).sort(), ['balances', 'id', 'name', 'type']);
  assert.equal(alice.type, 'node');
  assert.deepEqual(alice.balances, { credits: 1000, energy: 100, water: 100 });
  assert.ok(!body.actors.some((a: { type: string }) => a.type === 'system'), 'world is not a trading actor');
  assert.equal(typeof body.ledger_head, 'number');
  assert.equal(body.supply.energy, 320);
});

test('?at=<ledger id> returns the state as of that entry', async () => {
  const first = await execute({ amount: 7 });
  const atFirst = first.body.ledger_ids[0];
  await execute({ amount: 9 });
  const then = await get(`/world-state?at=${atFirst}`);
  const now = await get('/world-state');
  const aliceThen = then.body.actors.find((a: { name: string }) => a.name === 'alice');
  const aliceNow = now.body.actors.find((a: { name: string }) => a.name === 'alice');
  assert.equal(aliceNow.balances.energy, aliceThen.balances.energy - 9);
  const genesisOnly = await get('/world-state?at=0');
  assert.equal(genesisOnly.body.actors[0].balances.energy, 0);
  const future = await get(`/world-state?at=${now.body.ledger_head + 100}`);
  assert.equal(future.status, 400);
  const bad = await get('/world-state?at=yesterday');
  assert.equal(bad.status, 400);
  assert.equal(bad.body.field, 'at');
});

test('GET /ledger pages newest first with a cursor and filters by actor, resource, proposal and kind', async () => {
  for (let i = 0; i < 5; i++) await execute({ actor_from: 'carol', actor_to: 'dave', resource: 'water', amount: 1 });
  const page1 = await get('/ledger?limit=2&actor=carol&resource=water');
  assert.equal(page1.status, 200);
  assert.equal(page1.body.entries.length, 2);
  assert.ok(page1.body.entries[0].id > page1.body.entries[1].id);
  const page2 = await get(`/ledger?limit=2&actor=carol&resource=water&cursor=${page1.body.next_cursor}`);
  assert.ok(page2.body.entries[0].id < page1.body.entries[1].id);
  const all = await get('/ledger?limit=500&actor=carol&resource=water');
  assert.ok(
    all.body.entries.every(
      (e: { actor_from_name: string; actor_to_name: string; resource: string }) =>
        (e.actor_from_name === 'carol' || e.actor_to_name === 'carol') && e.resource === 'water',
    ),
  );
  assert.equal(all.body.next_cursor, null);
  const one = all.body.entries[0];
  const byProposal = await get(`/ledger?proposal_id=${one.proposal_id}`);
  assert.deepEqual(
    byProposal.body.entries.map((e: { id: number }) => e.id),
    [one.id],
  );
  const genesis = await get('/ledger?kind=genesis&limit=500');
  assert.equal(genesis.body.entries.length, 12);
  const unknown = await get('/ledger?nope=1');
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body.error_code, 'BAD_REQUEST');
});

test('GET /rejections lists rejections with a cursor and an error-code filter', async () => {
  for (let i = 0; i < 3; i++) await execute({ amount: 51 });
  await execute({ resource: 'gold' });
  const page = await get('/rejections?limit=2&error_code=CONSTRAINT_VIOLATION');
  assert.equal(page.body.rejections.length, 2);
  assert.ok(page.body.next_cursor);
  const rest = await get(`/rejections?limit=2&error_code=CONSTRAINT_VIOLATION&cursor=${page.body.next_cursor}`);
  assert.equal(rest.body.rejections.length, 1);
  assert.equal(rest.body.next_cursor, null);
  const ids = new Set([...page.body.rejections, ...rest.body.rejections].map((r: { proposal_id: string }) => r.proposal_id));
  assert.equal(ids.size, 3);
  assert.equal((await get('/rejections?cursor=garbage')).status, 400);
});

test('GET /actors and /resources', async () => {
  const actors = await get('/actors');
  assert.equal(actors.body.actors.length, 4);
  const resources = await get('/resources');
  assert.deepEqual(
    resources.body.resources.find((r: { name: string }) => r.name === 'credits'),
    { name: 'credits', unit: 'cr', max_transfer: 500, min_balance: 0 },
  );
});

test('/health is 200 when consistent; a balance changed behind the ledger is 503 naming it; put back, 200', async () => {
  const healthy = await get('/health');
  assert.equal(healthy.status, 200);
  assert.equal(healthy.body.checks.ledger_consistency.ok, true);
  const { rows } = await world.t.db.query<{ amount: string }>(
    "SELECT amount::text FROM balances WHERE actor_id = (SELECT id FROM actors WHERE name = 'bob') AND resource = 'water'",
  );
  const original = rows[0]!.amount;
  await world.t.db.query(
    "UPDATE balances SET amount = amount + 1 WHERE actor_id = (SELECT id FROM actors WHERE name = 'bob') AND resource = 'water'",
  );
  // The background verifier reports it within one verification interval (at most 5 s).
  const drifted = await waitForHealth(world.v.url, (r) => r.status === 503);
  assert.equal(drifted.body.checks.ledger_consistency.ok, false);
  assert.deepEqual(
    drifted.body.checks.ledger_consistency.drift.map((d: { actor: string; resource: string }) => [d.actor, d.resource]),
    [['bob', 'water']],
  );
  await world.t.db.query(
    "UPDATE balances SET amount = $1 WHERE actor_id = (SELECT id FROM actors WHERE name = 'bob') AND resource = 'water'",
    [original],
  );
  await waitForHealth(world.v.url, (r) => r.status === 200);
});

test('/health reports the breaker; /livez only says the process is up', async () => {
  await world.t.db.query("UPDATE control SET breaker_on = true, reason = 'storm'");
  const health = await get('/health');
  await world.t.db.query('UPDATE control SET breaker_on = false, reason = NULL');
  assert.equal(health.status, 503);
  assert.equal(health.body.checks.circuit_breaker.reason, 'storm');
  assert.deepEqual((await get('/livez')).body, { status: 'ok' });
});

test('/openapi.json documents every route and error code; /docs renders it', async () => {
  const doc = await get('/openapi.json');
  assert.equal(doc.body.openapi, '3.1.0');
  for (const path of ['/execute', '/world-state', '/ledger', '/rejections', '/actors', '/resources', '/health', '/livez']) {
    assert.ok(doc.body.paths[path], `missing ${path}`);
  }
  assert.match(doc.body.info.description, /IDEMPOTENCY_CONFLICT/);
  const page = await fetch(`${world.v.url}/docs`);
  assert.match(page.headers.get('content-type') ?? '', /text\/html/);
  assert.match(await page.text(), /MALFORMED_PROPOSAL/);
  const missing = await get('/nope');
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error_code, 'NOT_FOUND');
});
