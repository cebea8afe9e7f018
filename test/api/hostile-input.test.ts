import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ADMIN_KEY, bearer, http, useSeededValidator } from '../support/validator.ts';

// Inputs the fuzzers (test/fuzz) found answered with 500 or an inexact number, kept here as
// plain regression tests.

const world = useSeededValidator({ poolSize: 4 });

const auditCount = async () => (await world.t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM admin_audit')).rows[0]!.n;

test('a NUL in a query parameter is a 400 naming the parameter, on every route that reads one', async () => {
  for (const [path, field] of [
    ['/ledger?actor=%00', 'actor'],
    ['/ledger?resource=a%00b', 'resource'],
    ['/rejections?error_code=%00', 'error_code'],
    ['/admin/audit?admin_user=%00', 'admin_user'],
    ['/admin/audit?action=x%00', 'action'],
  ] as const) {
    const reply = await http(world.v.url, 'GET', path, undefined, bearer(ADMIN_KEY));
    assert.equal(reply.status, 400, `${path}: ${JSON.stringify(reply.body)}`);
    assert.equal(reply.body.error_code, 'BAD_REQUEST');
    assert.equal(reply.body.field, field);
  }
});

test('a NUL in an admin body is a 400, audited, and changes nothing', async () => {
  for (const [path, body] of [
    ['/admin/balance', { actor_id: 'alice\u0000', resource: 'water', amount: 5 }],
    ['/admin/reset-credit', { actor_id: '\u0000' }],
    ['/admin/circuit-breaker', { enabled: true, reason: 'storm\u0000' }],
  ] as const) {
    const before = await auditCount();
    const reply = await http(world.v.url, 'POST', path, body, bearer(ADMIN_KEY));
    assert.equal(reply.status, 400, `${path}: ${JSON.stringify(reply.body)}`);
    assert.equal(await auditCount(), before + 1, `${path} left one audit row`);
  }
  const control = await world.t.db.query<{ breaker_on: boolean }>('SELECT breaker_on FROM control');
  assert.equal(control.rows[0]!.breaker_on, false);
});

test('a rejections cursor with a time Postgres would refuse is a 400', async () => {
  for (const at of ['1', '2026-02-31 10:00:00+00', '2026-13-01 00:00:00+00', 'now', '2026-11-27T17:29:41Z']) {
    const cursor = Buffer.from(JSON.stringify({ at, id: '6a1d2f0e-1b9c-4e57-9a39-7d3f2b8c1e42' })).toString('base64url');
    const reply = await http(world.v.url, 'GET', `/rejections?cursor=${cursor}`);
    assert.equal(reply.status, 400, `${at}: ${JSON.stringify(reply.body)}`);
    assert.equal(reply.body.field, 'cursor');
  }
});

test('rejection cursors the API hands out still page through every rejection', async () => {
  for (let i = 0; i < 5; i++) {
    const reply = await http(world.v.url, 'POST', '/execute', {
      proposal_id: `7a1d2f0e-1b9c-4e57-9a39-7d3f2b8c1e4${i}`,
      actor_from: 'alice',
      actor_to: 'bob',
      resource: 'energy',
      amount: 75,
    });
    assert.equal(reply.status, 422);
  }
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { body: { rejections: Array<{ proposal_id: string }>; next_cursor: string | null } } = await http(
      world.v.url,
      'GET',
      `/rejections?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
    );
    seen.push(...page.body.rejections.map((r) => r.proposal_id));
    cursor = page.body.next_cursor;
  } while (cursor);
  assert.equal(new Set(seen).size, 5);
});

test('a balance set beyond what a JSON number prints exactly is refused, like a leg', async () => {
  const huge = await http(
    world.v.url,
    'POST',
    '/admin/balance',
    { actor_id: 'alice', resource: 'water', amount: '12345678901234567890123.5' },
    bearer(ADMIN_KEY),
  );
  assert.equal(huge.status, 400, JSON.stringify(huge.body));
  assert.equal(huge.body.field, 'amount');
  const largest = await http(
    world.v.url,
    'POST',
    '/admin/balance',
    { actor_id: 'alice', resource: 'water', amount: '999999999.999999' },
    bearer(ADMIN_KEY),
  );
  assert.equal(largest.status, 200, JSON.stringify(largest.body));
  assert.equal(String(largest.body.amount), '999999999.999999');
});

test('a URL that does not decode is a 400 in the one error shape', async () => {
  const reply = await http(world.v.url, 'GET', '/%ED%A0%80/execute');
  assert.equal(reply.status, 400);
  assert.equal(reply.body.status, 'error');
  assert.equal(reply.body.error_code, 'BAD_REQUEST');
});

test('run bodies that jsonb cannot store are a 400, not a 500', async () => {
  const system = bearer(ADMIN_KEY);
  const scenario = { name: 'hostile', resources: [{ name: 'energy' }], actors: [{ name: 'solo', balances: { energy: 1 } }] };
  const created = await http(world.v.url, 'POST', '/runs', { scenario, seed: 1, merge: true }, system);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const runId = created.body.run_id as string;
  assert.equal((await http(world.v.url, 'POST', `/runs/${runId}/epochs/1/settle`, undefined, system)).status, 200);
  for (const [method, path, body] of [
    ['PUT', `/runs/${runId}/epochs/1/stats`, '{"stats":{"\\ud800":1}}'],
    ['PUT', `/runs/${runId}/epochs/1/plan`, '{"plan":{"note":"a\\u0000b"}}'],
    ['POST', '/runs', JSON.stringify({ scenario: { ...scenario, description: 'x\u0000' } })],
  ] as const) {
    const reply = await http(world.v.url, method, path, body, system);
    assert.equal(reply.status, 400, `${method} ${path}: ${JSON.stringify(reply.body)}`);
    assert.equal(reply.body.error_code, 'BAD_REQUEST');
  }
});
