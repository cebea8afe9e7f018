import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { startLedgerGuard, type GuardOptions } from '../../src/ledger/integrity/guard.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { seedTestScenario } from '../support/scenario.ts';

// Every replica runs the ledger guard. The verdict (and the chain's rolling re-verification) is
// work for the deployment, not for each replica: a replica whose tick finds a verdict stored
// within the interval leaves it, so three replicas verify as often as one.

let t: TestDatabase;
before(async () => {
  t = await createTestDatabase(8);
  await seedTestScenario(t.db);
});
after(() => t.drop());

const options: GuardOptions = {
  verifyIntervalMs: 60_000, // one tick each within the test: only the first ticks run
  checkpointEvery: 100_000,
  sealIntervalMs: 60_000,
  sealBlockSize: 1000,
  sealMaxRows: 100_000,
  recheckRows: 10_000,
};

async function verdictTime(): Promise<string | null> {
  const { rows } = await t.db.query<{ at: string | null }>('SELECT checked_at::text AS at FROM verifier_status WHERE id = 1');
  return rows[0]?.at ?? null;
}

test('a replica that finds a fresh verdict from another leaves it instead of verifying again', async () => {
  const logger = pino({ level: 'silent' });
  const first = startLedgerGuard(t.db, logger, options);
  let second: ReturnType<typeof startLedgerGuard> | undefined;
  try {
    await first.ready(30_000);
    const stored = await verdictTime();
    assert.notEqual(stored, null, 'the first replica stored a verdict');
    second = startLedgerGuard(t.db, logger, options);
    await second.ready(30_000);
    assert.equal(await verdictTime(), stored, 'the second replica left the verdict as the first stored it');
  } finally {
    await first.stop();
    await second?.stop();
  }
});
