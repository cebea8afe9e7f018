import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { rehydrate, type RehydrateReport } from '../../src/ledger/integrity/rehydrate.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { invariantViolations } from '../support/invariants.ts';
import { appendTrade } from '../support/ledger.ts';
import { makeProposals, runLoad } from '../support/load.ts';
import { seedTestScenario } from '../support/scenario.ts';
import { runCli, startValidator, waitForHealth, type TestValidator } from '../support/validator.ts';
import { waitUntil } from '../support/wait.ts';

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

const ledgerHead = async () => (await t.db.query<{ id: number }>('SELECT coalesce(max(id), 0)::int AS id FROM ledger')).rows[0]!.id;

test('rehydrating again and again while 16 clients trade loses and double-counts nothing', async () => {
  // Corrupt rows the load does not trade (it moves energy and water), so the repair is predictable;
  // the one credits trade below moves carol's row by what the ledger moves, keeping it off by 3.
  await t.db.query(
    "UPDATE balances SET amount = amount + 3 WHERE resource = 'credits' AND actor_id = (SELECT id FROM actors WHERE name = 'carol')",
  );
  await t.db.query("DELETE FROM balances WHERE resource = 'credits' AND actor_id = (SELECT id FROM actors WHERE name = 'dave')");

  const proposals = makeProposals(800, ['alice', 'bob', 'carol', 'dave'], ['energy', 'water'], 21);
  let loadDone = false;
  const startHead = await ledgerHead();
  const load = runLoad(v.url, proposals, 16).finally(() => (loadDone = true));
  await waitUntil(async () => loadDone || (await ledgerHead()) > startHead, 'the load wrote to the ledger');

  // The first run commits a trade of its own once the bulk replay is done and before its locked
  // swap, so the catch-up step has something to replay whatever the load's pace.
  const first = await rehydrate(t.db, {
    chunkIds: 500,
    onProgress: async (p) => {
      if (p.doneIds === p.totalIds) await t.db.transaction((tx) => appendTrade(tx, 'carol', 'alice', 'credits', '0.5'));
    },
  });
  assert.equal(first.ok, true, first.failures.join('; '));
  assert.ok(first.catchUpEntries > 0, 'the trade written between the bulk replay and the swap was caught up');
  const repaired = first.corrections.map((c) => `${c.kind} ${c.actor}/${c.resource}`).sort();
  assert.deepEqual(repaired, ['changed carol/credits', 'missing dave/credits'], 'only the corrupted rows are corrected');

  // Then again while the load goes on, from genesis and from a checkpoint: nothing left to correct.
  const reports: RehydrateReport[] = [];
  for (let round = 0; (!loadDone && round < 8) || round < 3; round++) {
    const head = await ledgerHead();
    reports.push(await rehydrate(t.db, round % 2 === 0 ? { fromId: 999_999_999 } : { chunkIds: 500 }));
    await waitUntil(async () => loadDone || (await ledgerHead()) > head, 'the load moved on');
  }
  for (const report of reports) assert.equal(report.ok, true, report.failures.join('; '));
  assert.deepEqual(
    reports.flatMap((r) => r.corrections),
    [],
    'a repaired table stays repaired under load',
  );
  assert.ok(reports[0]!.fromCheckpoint !== null, 'a run with --from-id starts from a checkpoint');

  // Once more as an operator would, with the CLI, after corrupting one row again.
  await t.db.query(
    "UPDATE balances SET amount = amount + 3 WHERE resource = 'credits' AND actor_id = (SELECT id FROM actors WHERE name = 'carol')",
  );
  const cli = await runCli(['rehydrate', '--from-id', '999999999'], t.url);
  assert.equal(cli.code, 0, cli.stdout + cli.stderr);
  assert.match(cli.stdout, /corrected 1 balance row\(s\)/);

  const { sent } = await load;
  const statuses = new Set(sent.map((s) => s.reply.status));
  assert.deepEqual(
    [...statuses].filter((s) => ![200, 409, 422].includes(s)),
    [],
    'every proposal got a definite answer',
  );
  const applied = sent.filter((s) => s.reply.status === 200);
  assert.ok(applied.length > 0, 'some proposals applied');
  const ids = applied.flatMap((s) => s.reply.body.ledger_ids as number[]);
  const { rows } = await t.db.query<{ n: number }>('SELECT count(*) AS n FROM ledger WHERE id = ANY($1::bigint[])', [[...new Set(ids)]]);
  assert.equal(rows[0]!.n, new Set(ids).size, 'every acknowledged entry is in the ledger');
  assert.deepEqual(await invariantViolations(t.db), []);
  await waitForHealth(v.url, (r) => r.status === 200);
});
