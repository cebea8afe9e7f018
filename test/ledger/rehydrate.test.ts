import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { checkpointNow } from '../../src/ledger/integrity/checkpoint.ts';
import { findDrift } from '../support/drift.ts';
import { rehydrate } from '../../src/ledger/integrity/rehydrate.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { balanceMap } from '../support/ledger.ts';
import { seedTestScenario } from '../support/scenario.ts';
import { http, runCli, startValidator, waitForHealth, type TestValidator } from '../support/validator.ts';

let t: TestDatabase;
let v: TestValidator;
let checkpoint: number;
before(async () => {
  t = await createTestDatabase();
  await seedTestScenario(t.db);
  v = await startValidator(t.db, { GRIDGOV_VERIFY_INTERVAL_MS: '100' });
  const trade = (i: number) =>
    http(v.url, 'POST', '/execute', {
      proposal_id: randomUUID(),
      legs: [
        { actor_from: ['alice', 'bob', 'carol'][i % 3], actor_to: 'dave', resource: 'energy', amount: `${(i % 7) + 0.125}` },
        { actor_from: 'dave', actor_to: ['alice', 'bob', 'carol'][i % 3], resource: 'credits', amount: 1 + (i % 5) },
      ],
    });
  for (let i = 0; i < 15; i++) assert.equal((await trade(i)).status, 200);
  checkpoint = (await checkpointNow(t.db)).ledger_id;
  for (let i = 15; i < 30; i++) await trade(i);
});
after(async () => {
  await v.close();
  await t.drop();
});

const where = (actor: string, resource: string) =>
  `actor_id = (SELECT id FROM actors WHERE name = '${actor}') AND resource = '${resource}'`;

test('rehydrate from genesis and from a checkpoint agree with the live balances', async () => {
  const live = await balanceMap(t.db);
  const fromGenesis = await rehydrate(t.db, { dryRun: true });
  assert.equal(fromGenesis.ok, true, fromGenesis.failures.join('; '));
  assert.equal(fromGenesis.fromCheckpoint, null);
  assert.deepEqual(fromGenesis.corrections, []);
  const entries = (await t.db.query<{ n: number }>('SELECT count(*) AS n FROM ledger')).rows[0]!.n;
  assert.ok(entries > 12 + 20);
  assert.equal(fromGenesis.bulkEntries + fromGenesis.catchUpEntries, entries);
  assert.deepEqual(
    fromGenesis.supply.map((s) => [s.resource, s.total, s.ok]),
    [
      ['credits', '0', true],
      ['energy', '0', true],
      ['water', '0', true],
    ],
  );

  const fromCheckpoint = await rehydrate(t.db, { dryRun: true, fromId: checkpoint + 3 });
  assert.equal(fromCheckpoint.fromCheckpoint, checkpoint);
  assert.deepEqual(fromCheckpoint.corrections, []);
  assert.ok(fromCheckpoint.bulkEntries < fromGenesis.bulkEntries, 'only the entries after the checkpoint are replayed');

  // A real run changes nothing here and leaves a checkpoint equal to the live table.
  const real = await rehydrate(t.db, { chunkIds: 7 });
  assert.equal(real.ok, true);
  assert.deepEqual(real.corrections, []);
  assert.deepEqual(await balanceMap(t.db), live);
  const { rows } = await t.db.query<{ k: string; amount: string }>(
    `SELECT a.name || '/' || c.resource AS k, trim_scale(c.amount)::text AS amount FROM checkpoint_balances c JOIN actors a ON a.id = c.actor_id
      WHERE c.ledger_id = $1 ORDER BY 1`,
    [real.checkpoint],
  );
  assert.deepEqual(new Map(rows.map((r) => [r.k, r.amount])), live);
});

test('changed, deleted and extra balance rows: /health fails, a dry run reports them, gridgov rehydrate repairs them', async () => {
  await t.db.query("INSERT INTO resources (name, unit) VALUES ('gold', 'oz')");
  const healthy = await balanceMap(t.db);
  // In one transaction, so that no verifier tick sees the damage half done.
  await t.db.transaction(async (tx) => {
    await tx.query(`UPDATE balances SET amount = amount + 5 WHERE ${where('alice', 'energy')}`);
    await tx.query(`DELETE FROM balances WHERE ${where('bob', 'water')}`);
    await tx.query("INSERT INTO balances (actor_id, resource, amount) SELECT id, 'gold', 12 FROM actors WHERE name = 'carol'");
  });
  const corrupted = await balanceMap(t.db);

  const unhealthy = await waitForHealth(v.url, (r) => r.status === 503);
  assert.equal(unhealthy.body.checks.ledger_consistency.drift_count, 3);

  const dry = await rehydrate(t.db, { dryRun: true });
  const summary = dry.corrections.map((c) => [c.kind, c.actor, c.resource, c.balance, c.expected]);
  assert.deepEqual(
    summary.sort(),
    [
      ['changed', 'alice', 'energy', String(Number(healthy.get('alice/energy')) + 5), healthy.get('alice/energy')],
      ['extra', 'carol', 'gold', '12', '0'],
      ['missing', 'bob', 'water', null, healthy.get('bob/water')],
    ].sort(),
  );
  assert.deepEqual(await balanceMap(t.db), corrupted, 'a dry run changes nothing');

  const cli = await runCli(['rehydrate'], t.url);
  assert.equal(cli.code, 0, cli.stdout + cli.stderr);
  assert.match(cli.stdout, /corrected 3 balance row\(s\):/);
  assert.match(cli.stdout, /changed +alice +energy/);
  assert.match(cli.stdout, /missing +bob +water +\(none\) -> /);
  assert.match(cli.stdout, /extra +carol +gold +12 -> 0/);
  assert.match(cli.stdout, /supply energy: 320 in circulation, total with world 0 ok/);
  assert.deepEqual(await balanceMap(t.db), healthy);
  assert.deepEqual(await findDrift(t.db), []);
  await waitForHealth(v.url, (r) => r.status === 200);
});

test('a failed verification exits non-zero and changes nothing', async () => {
  await t.db.query(`UPDATE balances SET amount = amount + 1 WHERE ${where('dave', 'water')}`);
  const before = await balanceMap(t.db);
  await t.db.query("UPDATE checkpoint_balances SET amount = amount + 50 WHERE ledger_id = $1 AND resource = 'credits' AND amount > 0", [
    checkpoint,
  ]);
  const cli = await runCli(['rehydrate', '--from-id', String(checkpoint)], t.url);
  assert.equal(cli.code, 1, cli.stdout + cli.stderr);
  assert.match(cli.stdout, new RegExp(`FAILED: checkpoint ${checkpoint} was altered`));
  assert.deepEqual(await balanceMap(t.db), before);

  // From genesis it does not depend on that checkpoint, and repairs the row.
  const repaired = await rehydrate(t.db);
  assert.equal(repaired.ok, true);
  assert.deepEqual(
    repaired.corrections.map((c) => [c.actor, c.resource]),
    [['dave', 'water']],
  );
  assert.deepEqual(await findDrift(t.db), []);
});
