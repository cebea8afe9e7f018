import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createApiKey, revokeApiKey } from '../../src/governance/keys.ts';
import { http, useSeededValidator } from '../support/validator.ts';

const keys: Record<string, string> = {};
const world = useSeededValidator({
  prepare: async (t) => {
    for (const role of ['viewer', 'operator', 'admin']) keys[role] = (await createApiKey(t.db, `${role}-key`, role)).key;
    keys.revoked = (await createApiKey(t.db, 'old-admin', 'admin')).key;
    await revokeApiKey(t.db, 'old-admin');
  },
});

const routes = [
  {
    method: 'POST',
    path: '/admin/balance',
    body: { actor_id: 'alice', resource: 'water', amount: 100 },
    role: 'admin',
    action: 'admin.balance',
  },
  { method: 'POST', path: '/admin/reset-credit', body: { actor_id: 'alice' }, role: 'admin', action: 'admin.reset_credit' },
  { method: 'POST', path: '/admin/circuit-breaker', body: { enabled: false }, role: 'operator', action: 'admin.circuit_breaker' },
  { method: 'GET', path: '/admin/audit?limit=5', body: undefined, role: 'viewer', action: 'admin.audit' },
] as const;

const RANK: Record<string, number> = { viewer: 1, operator: 2, admin: 3 };

const callers: Array<{ label: string; header: string | undefined; rank: number; user: string }> = [
  { label: 'no key', header: undefined, rank: 0, user: 'anonymous' },
  { label: 'malformed', header: 'Token abc', rank: 0, user: '(invalid key)' },
  { label: 'unknown', header: 'Bearer ggk_not-a-key-we-issued', rank: 0, user: '(invalid key)' },
  { label: 'revoked', header: '', rank: 0, user: '(invalid key)' },
  { label: 'viewer', header: '', rank: 1, user: 'viewer-key' },
  { label: 'operator', header: '', rank: 2, user: 'operator-key' },
  { label: 'admin', header: '', rank: 3, user: 'admin-key' },
];

const failureCount = async () =>
  (await world.t.db.query<{ n: number }>('SELECT coalesce(sum(failures), 0)::int AS n FROM admin_auth_failures')).rows[0]!.n;

test('every admin route × every kind of caller: the right status, and one audit row or one counted failure per attempt', async () => {
  for (const caller of callers) {
    const header = caller.header === '' ? `Bearer ${keys[caller.label]}` : caller.header;
    for (const route of routes) {
      const before = await world.t.db.query<{ n: number }>('SELECT count(*) AS n FROM admin_audit');
      const failuresBefore = await failureCount();
      const reply = await http(world.v.url, route.method, route.path, route.body, header ? { authorization: header } : {});
      const expected = caller.rank === 0 ? 401 : caller.rank >= RANK[route.role]! ? 200 : 403;
      assert.equal(reply.status, expected, `${caller.label} → ${route.path}: ${JSON.stringify(reply.body)}`);
      const expectedCode = { 200: undefined, 401: 'UNAUTHORIZED', 403: 'FORBIDDEN' }[expected];
      assert.equal(reply.body.error_code, expectedCode);
      const after = await world.t.db.query<{ n: number }>('SELECT count(*) AS n FROM admin_audit');
      if (expected === 401) {
        // Without a valid key the audit is the address's count for the minute, not a row per call.
        assert.equal(after.rows[0]!.n - before.rows[0]!.n, 0, `${caller.label} → ${route.path} wrote no audit row`);
        assert.equal((await failureCount()) - failuresBefore, 1, `${caller.label} → ${route.path} was counted once`);
        const row = await world.t.db.query<{ last_action: string; last_outcome: string }>(
          'SELECT last_action, last_outcome FROM admin_auth_failures ORDER BY minute DESC LIMIT 1',
        );
        assert.equal(row.rows[0]!.last_action, route.action);
        assert.equal(row.rows[0]!.last_outcome, 'UNAUTHORIZED');
        continue;
      }
      assert.equal(after.rows[0]!.n - before.rows[0]!.n, 1, `${caller.label} → ${route.path} wrote one audit row`);
      const audit = await world.t.db.query<{ admin_user: string; action: string; outcome: string; payload: unknown }>(
        'SELECT admin_user, action, outcome, payload FROM admin_audit ORDER BY id DESC LIMIT 1',
      );
      const row = audit.rows[0]!;
      assert.equal(row.admin_user, caller.user);
      assert.equal(row.action, route.action);
      assert.equal(row.outcome, expected === 200 ? 'applied' : 'FORBIDDEN');
      for (const key of Object.values(keys)) assert.ok(!JSON.stringify(row).includes(key), 'a key leaked into the audit');
    }
  }
});

test('a failed admin call that never reached its handler is audited too', async () => {
  const before = await world.t.db.query<{ n: number }>('SELECT count(*) AS n FROM admin_audit');
  const broken = await http(world.v.url, 'POST', '/admin/balance', '{"actor_id":', { authorization: `Bearer ${keys.admin}` });
  assert.equal(broken.status, 400);
  const bad = await http(
    world.v.url,
    'POST',
    '/admin/balance',
    { actor_id: 'alice', resource: 'water', amount: -1 },
    { authorization: `Bearer ${keys.admin}` },
  );
  assert.equal(bad.status, 400);
  assert.equal(bad.body.field, 'amount');
  const after = await world.t.db.query<{ n: number }>('SELECT count(*) AS n FROM admin_audit');
  assert.equal(after.rows[0]!.n - before.rows[0]!.n, 2);
  const last = await world.t.db.query<{ outcome: string; admin_user: string }>(
    'SELECT outcome, admin_user FROM admin_audit ORDER BY id DESC LIMIT 2',
  );
  assert.deepEqual(
    last.rows.map((r) => r.outcome),
    ['BAD_REQUEST', 'BAD_REQUEST'],
  );
  assert.deepEqual(
    last.rows.map((r) => r.admin_user),
    ['admin-key', 'admin-key'],
  );
});

test('GET /admin/audit pages newest first', async () => {
  const page = await http(world.v.url, 'GET', '/admin/audit?limit=3', undefined, { authorization: `Bearer ${keys.viewer}` });
  assert.equal(page.body.entries.length, 3);
  assert.ok(page.body.entries[0].id > page.body.entries[2].id);
  const next = await http(world.v.url, 'GET', `/admin/audit?limit=3&cursor=${page.body.next_cursor}`, undefined, {
    authorization: `Bearer ${keys.viewer}`,
  });
  assert.ok(next.body.entries[0].id < page.body.entries[2].id);
});
