import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createActorDirectory } from '../../src/ledger/writing/actors.ts';
import { createExecutor } from '../../src/ledger/writing/execute.ts';
import { createGroupCommitter } from '../../src/ledger/writing/group-commit.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { invariantViolations } from '../support/invariants.ts';
import { makeProposals, runLoad } from '../support/load.ts';
import { seedTestScenario, tradeBody } from '../support/scenario.ts';
import { startValidator } from '../support/validator.ts';
import { executeItem } from '../support/ledger.ts';
import { waitUntil } from '../support/wait.ts';

let t: TestDatabase;
before(async () => {
  t = await createTestDatabase(24);
  await seedTestScenario(t.db);
});
after(() => t.drop());

const executor = () => createExecutor({ db: t.db, actors: createActorDirectory(t.db), validatorVersion: 'test', topics: [] });
const trade = tradeBody;

test('calls that arrive while the lane is busy share one transaction, each with its own outcome', async () => {
  const committer = createGroupCommitter(executor(), { maxGroup: 100, lanes: 1 });
  const first = committer.execute(executeItem(trade()));
  const a = trade({ amount: 2 });
  const group = [
    a,
    { ...a }, // a duplicate retry inside the group
    { ...a, amount: 3 }, // the same id with another payload
    trade({ actor_from: 'dave', resource: 'credits', amount: 45 }), // dave holds 50 credits
    trade({ actor_from: 'dave', resource: 'credits', amount: 45 }), // sees the balance the previous item left
    trade({ resource: 'gold' }),
  ];
  const outcomes = await Promise.all(group.map((body) => committer.execute(executeItem(body))));
  await first;
  assert.equal(committer.stats().groups, 2, 'the six calls went in one group');
  assert.equal(committer.stats().largest, 6);
  assert.deepEqual(
    outcomes.map((o) => o.status),
    ['applied', 'applied', 'conflict', 'applied', 'rejected', 'rejected'],
  );
  assert.equal(outcomes[1]!.status === 'applied' && outcomes[1]!.replayed, true);
  assert.deepEqual(
    outcomes[1]!.status === 'applied' && outcomes[1]!.ledger_ids,
    outcomes[0]!.status === 'applied' && outcomes[0]!.ledger_ids,
  );
  assert.equal(outcomes[4]!.status === 'rejected' && outcomes[4]!.error_code, 'INSUFFICIENT_BALANCE');
  assert.equal(outcomes[5]!.status === 'rejected' && outcomes[5]!.error_code, 'INVALID_RESOURCE');
  const rows = await t.db.query('SELECT 1 FROM ledger WHERE proposal_id = $1', [a.proposal_id]);
  assert.equal(rows.rowCount, 1, 'applied once');
  assert.deepEqual(await invariantViolations(t.db), []);
});

test('a commit that fails mid-group answers COMMIT_FAILED to the item that fails, records nothing for it, and a retry applies', async () => {
  // A deferred trigger fails the COMMIT itself whenever a marked row is in the transaction.
  await t.db.query(`CREATE FUNCTION fail_commit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.metadata->>'fail_commit' = 'true' THEN RAISE EXCEPTION 'injected commit failure'; END IF; RETURN NULL; END $$`);
  await t.db.query(`CREATE CONSTRAINT TRIGGER fail_commit AFTER INSERT ON ledger DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION fail_commit()`);
  const ex = executor();
  const committer = createGroupCommitter(ex, { maxGroup: 100, lanes: 1 });
  const blocker = committer.execute(executeItem(trade()));
  const poison = trade({ metadata: { fail_commit: true } });
  const bodies = [trade(), poison, trade({ actor_from: 'carol' })];
  const settled = await Promise.allSettled(bodies.map((b) => committer.execute(executeItem(b))));
  await blocker;
  assert.equal(settled[0]!.status, 'fulfilled');
  assert.equal(settled[2]!.status, 'fulfilled');
  assert.equal(settled[1]!.status, 'rejected');
  assert.equal((settled[1] as PromiseRejectedResult).reason.code, 'COMMIT_FAILED');
  const recorded = await t.db.query(
    'SELECT 1 FROM ledger WHERE proposal_id = $1 UNION ALL SELECT 1 FROM rejected_proposals WHERE proposal_id = $1',
    [poison.proposal_id],
  );
  assert.equal(recorded.rowCount, 0);
  // A batch is one unit: it fails together and records nothing.
  const batchIds = [trade(), poison].map((b) => b.proposal_id);
  await assert.rejects(
    committer.executeMany([executeItem(trade({ proposal_id: batchIds[0] })), executeItem(poison)]),
    (e: { code?: string }) => e.code === 'COMMIT_FAILED',
  );
  assert.equal((await t.db.query('SELECT 1 FROM ledger WHERE proposal_id = ANY($1::uuid[])', [batchIds])).rowCount, 0);
  await t.db.query('DROP TRIGGER fail_commit ON ledger');
  const retry = await committer.execute(executeItem(poison));
  assert.equal(retry.status, 'applied');
  assert.deepEqual(await invariantViolations(t.db), []);
});

test('a failure that is not even an Error answers every call of its group and frees the lane', async () => {
  let fail = true;
  const ex = executor();
  // What the record step throws cannot be turned into a string (an object without a prototype).
  const committer = createGroupCommitter(
    async (items) => {
      if (fail) throw Object.create(null);
      return ex(items);
    },
    { maxGroup: 100, lanes: 1 },
  );
  const calls = [trade(), trade(), trade()].map((b) => committer.execute(executeItem(b)));
  const settled: Array<PromiseSettledResult<unknown>> = [];
  void Promise.allSettled(calls).then((results) => settled.push(...results));
  await waitUntil(() => settled.length === calls.length, 'every call of the failing group was answered', { timeoutMs: 30_000 });
  assert.deepEqual(
    settled.map((s) => s.status === 'rejected' && (s.reason as { code?: string }).code),
    ['COMMIT_FAILED', 'COMMIT_FAILED', 'COMMIT_FAILED'],
  );
  fail = false;
  const next = committer.execute(executeItem(trade()));
  let answered = false;
  void next.then(() => (answered = true));
  await waitUntil(() => answered, 'the next call was served by the freed lane', { timeoutMs: 30_000 });
  assert.equal((await next).status, 'applied');
});

test('a key the database refuses fails only the call that presented it, not the rest of its group', async () => {
  const committer = createGroupCommitter(executor(), { maxGroup: 100, lanes: 1 });
  const blocker = committer.execute(executeItem(trade()));
  const settled = await Promise.allSettled(
    [trade(), trade(), trade()].map((b, i) => committer.execute(executeItem(b, i === 1 ? 'ggk_revoked-or-never-issued' : null))),
  );
  await blocker;
  assert.deepEqual(
    settled.map((s) => s.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
  assert.equal((settled[1] as PromiseRejectedResult).reason.code, 'UNAUTHORIZED');
  assert.ok(committer.stats().groups >= 2);
});

test('over HTTP, 64 concurrent clients are coalesced into fewer transactions and every invariant holds', async () => {
  const v = await startValidator(t.db, { GRIDGOV_GROUP_LANES: '2' });
  try {
    const proposals = makeProposals(1000, ['alice', 'bob', 'carol', 'dave'], ['energy', 'water'], 21);
    const { sent } = await runLoad(v.url, proposals, 64);
    assert.ok(
      sent.every((s) => [200, 409, 422].includes(s.reply.status)),
      'only final outcomes',
    );
    const metrics = await (await fetch(`${v.url}/metrics`)).text();
    // Summed over every commit path.
    const metric = (name: string) =>
      [...metrics.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)$`, 'gm'))].reduce((sum, m) => sum + Number(m[1]), 0);
    assert.equal(metric('gridgov_group_commit_proposals_sum'), sent.length);
    assert.ok(metric('gridgov_group_commit_proposals_count') < sent.length / 2, `coalesced: ${metrics}`);
    assert.ok(metric('gridgov_group_commit_largest') > 2);
    assert.deepEqual(await invariantViolations(t.db), []);
    const ids = new Map<string, Set<string>>();
    for (const { proposal, reply } of sent) {
      if (reply.status !== 200) continue;
      const set = ids.get(proposal.body.proposal_id as string) ?? new Set();
      set.add(JSON.stringify(reply.body.ledger_ids));
      ids.set(proposal.body.proposal_id as string, set);
    }
    for (const [id, set] of ids) assert.equal(set.size, 1, `${id} answered with different ledger ids`);
  } finally {
    await v.close();
  }
});
