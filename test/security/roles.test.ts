import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { seedTestScenario } from '../support/scenario.ts';
import { ADMIN_KEY, bearer, http, runCli, spawnValidator } from '../support/validator.ts';

let t: TestDatabase;
let appUrl: string;
const login = `t_app_${randomBytes(4).toString('hex')}`;
const password = randomBytes(12).toString('hex');
let app: pg.Client;

before(async () => {
  t = await createTestDatabase(4);
  await seedTestScenario(t.db);
  await t.db.query(`CREATE ROLE ${login} LOGIN PASSWORD '${password}' IN ROLE gridgov_app`);
  const url = new URL(t.url);
  url.username = login;
  url.password = password;
  appUrl = url.toString();
  app = new pg.Client({ connectionString: appUrl });
  await app.connect();
});
after(async () => {
  await app.end();
  await t.db.query(`DROP ROLE IF EXISTS ${login}`);
  await t.drop();
});

test('the application role cannot rewrite the ledger or the audit, nor alter the schema', async () => {
  const refused: Array<[string, RegExp]> = [
    ['UPDATE ledger SET amount = amount + 1', /permission denied for table ledger/],
    ['DELETE FROM ledger', /permission denied for table ledger/],
    ['TRUNCATE ledger', /permission denied for table ledger/],
    ['UPDATE admin_audit SET outcome = $$x$$', /permission denied for table admin_audit/],
    ['DELETE FROM rejected_proposals', /permission denied for table rejected_proposals/],
    ['DELETE FROM balances', /permission denied for table balances/],
    ['ALTER TABLE ledger DISABLE TRIGGER ledger_append_only', /must be owner/],
    ['DROP TABLE ledger', /must be owner/],
    ['CREATE TABLE sneaky (id int)', /permission denied for schema public/],
    ['INSERT INTO schema_migrations (id, name) VALUES (999999, $$x$$)', /permission denied/],
  ];
  for (const [sql, error] of refused) await assert.rejects(app.query(sql), error, sql);
  // It may read and append.
  const { rows } = await app.query('SELECT count(*)::int AS n FROM ledger');
  assert.ok(rows[0].n > 0);
  // And even the owner meets the trigger.
  await assert.rejects(t.db.query('UPDATE ledger SET amount = amount + 1'), /append-only/);
});

test('a validator connected as the application role does all its work', async () => {
  // The owner registers the bootstrap key; the application role could not.
  const migrated = await runCli(['migrate'], t.url, { GRIDGOV_ADMIN_KEY: ADMIN_KEY });
  assert.match(migrated.stdout, /GRIDGOV_ADMIN_KEY registered/);
  const v = await spawnValidator(appUrl);
  try {
    const applied = await http(v.url, 'POST', '/execute', {
      proposal_id: randomUUID(),
      actor_from: 'alice',
      actor_to: 'bob',
      resource: 'energy',
      amount: 2,
    });
    assert.equal(applied.status, 200);
    const rejected = await http(v.url, 'POST', '/execute', {
      proposal_id: randomUUID(),
      actor_from: 'alice',
      actor_to: 'bob',
      resource: 'energy',
      amount: 500,
    });
    assert.equal(rejected.status, 422);
    assert.equal(
      (await http(v.url, 'POST', '/admin/balance', { actor_id: 'carol', resource: 'water', amount: 7 }, bearer(ADMIN_KEY))).status,
      200,
    );
    assert.equal((await http(v.url, 'POST', '/admin/circuit-breaker', { enabled: false }, bearer(ADMIN_KEY))).status, 200);
    assert.equal((await http(v.url, 'GET', '/health')).status, 200);
    const { rows } = await t.db.query<{ usename: string }>(
      "SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = $1 AND application_name = 'gridgov'",
      [t.name],
    );
    assert.ok(
      rows.some((r) => r.usename === login),
      'the validator connected as the application role',
    );
  } finally {
    v.child.kill('SIGTERM');
    await v.exited;
  }
});
