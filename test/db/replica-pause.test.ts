import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { runReplicaPause } from '../support/replica-pause.ts';
import { seedTestScenario } from '../support/scenario.ts';

let t: TestDatabase;
before(async () => {
  t = await createTestDatabase(2);
  await seedTestScenario(t.db);
});
after(() => t.drop());

test('one of two replicas frozen for 10 s holding row locks does not stop the other, and nothing acknowledged is lost', async (ctx) => {
  const result = await runReplicaPause({
    databaseUrl: t.url,
    actors: ['alice', 'bob', 'carol'],
    resources: ['energy', 'water', 'credits'],
    // Every proposal moves alice's energy: while A holds that row, B can commit only once A's
    // session is gone (without the pool's bounds B commits nothing during the pause).
    hub: 'alice',
    clientsPerReplica: 4,
    warmupMs: 2_000,
    catchMs: 10_000,
    pauseMs: 10_000,
    afterMs: 2_000,
    // With the default bounds: the paused replica's session is ended by the server.
    env: { GRIDGOV_LEDGER_GUARD: 'off' },
    log: (line) => ctx.diagnostic(line),
  });
  ctx.diagnostic(
    `B applied ${result.bBefore} before the pause (${result.bBeforePerS.toFixed(0)}/s), ${result.bDuring} during it (${result.bDuringPerS.toFixed(0)}/s); ` +
      `A applied ${result.aAfter} after it; ${result.acknowledged} acknowledged in all; A paused ${result.pausedHoldingLocks ? `holding ${result.heldLocks}` : 'holding no locks'}`,
  );
  assert.ok(result.bDuring > 0, 'the other replica committed proposals while A was frozen');
  assert.ok(result.aAfter > 0, 'A commits again once resumed');
  assert.deepEqual(result.lost, [], 'every acknowledged proposal is in the ledger exactly once, under the ids it was told');
  assert.deepEqual(result.violations, [], 'the DESIGN §8 invariants hold');
  assert.equal(result.unresolved, 0, 'every proposal was decided');
});
