import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import { actorIdFor } from '../../src/domain/ids.ts';
import { parseProposal } from '../../src/domain/proposal.ts';
import type { Db } from '../../src/db/db.ts';
import { createActorDirectory } from '../../src/ledger/actors.ts';
import { CircuitBreakerOpenError, createExecutor, type ExecuteItem, type ExecuteOutcome } from '../../src/ledger/execute.ts';
import { createGroupCommitter } from '../../src/ledger/group-commit.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { invariantViolations } from '../support/invariants.ts';
import { appendTrade } from '../support/ledger.ts';
import { makeProposals } from '../support/load.ts';
import { seedTestScenario } from '../support/scenario.ts';

const databases: TestDatabase[] = [];
after(() => Promise.all(databases.map((d) => d.drop())));

/** A database of the test's own with the test world seeded (dave holds 50 credits). */
async function world(): Promise<Db> {
  const d = await createTestDatabase(24);
  databases.push(d);
  await seedTestScenario(d.db);
  return d.db;
}

/** A Db that counts the statements sent through it, transactions included. */
function counting(db: Db): Db & { statements: number } {
  const wrapped = {
    statements: 0,
    query: <T>(sql: string, params?: unknown[]) => {
      wrapped.statements++;
      return db.query<T>(sql, params);
    },
    transaction: <T>(fn: (tx: Db) => Promise<T>) =>
      db.transaction((tx) => {
        wrapped.statements += 2; // BEGIN and COMMIT
        return fn({ ...tx, query: (sql, params) => wrapped.query(sql, params), transaction: (inner) => inner(tx) });
      }),
    close: () => db.close(),
  };
  return wrapped as Db & { statements: number };
}

/** One validator replica: its own remembered balances and rules. */
function replica(db: Db) {
  return createExecutor({ db, actors: createActorDirectory(db), validatorVersion: 'test', notify: { topics: [] } });
}

function item(body: Record<string, unknown>): ExecuteItem {
  const parsed = parseProposal(body);
  if (!parsed.ok) throw new Error(parsed.message);
  return { proposal: parsed.proposal, raw: body, system: false, caller: 'test' };
}
const trade = (over: Record<string, unknown> = {}) => ({ proposal_id: randomUUID(), actor_from: 'dave', actor_to: 'alice', resource: 'credits', amount: 1, ...over });
const code = (o: ExecuteOutcome) => (o.status === 'rejected' ? o.error_code : o.status);

test('once it has seen the balances and rules it needs, a decision costs one statement', async () => {
  const db = counting(await world());
  const a = replica(db);
  await a.execute(item(trade()));
  const before = db.statements;
  const outcome = await a.execute(item(trade({ actor_to: 'alice' })));
  assert.equal(outcome.status, 'applied');
  assert.equal(db.statements - before, 1, 'one round trip: commit_decisions in its own transaction');
  assert.deepEqual(a.stats(), { optimistic: 2, locked: 0 });
});

test('a balance moved by another replica is never trusted: the decision is retried under lock and comes out right', async () => {
  const db = await world();
  const a = replica(db);
  const b = replica(db);
  assert.equal((await a.execute(item(trade({ amount: 1 })))).status, 'applied'); // a now remembers dave at 49 credits
  assert.equal((await b.execute(item(trade({ amount: 45, actor_to: 'bob' })))).status, 'applied'); // dave holds 4
  const outcome = await a.execute(item(trade({ amount: 10 })));
  assert.equal(code(outcome), 'INSUFFICIENT_BALANCE', 'decided against the 4 credits dave holds, not the 49 remembered');
  assert.equal(a.stats().locked, 1);
  // A balance moved by something else than a replica (an admin adjustment through the ledger).
  await db.transaction((tx) => appendTrade(tx, 'world', 'dave', 'credits', 100));
  assert.equal((await a.execute(item(trade({ amount: 100 })))).status, 'applied', 'the 104 credits dave holds now');
  assert.equal(a.stats().locked, 2);
  assert.deepEqual(await invariantViolations(db), []);
});

test('rules changed and the breaker flipped elsewhere take effect at once', async () => {
  const db = await world();
  const a = replica(db);
  assert.equal((await a.execute(item(trade({ resource: 'water', amount: 5 })))).status, 'applied');
  await db.query("UPDATE constraints SET max_transfer = 2 WHERE resource IS NULL");
  assert.equal(code(await a.execute(item(trade({ resource: 'water', amount: 3 })))), 'CONSTRAINT_VIOLATION');
  await db.query("UPDATE constraints SET max_transfer = 50 WHERE resource IS NULL");
  assert.equal((await a.execute(item(trade({ resource: 'water', amount: 3 })))).status, 'applied');

  await db.query("UPDATE control SET breaker_on = true, reason = 'drill' WHERE id = 1");
  const refused = trade();
  await assert.rejects(a.execute(item(refused)), (e) => e instanceof CircuitBreakerOpenError && e.reason === 'drill');
  const recorded = await db.query('SELECT 1 FROM ledger WHERE proposal_id = $1 UNION ALL SELECT 1 FROM rejected_proposals WHERE proposal_id = $1', [refused.proposal_id]);
  assert.equal(recorded.rowCount, 0);
  await db.query('UPDATE control SET breaker_on = false, reason = NULL WHERE id = 1');
  assert.equal((await a.execute(item(refused))).status, 'applied');
  assert.deepEqual(await invariantViolations(db), []);
});

test('an id another replica decided is replayed, or conflicts, never decided twice', async () => {
  const db = await world();
  const a = replica(db);
  const b = replica(db);
  await a.execute(item(trade()));
  const applied = trade({ amount: 2 });
  const rejected = trade({ amount: 5000 });
  const first = [await b.execute(item(applied)), await b.execute(item(rejected))];
  const again = [await a.execute(item(applied)), await a.execute(item(rejected)), await a.execute(item({ ...applied, amount: 3 }))];
  assert.equal(again[0]!.status === 'applied' && again[0]!.replayed, true);
  assert.deepEqual(again[0]!.status === 'applied' && again[0]!.ledger_ids, first[0]!.status === 'applied' && first[0]!.ledger_ids);
  assert.equal(again[1]!.status === 'rejected' && again[1]!.replayed, true);
  assert.equal(again[2]!.status, 'conflict');
  const rows = await db.query('SELECT 1 FROM ledger WHERE proposal_id = $1', [applied.proposal_id]);
  assert.equal(rows.rowCount, 1);
  assert.deepEqual(await invariantViolations(db), []);
});

test('a group that shares balances with one still committing waits for it, and builds on it', async () => {
  const db = await world();
  const a = replica(db);
  const committer = createGroupCommitter(a, { maxGroup: 100, lanes: 2 });
  await committer.execute(item(trade()));
  // dave holds 49 credits: 4 × 10 apply, the fifth does not fit; spread over two groups in flight.
  const outcomes = await Promise.all([
    committer.executeMany([item(trade({ amount: 10 })), item(trade({ amount: 10 }))]),
    committer.executeMany([item(trade({ amount: 10 })), item(trade({ amount: 10 })), item(trade({ amount: 10 }))]),
  ]);
  assert.deepEqual(outcomes.flat().map(code), ['applied', 'applied', 'applied', 'applied', 'INSUFFICIENT_BALANCE']);
  assert.equal(a.stats().locked, 0, 'the second group did not overtake the first');
  const { rows } = await db.query<{ amount: string }>("SELECT amount::text FROM balances WHERE actor_id = $1 AND resource = 'credits'", [actorIdFor('dave')]);
  assert.equal(Number(rows[0]!.amount), 9);
  assert.deepEqual(await invariantViolations(db), []);
});

test('two replicas trading the same four actors at once keep every invariant, and each id has one outcome', async () => {
  const db = await world();
  const replicas = [replica(db), replica(db)];
  const committers = replicas.map((r) => createGroupCommitter(r, { maxGroup: 64, lanes: 2 }));
  const proposals = makeProposals(1200, ['alice', 'bob', 'carol', 'dave'], ['energy', 'water', 'credits'], 7);
  const answers = new Map<string, Set<string>>();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async (_, client) => {
      while (next < proposals.length) {
        const { body } = proposals[next++]!;
        // Every proposal goes to one replica, and a retry of it to the other.
        for (const committer of [committers[client % 2]!, committers[(client + 1) % 2]!]) {
          const outcome = await committer.execute(item(body));
          const id = body.proposal_id as string;
          if (outcome.status === 'conflict') continue;
          const answer = outcome.status === 'applied' ? `applied ${outcome.ledger_ids.join(',')}` : `rejected ${outcome.error_code}`;
          answers.set(id, (answers.get(id) ?? new Set()).add(answer));
        }
      }
    }),
  );
  for (const [id, set] of answers) assert.equal(set.size, 1, `${id} was answered ${[...set].join(' and ')}`);
  const stats = replicas.map((r) => r.stats());
  assert.ok(stats.every((s) => s.optimistic > 0 && s.locked > 0), `both ways were taken: ${JSON.stringify(stats)}`);
  const outcomes = await db.query<{ n: string }>(
    'SELECT count(*)::text AS n FROM (SELECT proposal_id FROM ledger WHERE kind = $1 GROUP BY proposal_id UNION ALL SELECT proposal_id FROM rejected_proposals) d',
    ['trade'],
  );
  assert.equal(Number(outcomes.rows[0]!.n), answers.size, 'one recorded outcome per id');
  assert.deepEqual(await invariantViolations(db), []);
});
