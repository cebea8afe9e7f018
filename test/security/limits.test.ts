import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { ADMIN_KEY, bearer, http, spawnValidator, useSeededValidator } from '../support/validator.ts';

const world = useSeededValidator({ poolSize: 4, env: { GRIDGOV_ADMIN_RATE_PER_MIN: '5' } });

test('admin routes are rate limited per client, with Retry-After, and the refusals are audited', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 7; i++) statuses.push((await http(world.v.url, 'GET', '/admin/audit?limit=1', undefined, bearer(ADMIN_KEY))).status);
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429]);
  const limited = await fetch(`${world.v.url}/admin/audit`, { headers: bearer(ADMIN_KEY) });
  assert.equal(limited.status, 429);
  assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  assert.equal(((await limited.json()) as { error_code: string }).error_code, 'RATE_LIMITED');
  const { rows } = await world.t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM admin_audit WHERE outcome = 'RATE_LIMITED'");
  assert.equal(rows[0]!.n, 3);
  // Trading is not limited by the admin limiter.
  for (let i = 0; i < 10; i++) {
    const r = await http(world.v.url, 'POST', '/execute', {
      proposal_id: randomUUID(),
      actor_from: 'alice',
      actor_to: 'bob',
      resource: 'water',
      amount: 1,
    });
    assert.equal(r.status, 200);
  }
});

test('oversized bodies are refused with 413 and change nothing', async () => {
  const before = await world.t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM ledger');
  const huge = {
    proposal_id: randomUUID(),
    actor_from: 'alice',
    actor_to: 'bob',
    resource: 'water',
    amount: 1,
    metadata: { blob: 'x'.repeat(300 * 1024) },
  };
  const reply = await http(world.v.url, 'POST', '/execute', huge);
  assert.equal(reply.status, 413);
  assert.equal(reply.body.error_code, 'PAYLOAD_TOO_LARGE');
  const after = await world.t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM ledger');
  assert.equal(after.rows[0]!.n, before.rows[0]!.n);
});

test('secrets never reach the logs, even at debug level and on errors', async () => {
  const url = new URL(world.t.url);
  const dbPassword = decodeURIComponent(url.password);
  const p = await spawnValidator(world.t.url, {
    LOG_LEVEL: 'debug',
    LINEAR_API_KEY: 'lin_api_supersecret_123456',
    LINEAR_TEAM_ID: 't',
    LINEAR_API_URL: 'http://127.0.0.1:1/graphql',
  });
  try {
    await http(p.url, 'POST', '/admin/balance', { actor_id: 'alice', resource: 'water', amount: 1 }, bearer(ADMIN_KEY));
    await http(p.url, 'POST', '/admin/balance', { actor_id: 'alice' }, bearer('ggk_wrong_key_value_0000'));
    await http(p.url, 'POST', '/execute', '{"broken', bearer(ADMIN_KEY));
    await http(p.url, 'POST', '/execute', {
      proposal_id: randomUUID(),
      actor_from: 'alice',
      actor_to: 'bob',
      resource: 'water',
      amount: 999,
    });
  } finally {
    p.child.kill('SIGTERM');
    await p.exited;
  }
  const output = p.output();
  assert.ok(output.length > 0);
  for (const secret of [ADMIN_KEY, 'ggk_wrong_key_value_0000', 'lin_api_supersecret_123456', dbPassword]) {
    assert.ok(!output.includes(secret), `a secret leaked into the logs`);
  }
});
