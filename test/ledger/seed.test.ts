import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readScenarioFile, seedScenario, ScenarioError } from '../../src/ledger/writing/seed.ts';
import { findDrift } from '../support/drift.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { invariantViolations } from '../support/invariants.ts';

const DEMO = fileURLToPath(new URL('../../scenarios/demo.json', import.meta.url));
let t: TestDatabase;
before(async () => {
  t = await createTestDatabase();
});
after(() => t.drop());

test('the shipped demo scenario seeds at least 8 actors with energy, water and credits', async () => {
  const demo = await readScenarioFile(DEMO);
  const first = await seedScenario(t.db, demo, 'test');
  assert.ok(first.actorsAdded >= 8);
  assert.ok(first.entriesAdded >= 24);
  const { rows } = await t.db.query<{ name: string }>('SELECT name FROM resources ORDER BY name');
  assert.deepEqual(
    rows.map((r) => r.name),
    ['credits', 'energy', 'water'],
  );
  assert.deepEqual(await invariantViolations(t.db), []);
});

test('seeding the same scenario twice adds nothing', async () => {
  const demo = await readScenarioFile(DEMO);
  const count = async () => (await t.db.query<{ n: number }>('SELECT count(*) AS n FROM ledger')).rows[0]!.n;
  const before = await count();
  assert.deepEqual(await seedScenario(t.db, demo, 'test'), { actorsAdded: 0, entriesAdded: 0 });
  assert.equal(await count(), before);
});

test('initial balances are genesis entries from world, so a replay reproduces them', async () => {
  const { rows } = await t.db.query<{ kind: string; from_name: string }>(
    'SELECT DISTINCT l.kind, a.name AS from_name FROM ledger l JOIN actors a ON a.id = l.actor_from',
  );
  assert.deepEqual(rows, [{ kind: 'genesis', from_name: 'world' }]);
  await t.db.query('DELETE FROM balances');
  const drift = await findDrift(t.db, 1000);
  assert.ok(drift.length > 0, 'an emptied balances table is drift');
  await t.db.query(`
    INSERT INTO balances (actor_id, resource, amount, is_world)
    SELECT actor, resource, sum(delta), bool_or(actor = '00000000-0000-0000-0000-000000000000') FROM (
      SELECT actor_from AS actor, resource, -amount AS delta FROM ledger UNION ALL SELECT actor_to, resource, amount FROM ledger
    ) m GROUP BY actor, resource`);
  assert.deepEqual(await findDrift(t.db), []);
});

test('a YAML scenario is read too, and a broken one is refused with the path of the problem', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gridgov-scenario-'));
  const yaml = join(dir, 'tiny.yaml');
  await writeFile(yaml, 'name: tiny\nresources:\n  - name: energy\n    unit: kWh\nactors:\n  - name: solo\n    balances: { energy: 5 }\n');
  const tiny = await readScenarioFile(yaml);
  assert.equal(tiny.actors[0]!.name, 'solo');
  const broken = join(dir, 'broken.json');
  await writeFile(broken, JSON.stringify({ name: 'x', resources: [{ name: 'energy' }], actors: [{ name: 'a', balances: { gold: 1 } }] }));
  await assert.rejects(
    readScenarioFile(broken),
    (error: Error) => error instanceof ScenarioError && /unknown resource gold/.test(error.message),
  );
  await writeFile(broken, '{ not json');
  await assert.rejects(readScenarioFile(broken), /not valid JSON/);
});
