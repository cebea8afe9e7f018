import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { Db } from '../../src/db/db.ts';
import { createActorDirectory } from '../../src/ledger/writing/actors.ts';
import { createExecutor } from '../../src/ledger/writing/execute.ts';
import { seedBenchWorld } from '../../bench/support.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { executeItem } from '../support/ledger.ts';
import { waitUntil } from '../support/wait.ts';

// The write path's statements are planned once per session for a group of unknown size. Whatever
// the server's settings, a group must reach the rows it touches through their keys, not by reading
// whole tables: a scan of every actor or balance per group costs more as the world grows, and more
// again as updated balance rows leave dead versions behind until vacuum (migration 000140).

const ACTORS = 1000;
let t: TestDatabase;
before(async () => {
  t = await createTestDatabase(4);
  await seedBenchWorld(t.url, ACTORS); // actors bench-0 … bench-999, three resources; seeding ends with ANALYZE
});
after(() => t.drop());

// The tables that hold rows from the start (rejected_proposals is empty after seeding, and a scan
// of an empty table is the right plan; ANALYZE, autovacuum's included, replans as it fills).
const WATCHED = ['actors', 'balances', 'ledger'];

async function sequentialScans(tx: Db): Promise<Record<string, number>> {
  const { rows } = await tx.query<{ relname: string; seq_scan: string }>(
    'SELECT relname, seq_scan::text FROM pg_stat_xact_user_tables WHERE relname = ANY($1::text[]) ORDER BY relname',
    [WATCHED],
  );
  return Object.fromEntries(rows.map((r) => [r.relname, Number(r.seq_scan)]));
}

test('groups of every size reach actors, balances and the ledger by key, never by a scan of the table', async () => {
  const rolledBack = new Error('rolled back on purpose');
  await assert.rejects(
    t.db.transaction(async (tx) => {
      // One session, so every group runs the same cached plans; its scan counters are this
      // transaction's own (pg_stat_xact_user_tables), so no other session can move them.
      const actors = createActorDirectory(tx);
      const recordGroup = createExecutor({ db: tx, actors, validatorVersion: 'test', topics: [] });
      const body = (i: number) => ({
        proposal_id: randomUUID(),
        actor_from: `bench-${(i * 7) % ACTORS}`,
        actor_to: `bench-${(i * 7 + 1) % ACTORS}`,
        resource: i % 2 ? 'energy' : 'water',
        amount: i % 10 === 9 ? 75 : 1, // one in ten over max_transfer: a recorded rejection
      });
      // The actors are resolved to ids (and cached) before counting: that lookup is not the write path's.
      await actors.resolve(Array.from({ length: ACTORS }, (_, i) => `bench-${i}`));
      const before = await sequentialScans(tx);
      let n = 0;
      for (const size of [1, 1, 2, 3, 5, 8, 13, 1, 1, 21, 1, 34, 1]) {
        const outcomes = await recordGroup(Array.from({ length: size }, () => executeItem(body(n++))));
        assert.equal(outcomes.length, size);
        assert.ok(outcomes.some((o) => o.status === 'applied' || o.status === 'rejected'));
      }
      const afterwards = await sequentialScans(tx);
      assert.deepEqual(
        WATCHED.map((table) => [table, (afterwards[table] ?? 0) - (before[table] ?? 0)]),
        WATCHED.map((table) => [table, 0]),
        'sequential scans per table while recording',
      );
      throw rolledBack;
    }),
    (error) => error === rolledBack,
  );
});

test('a write-path table is analyzed once it has outgrown its statistics, and not again until it doubles', async () => {
  // A world of its own: 12 actors, so the ledger starts with 36 rows and its first plans would scan it.
  const small = await createTestDatabase(4);
  try {
    await seedBenchWorld(small.url, 12);
    // Autovacuum would race the function under test for the same ANALYZE.
    await small.db.query('ALTER TABLE ledger SET (autovacuum_enabled = false)');
    await small.db.query('ALTER TABLE balances SET (autovacuum_enabled = false)');
    const known = async () => {
      const { rows } = await small.db.query<{ reltuples: number }>(
        "SELECT reltuples::float8 AS reltuples FROM pg_class WHERE oid = 'ledger'::regclass",
      );
      return rows[0]!.reltuples;
    };
    const before = await known();
    assert.ok(before < 100, `the ledger's statistics count ${before} rows after seeding`);

    const recordGroup = createExecutor({ db: small.db, actors: createActorDirectory(small.db), validatorVersion: 'test', topics: [] });
    let n = 0;
    /** Waits until the server has counted over `over` changes to a table (it counts them a moment after each transaction ends). */
    const changed = async (table: string, over: number) =>
      waitUntil(
        async () => {
          const { rows } = await small.db.query<{ n: string }>(
            'SELECT n_mod_since_analyze::text AS n FROM pg_stat_user_tables WHERE relname = $1',
            [table],
          );
          return Number(rows[0]?.n ?? 0) > over;
        },
        `the server has counted over ${over} changes to ${table}`,
        { timeoutMs: 30_000 },
      );
    /** Writes `groups` groups of `size` transfers, then waits until the server has counted the ledger's changes. */
    const writeTrades = async (groups: number, changes: number, size = 100) => {
      for (let group = 0; group < groups; group++) {
        await recordGroup(
          Array.from({ length: size }, () => {
            n++;
            return executeItem({
              proposal_id: randomUUID(),
              actor_from: `bench-${n % 12}`,
              actor_to: `bench-${(n + 1) % 12}`,
              resource: 'energy',
              amount: 1,
            });
          }),
        );
      }
      await changed('ledger', changes);
    };
    const refresh = async () => (await small.db.query<{ t: string[] }>('SELECT refresh_write_statistics() AS t')).rows[0]!.t;

    await writeTrades(12, 1000);
    assert.ok((await refresh()).includes('ledger'), 'the grown ledger was analyzed');
    assert.ok((await known()) >= 1200, 'its statistics now count the rows written');
    assert.ok(!(await refresh()).includes('ledger'), 'and it is not analyzed again before it doubles');

    // A table that another session is vacuuming or analyzing is left to it: no wait, no error.
    await writeTrades(14, 1300);
    await small.db.transaction(async (tx) => {
      await tx.query('LOCK TABLE ledger IN SHARE UPDATE EXCLUSIVE MODE'); // what VACUUM and ANALYZE hold
      assert.ok(!(await refresh()).includes('ledger'), 'the ledger, locked by another session, was left');
    });
    assert.ok((await refresh()).includes('ledger'), 'and analyzed once it was free');

    // Trades update balance rows but add none: over a thousand updates leave their statistics
    // true, and analyzing them would make every session plan the write path again.
    await writeTrades(100, 0, 10);
    await changed('balances', 1000);
    const analyzed = await refresh();
    assert.ok(!analyzed.includes('balances'), `the balances, changed but not grown, were left (analyzed: ${analyzed.join(', ')})`);
  } finally {
    await small.drop();
  }
});
