import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  checkpointNow,
  createCheckpoint,
  getCheckpoint,
  listCheckpoints,
  verifyCheckpoint,
} from '../../src/ledger/integrity/checkpoint.ts';
import { fenceCleared, raiseFence, settledHorizon, SettleTimeoutError } from '../../src/ledger/integrity/fence.ts';
import { balancesAt } from '../../src/ledger/reads/point-in-time.ts';
import type { Db } from '../../src/db/db.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { appendTrade, openTransaction } from '../support/ledger.ts';
import { seedTestScenario } from '../support/scenario.ts';
import { waitUntil } from '../support/wait.ts';

let t: TestDatabase;
before(async () => {
  t = await createTestDatabase();
  await seedTestScenario(t.db);
});
after(() => t.drop());

/** A checkpoint's rows as "actor/resource" → amount, to compare with a replay. */
async function checkpointRows(ledgerId: number): Promise<Map<string, string>> {
  const { rows } = await t.db.query<{ k: string; amount: string }>(
    "SELECT actor_id || '/' || resource AS k, trim_scale(amount)::text AS amount FROM checkpoint_balances WHERE ledger_id = $1",
    [ledgerId],
  );
  return new Map(rows.map((r) => [r.k, r.amount]));
}

async function fullReplay(at: number): Promise<Map<string, string>> {
  const { rows } = await t.db.query<{ k: string; amount: string }>(
    `SELECT actor || '/' || resource AS k, trim_scale(sum(d))::text AS amount FROM (
       SELECT actor_from AS actor, resource, -amount AS d FROM ledger WHERE id <= $1
       UNION ALL SELECT actor_to, resource, amount FROM ledger WHERE id <= $1) m
     GROUP BY 1 HAVING sum(d) <> 0`,
    [at],
  );
  return new Map(rows.map((r) => [r.k, r.amount]));
}

test('a fence holds back ids while a writer that took a lower id is still open', async () => {
  const slow = await openTransaction(t.url);
  const late = await appendTrade(slow.db, 'alice', 'bob', 'energy', 1);
  const early = await appendTrade(t.db, 'carol', 'dave', 'water', 2); // commits first, with a higher id
  assert.ok(early.id > late.id);

  const fence = await raiseFence(t.db);
  assert.ok(fence.through >= early.id);
  assert.equal(await fenceCleared(t.db, fence), false, 'the open writer is fenced');
  await assert.rejects(settledHorizon(t.db, { timeoutMs: 150 }), SettleTimeoutError);

  // A checkpoint asked for now must wait for the late row rather than leave it out.
  // Counted queries show the checkpoint looking at the fence again and again, not yet done.
  let queries = 0;
  const counted: Db = { ...t.db, query: (sql, params) => ((queries += 1), t.db.query(sql, params)) };
  const pending = checkpointNow(counted);
  let done = false;
  void pending.then(
    () => (done = true),
    () => (done = true),
  );
  await waitUntil(() => done || queries >= 5, 'the checkpoint polled the fence a few times');
  assert.equal(done, false, 'the checkpoint waits for the open writer');
  await slow.commit();
  const checkpoint = await pending;
  assert.equal(await fenceCleared(t.db, fence), true);
  assert.ok(checkpoint.ledger_id >= early.id);
  assert.deepEqual(await checkpointRows(checkpoint.ledger_id), await fullReplay(checkpoint.ledger_id), 'the late row is in the checkpoint');
});

// A validator just started has no settled horizon yet, and asks for a verdict all the same: the
// verifier must not take the sequence's head as settled, or an open writer's ids fall behind its
// base, and their rows, once committed, are never counted (drift for good).
test("a verdict asked for with no settled horizon leaves an open writer's ids to a later tick", async () => {
  const slow = await openTransaction(t.url);
  const late = await appendTrade(slow.db, 'alice', 'bob', 'energy', 1);
  const unsettled = await t.db.query<{ v: { ok: boolean; settled_through: number } }>("SELECT verifier_tick('test', NULL, 1000000) AS v");
  assert.equal(unsettled.rows[0]!.v.ok, true);
  assert.ok(unsettled.rows[0]!.v.settled_through < late.id, 'the base stays below the open writer');
  await slow.commit();
  const { rows } = await t.db.query<{ v: { ok: boolean; drift: unknown[] } }>("SELECT verifier_tick('test', NULL, 1000000) AS v");
  assert.deepEqual(rows[0]!.v.drift, []);
  assert.equal(rows[0]!.v.ok, true, 'the late row is counted once committed');
});

test('checkpoints chain from the previous one, match a full replay, and carry digest and supply', async () => {
  for (let i = 0; i < 5; i++) await appendTrade(t.db, 'alice', 'carol', 'credits', '1.5');
  const first = await checkpointNow(t.db);
  for (let i = 0; i < 5; i++) await appendTrade(t.db, 'bob', 'dave', 'energy', '0.25');
  const second = await checkpointNow(t.db);
  assert.ok(second.ledger_id > first.ledger_id);
  assert.deepEqual(await checkpointRows(second.ledger_id), await fullReplay(second.ledger_id));
  assert.equal(second.supply.energy, '320');
  assert.equal(second.supply.credits, '3050');
  const { rows } = await t.db.query<{ n: number }>('SELECT count(*) AS n FROM ledger WHERE id <= $1', [second.ledger_id]);
  assert.equal(second.entries, rows[0]!.n);
  assert.match(second.balances_digest, /^[0-9a-f]{64}$/);
  assert.deepEqual((await verifyCheckpoint(t.db, second.ledger_id)).ok, true);

  // Asking again at the same id returns the same checkpoint; listing is newest first.
  const again = await t.db.transaction((tx) => createCheckpoint(tx, second.ledger_id, 'manual'));
  assert.equal(again.balances_digest, second.balances_digest);
  assert.deepEqual((await listCheckpoints(t.db)).map((c) => c.ledger_id).slice(0, 2), [second.ledger_id, first.ledger_id]);

  // A checkpoint row changed by hand no longer matches its digest.
  const alter = (delta: number) =>
    t.db.query("UPDATE checkpoint_balances SET amount = amount + $2 WHERE ledger_id = $1 AND resource = 'energy' AND amount > 0", [
      first.ledger_id,
      delta,
    ]);
  await alter(1);
  assert.equal((await verifyCheckpoint(t.db, first.ledger_id)).ok, false);
  await alter(-1);
  assert.equal((await verifyCheckpoint(t.db, first.ledger_id)).ok, true);
  assert.ok(await getCheckpoint(t.db, first.ledger_id));
});

test('balances at any id replay from the nearest checkpoint, forwards or backwards, and match a full replay', async () => {
  const { rows } = await t.db.query<{ id: number }>('SELECT id FROM ledger ORDER BY id');
  const checkpoints = new Set((await listCheckpoints(t.db)).map((c) => c.ledger_id));
  const replays = new Map<string, number>();
  for (const { id } of rows) {
    const { rows: state, asOf } = await balancesAt(t.db, id);
    const got = new Map(state.filter((r) => Number(r.amount) !== 0).map((r) => [`${r.actor_id}/${r.resource}`, String(Number(r.amount))]));
    const want = new Map([...(await fullReplay(id))].map(([k, v]) => [k, String(Number(v))]));
    assert.deepEqual(got, want, `state at ${id}`);
    assert.ok(asOf.checkpoint === null || checkpoints.has(asOf.checkpoint));
    const direction = asOf.checkpoint === null ? 'genesis' : asOf.checkpoint > id ? 'backwards' : 'forwards';
    replays.set(direction, (replays.get(direction) ?? 0) + 1);
  }
  assert.ok(replays.get('backwards')! > 0 && replays.get('forwards')! > 0, JSON.stringify([...replays]));
});
