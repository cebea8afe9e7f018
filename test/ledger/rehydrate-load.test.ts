import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { rehydrate, type RehydrateReport } from '../../src/ledger/rehydrate.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { invariantViolations } from '../support/invariants.ts';
import { makeProposals, runLoad } from '../support/load.ts';
import { seedTestScenario } from '../support/scenario.ts';
import { runCli, startValidator, waitForHealth, type TestValidator } from '../support/validator.ts';

let t: TestDatabase;
let v: TestValidator;
before(async () => {
  t = await createTestDatabase(24);
  await seedTestScenario(t.db);
  v = await startValidator(t.db, { GRIDGOV_VERIFY_INTERVAL_MS: '200', GRIDGOV_CHECKPOINT_EVERY: '300' });
});
after(async () => {
  await v.close();
  await t.drop();
});

test('rehydrating again and again while 16 clients trade loses and double-counts nothing', async () => {
  // Corrupt rows the load does not trade (it moves energy and water), so the repair is predictable.
  await t.db.query("UPDATE balances SET amount = amount + 3 WHERE resource = 'credits' AND actor_id = (SELECT id FROM actors WHERE name = 'carol')");
  await t.db.query("DELETE FROM balances WHERE resource = 'credits' AND actor_id = (SELECT id FROM actors WHERE name = 'dave')");

  const proposals = makeProposals(1500, ['alice', 'bob', 'carol', 'dave'], ['energy', 'water'], 21);
  let loadDone = false;
  const load = runLoad(v.url, proposals, 16).finally(() => (loadDone = true));
  const reports: RehydrateReport[] = [];
  // Once as an operator would, with the CLI, then from the library a few times while the load runs.
  const cli = await runCli(['rehydrate', '--from-id', '999999999'], t.url);
  assert.equal(cli.code, 0, cli.stdout + cli.stderr);
  for (let round = 0; (!loadDone && round < 8) || round < 3; round++) {
    reports.push(await rehydrate(t.db, round % 2 === 0 ? { chunkIds: 500 } : { fromId: 999_999_999 }));
    await new Promise((r) => setTimeout(r, 300));
  }
  const { sent } = await load;

  for (const report of reports) assert.equal(report.ok, true, report.failures.join('; '));
  const corrected = reports.flatMap((r) => r.corrections.map((c) => `${c.kind} ${c.actor}/${c.resource}`));
  if (corrected.length === 0) {
    // The CLI run came first and repaired them: it must have said so.
    assert.match(cli.stdout, /corrected 2 balance row\(s\)/);
    corrected.push('changed carol/credits', 'missing dave/credits');
  }
  assert.deepEqual(corrected.sort(), ['changed carol/credits', 'missing dave/credits'], 'only the corrupted rows were ever corrected');
  assert.ok(reports.some((r) => r.catchUpEntries > 0), 'trades were written between the bulk replay and the swap');
  assert.ok(reports.some((r) => r.fromCheckpoint !== null), 'some runs started from a checkpoint');

  const applied = sent.filter((s) => s.reply.status === 200);
  assert.ok(applied.length > 150, `only ${applied.length} applied`);
  const ids = applied.flatMap((s) => s.reply.body.ledger_ids as number[]);
  const { rows } = await t.db.query<{ n: number }>('SELECT count(*) AS n FROM ledger WHERE id = ANY($1::bigint[])', [[...new Set(ids)]]);
  assert.equal(rows[0]!.n, new Set(ids).size, 'every acknowledged entry is in the ledger');
  assert.deepEqual(await invariantViolations(t.db), []);
  await waitForHealth(v.url, (r) => r.status === 200);
});
