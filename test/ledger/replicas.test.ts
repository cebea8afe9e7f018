import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import { actorIdFor } from '../../src/domain/ids.ts';
import type { Db } from '../../src/db/db.ts';
import { createApiKey } from '../../src/governance/keys.ts';
import { createActorDirectory } from '../../src/ledger/writing/actors.ts';
import { createExecutor, type ExecuteOutcome } from '../../src/ledger/writing/execute.ts';
import { createGroupCommitter } from '../../src/ledger/writing/group-commit.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { invariantViolations } from '../support/invariants.ts';
import { appendTrade, executeItem } from '../support/ledger.ts';
import { makeProposals } from '../support/load.ts';
import { seedTestScenario, tradeBody } from '../support/scenario.ts';

// Validators sharing one database: each group is decided by the database as it is when the group
// commits, so no replica can act on a stale view of another's writes.

const databases: TestDatabase[] = [];
after(() => Promise.all(databases.map((d) => d.drop())));

/** A database of the test's own with the test world seeded (dave holds 50 credits). */
async function world(): Promise<Db> {
  const d = await createTestDatabase(24);
  databases.push(d);
  await seedTestScenario(d.db);
  return d.db;
}

/** A Db that counts the statements sent through it, transactions included, and keeps the last few. */
function counting(db: Db): Db & { statements: number; recent: string[] } {
  const wrapped = {
    statements: 0,
    recent: [] as string[],
    query: <T>(sql: string, params?: unknown[]) => {
      wrapped.statements++;
      wrapped.recent = [...wrapped.recent.slice(-3), sql];
      return db.query<T>(sql, params);
    },
    transaction: <T>(fn: (tx: Db) => Promise<T>) =>
      db.transaction((tx) => {
        wrapped.statements += 2; // BEGIN and COMMIT
        return fn({ ...tx, query: (sql, params) => wrapped.query(sql, params), transaction: (inner) => inner(tx) });
      }),
    close: () => db.close(),
  };
  return wrapped as Db & { statements: number; recent: string[] };
}

/** One validator replica: its own actor cache and its own group committer. */
function replica(db: Db, lanes = 1) {
  const record = createExecutor({ db, actors: createActorDirectory(db), validatorVersion: 'test', topics: [] });
  return createGroupCommitter(record, { maxGroup: 64, lanes });
}

const trade = (over: Record<string, unknown> = {}) => tradeBody({ actor_from: 'dave', actor_to: 'alice', resource: 'credits', ...over });
const code = (o: ExecuteOutcome) => (o.status === 'rejected' ? o.error_code : o.status);

test('once the actors are known, a group costs one statement and a flush, whatever another replica did meanwhile', async () => {
  const db = counting(await world());
  const a = replica(db);
  const b = replica(db);
  await a.execute(executeItem(trade()));
  await b.execute(executeItem(trade()));
  const before = db.statements;
  assert.equal((await a.execute(executeItem(trade({ amount: 40 })))).status, 'applied', 'dave held 48');
  assert.equal(code(await b.execute(executeItem(trade({ amount: 10 })))), 'INSUFFICIENT_BALANCE', 'b decides against the 8 dave holds now');
  assert.equal(db.statements - before, 4, 'two round trips each: record_proposals in its own transaction, then the flush');
  assert.match(db.recent[2]!, /record_proposals\(/);
  assert.match(db.recent[3]!, /pg_logical_emit_message\(true/, 'the outcome is answered only after a flush that covers it');
});

test('a balance moved by another replica, or by the ledger directly, is the one decided against', async () => {
  const db = await world();
  const a = replica(db);
  const b = replica(db);
  assert.equal((await a.execute(executeItem(trade({ amount: 1 })))).status, 'applied');
  assert.equal((await b.execute(executeItem(trade({ amount: 45, actor_to: 'bob' })))).status, 'applied'); // dave holds 4
  const outcome = await a.execute(executeItem(trade({ amount: 10 })));
  assert.equal(code(outcome), 'INSUFFICIENT_BALANCE');
  assert.equal(
    outcome.status === 'rejected' && outcome.message,
    'leg 0: dave holds 4 credits, needs 10',
    'actors are named, amounts exact',
  );
  await db.transaction((tx) => appendTrade(tx, 'world', 'dave', 'credits', 100));
  assert.equal((await a.execute(executeItem(trade({ amount: 100 })))).status, 'applied', 'the 104 credits dave holds now');
  assert.deepEqual(await invariantViolations(db), []);
});

test('rules changed and the breaker flipped elsewhere take effect at once', async () => {
  const db = await world();
  const a = replica(db);
  assert.equal((await a.execute(executeItem(trade({ resource: 'water', amount: 5 })))).status, 'applied');
  await db.query('UPDATE constraints SET max_transfer = 2 WHERE resource IS NULL');
  const limited = await a.execute(executeItem(trade({ resource: 'water', amount: 3 })));
  assert.equal(limited.status === 'rejected' && limited.message, 'leg 0: amount 3 exceeds max_transfer 2 for water');
  await db.query('UPDATE constraints SET max_transfer = 50 WHERE resource IS NULL');
  assert.equal((await a.execute(executeItem(trade({ resource: 'water', amount: 3 })))).status, 'applied');

  await db.query("UPDATE control SET breaker_on = true, reason = 'drill' WHERE id = 1");
  const refused = trade();
  await assert.rejects(
    a.execute(executeItem(refused)),
    (e: { code?: string; details?: { reason?: string } }) => e.code === 'CIRCUIT_BREAKER_OPEN' && e.details?.reason === 'drill',
  );
  const recorded = await db.query(
    'SELECT 1 FROM ledger WHERE proposal_id = $1 UNION ALL SELECT 1 FROM rejected_proposals WHERE proposal_id = $1',
    [refused.proposal_id],
  );
  assert.equal(recorded.rowCount, 0);
  await db.query('UPDATE control SET breaker_on = false, reason = NULL WHERE id = 1');
  assert.equal((await a.execute(executeItem(refused))).status, 'applied');
  assert.deepEqual(await invariantViolations(db), []);
});

test('an id another replica decided is replayed, or conflicts, never decided twice', async () => {
  const db = await world();
  const a = replica(db);
  const b = replica(db);
  await a.execute(executeItem(trade()));
  const applied = trade({ amount: 2 });
  const rejected = trade({ amount: 5000 });
  const first = [await b.execute(executeItem(applied)), await b.execute(executeItem(rejected))];
  const again = [
    await a.execute(executeItem(applied)),
    await a.execute(executeItem(rejected)),
    await a.execute(executeItem({ ...applied, amount: 3 })),
  ];
  assert.equal(again[0]!.status === 'applied' && again[0]!.replayed, true);
  assert.deepEqual(again[0]!.status === 'applied' && again[0]!.ledger_ids, first[0]!.status === 'applied' && first[0]!.ledger_ids);
  assert.equal(again[1]!.status === 'rejected' && again[1]!.replayed, true);
  assert.equal(again[2]!.status, 'conflict');
  const rows = await db.query('SELECT 1 FROM ledger WHERE proposal_id = $1', [applied.proposal_id]);
  assert.equal(rows.rowCount, 1);
  assert.deepEqual(await invariantViolations(db), []);
});

test('groups in flight at once that share a balance wait for each other and build on each other', async () => {
  const db = await world();
  const a = replica(db, 2);
  await a.execute(executeItem(trade()));
  // dave holds 49 credits: four of the five 10s fit, spread over two groups in flight.
  const outcomes = await Promise.all([
    a.executeMany([executeItem(trade({ amount: 10 })), executeItem(trade({ amount: 10 }))]),
    a.executeMany([executeItem(trade({ amount: 10 })), executeItem(trade({ amount: 10 })), executeItem(trade({ amount: 10 }))]),
  ]);
  assert.deepEqual(outcomes.flat().map(code).sort(), ['INSUFFICIENT_BALANCE', 'applied', 'applied', 'applied', 'applied']);
  const { rows } = await db.query<{ amount: string }>("SELECT amount::text FROM balances WHERE actor_id = $1 AND resource = 'credits'", [
    actorIdFor('dave'),
  ]);
  assert.equal(Number(rows[0]!.amount), 9);
  assert.deepEqual(await invariantViolations(db), []);
});

test('the database proves the key: system moves world, an agent only its own actor, an unknown key nothing', async () => {
  const db = await world();
  const a = replica(db);
  const system = (await createApiKey(db, 'runner', 'system')).key;
  const agentKey = `ggk_${randomUUID()}`;
  await db.query(
    "INSERT INTO api_keys (id, name, role, key_hash, actor_id) VALUES ($1, 'dave-agent', 'agent', encode(sha256(convert_to($2, 'UTF8')), 'hex'), $3)",
    [randomUUID(), agentKey, actorIdFor('dave')],
  );
  const fromWorld = trade({ actor_from: 'world', amount: 5 });
  assert.equal(code(await a.execute(executeItem(fromWorld))), 'FORBIDDEN_ACTOR', 'no key: world is off limits');
  assert.equal(code(await a.execute(executeItem({ ...fromWorld, proposal_id: randomUUID() }, system))), 'applied');
  assert.equal(code(await a.execute(executeItem(trade(), agentKey))), 'applied', "dave's key moves dave's funds");
  const other = await a.execute(executeItem(trade({ actor_from: 'alice', actor_to: 'dave' }), agentKey));
  assert.equal(other.status === 'rejected' && other.message, 'leg 0: this key may only move the funds of dave');
  await assert.rejects(a.execute(executeItem(trade(), 'ggk_not-a-key')), (e: { code?: string }) => e.code === 'UNAUTHORIZED');
  await db.query("UPDATE api_keys SET revoked_at = now() WHERE name = 'runner'");
  await assert.rejects(a.execute(executeItem(trade({ actor_from: 'world' }), system)), (e: { code?: string }) => e.code === 'UNAUTHORIZED');
  assert.deepEqual(await invariantViolations(db), []);
});

test('two replicas trading the same four actors at once keep every invariant, and each id has one outcome', async () => {
  const db = await world();
  const replicas = [replica(db, 2), replica(db, 2)];
  const proposals = makeProposals(1200, ['alice', 'bob', 'carol', 'dave'], ['energy', 'water', 'credits'], 7);
  const answers = new Map<string, Set<string>>();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async (_, client) => {
      while (next < proposals.length) {
        const { body } = proposals[next++]!;
        // Every proposal goes to one replica, and a retry of it to the other.
        for (const committer of [replicas[client % 2]!, replicas[(client + 1) % 2]!]) {
          const outcome = await committer.execute(executeItem(body));
          const id = body.proposal_id as string;
          if (outcome.status === 'conflict') continue;
          const answer = outcome.status === 'applied' ? `applied ${outcome.ledger_ids.join(',')}` : `rejected ${outcome.error_code}`;
          answers.set(id, (answers.get(id) ?? new Set()).add(answer));
        }
      }
    }),
  );
  for (const [id, set] of answers) assert.equal(set.size, 1, `${id} was answered ${[...set].join(' and ')}`);
  const outcomes = await db.query<{ n: string }>(
    'SELECT count(*)::text AS n FROM (SELECT proposal_id FROM ledger WHERE kind = $1 GROUP BY proposal_id UNION ALL SELECT proposal_id FROM rejected_proposals) d',
    ['trade'],
  );
  assert.equal(Number(outcomes.rows[0]!.n), answers.size, 'one recorded outcome per id');
  assert.deepEqual(await invariantViolations(db), []);
});
