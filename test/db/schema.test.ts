import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { migrate } from '../../src/db/migrate.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { seedTestScenario } from '../support/scenario.ts';

let t: TestDatabase;
before(async () => {
  t = await createTestDatabase();
  await seedTestScenario(t.db);
});
after(() => t.drop());

test('migrations are applied once: a second run changes nothing', async () => {
  const before = await t.db.query('SELECT id, applied_at FROM schema_migrations ORDER BY id');
  assert.ok(before.rowCount >= 7);
  assert.deepEqual(await migrate(t.db), []);
  const afterRows = await t.db.query('SELECT id, applied_at FROM schema_migrations ORDER BY id');
  assert.deepEqual(afterRows.rows, before.rows);
});

test('concurrent migrators serialise on the advisory lock', async () => {
  const results = await Promise.all([migrate(t.db), migrate(t.db), migrate(t.db)]);
  assert.deepEqual(results, [[], [], []]);
});

test('the database refuses UPDATE, DELETE and TRUNCATE on the ledger', async () => {
  const { rows } = await t.db.query<{ n: number }>('SELECT count(*) AS n FROM ledger');
  assert.ok(rows[0]!.n > 0);
  await assert.rejects(t.db.query('UPDATE ledger SET amount = amount + 1'), /append-only: UPDATE refused/);
  await assert.rejects(t.db.query('DELETE FROM ledger'), /append-only: DELETE refused/);
  await assert.rejects(t.db.query('TRUNCATE ledger CASCADE'), /append-only: TRUNCATE refused/);
  const again = await t.db.query<{ n: number }>('SELECT count(*) AS n FROM ledger');
  assert.equal(again.rows[0]!.n, rows[0]!.n);
});

test('the ledger schema enforces positive amounts, one row per (proposal_id, leg) and real actors', async () => {
  const { rows } = await t.db.query<{ id: string }>("SELECT id::text FROM actors WHERE name = 'alice'");
  const alice = rows[0]!.id;
  const { rows: bobRows } = await t.db.query<{ id: string }>("SELECT id::text FROM actors WHERE name = 'bob'");
  const bob = bobRows[0]!.id;
  const insert = (proposal: string, amount: string, to = bob) =>
    t.db.query(
      `INSERT INTO ledger (proposal_id, leg, kind, actor_from, actor_to, resource, amount, validator_version)
       VALUES ($1, 0, 'trade', $2, $3, 'energy', $4, 'test')`,
      [proposal, alice, to, amount],
    );
  await assert.rejects(insert('11111111-1111-4111-8111-111111111111', '0'), /check constraint/);
  await assert.rejects(insert('11111111-1111-4111-8111-111111111111', '-5'), /check constraint/);
  await assert.rejects(insert('11111111-1111-4111-8111-111111111111', '5', '99999999-9999-4999-8999-999999999999'), /foreign key/);
  await assert.rejects(insert('11111111-1111-4111-8111-111111111111', '5', alice), /ledger_distinct_actors/);
  const { rows: genesis } = await t.db.query<{ proposal_id: string }>(
    "SELECT proposal_id::text FROM ledger WHERE kind = 'genesis' LIMIT 1",
  );
  await assert.rejects(insert(genesis[0]!.proposal_id, '5'), /ledger_proposal_leg/);
});

test('a non-system balance can never be stored below zero', async () => {
  await assert.rejects(
    t.db.query("UPDATE balances SET amount = -1 WHERE actor_id = (SELECT id FROM actors WHERE name = 'alice') AND resource = 'energy'"),
    /balances_non_negative/,
  );
});

test('every table of the data model exists', async () => {
  const { rows } = await t.db.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
  );
  const names = rows.map((r) => r.table_name);
  for (const table of [
    'actors',
    'resources',
    'constraints',
    'ledger',
    'balances',
    'rejected_proposals',
    'admin_audit',
    'control',
    'outbox',
    'checkpoints',
    'api_keys',
    'runs',
    'epochs',
  ]) {
    assert.ok(names.includes(table), `missing table ${table}`);
  }
  const { rows: world } = await t.db.query<{ name: string; kind: string }>("SELECT name, kind FROM actors WHERE kind = 'system'");
  assert.deepEqual(world, [{ name: 'world', kind: 'system' }]);
});
