import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { seedTestScenario } from '../support/scenario.ts';
import { ADMIN_KEY, bearer, http, startValidator, type TestValidator } from '../support/validator.ts';

// Inputs the fuzzers (test/fuzz) found answered with 500 or an inexact number, kept here as
// plain regression tests.

let t: TestDatabase;
let v: TestValidator;
before(async () => {
  t = await createTestDatabase(4);
  await seedTestScenario(t.db);
  v = await startValidator(t.db);
});
after(async () => {
  await v.close();
  await t.drop();
});

const auditCount = async () => (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM admin_audit')).rows[0]!.n;

test('a NUL in a query parameter is a 400 naming the parameter, on every route that reads one', async () => {
  for (const [path, field] of [
    ['/ledger?actor=%00', 'actor'],
    ['/ledger?resource=a%00b', 'resource'],
    ['/rejections?error_code=%00', 'error_code'],
    ['/admin/audit?admin_user=%00', 'admin_user'],
    ['/admin/audit?action=x%00', 'action'],
  ] as const) {
    const reply = await http(v.url, 'GET', path, undefined, bearer(ADMIN_KEY));
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
    const reply = await http(v.url, 'POST', path, body, bearer(ADMIN_KEY));
    assert.equal(reply.status, 400, `${path}: ${JSON.stringify(reply.body)}`);
    assert.equal(await auditCount(), before + 1, `${path} left one audit row`);
  }
  const control = await t.db.query<{ breaker_on: boolean }>('SELECT breaker_on FROM control');
  assert.equal(control.rows[0]!.breaker_on, false);
});
