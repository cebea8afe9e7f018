import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { invariantViolations } from '../support/invariants.ts';
import { makeProposals, runLoad } from '../support/load.ts';
import { seedTestScenario } from '../support/scenario.ts';
import { http, spawnValidator } from '../support/validator.ts';
import { waitUntil } from '../support/wait.ts';

let t: TestDatabase;
before(async () => {
  t = await createTestDatabase(4);
  await seedTestScenario(t.db);
});
after(() => t.drop());

test('a validator killed with SIGKILL under load loses no acknowledged proposal', async () => {
  const first = await spawnValidator(t.url);
  // More proposals than can land before the kill; what is left after it is refused at once.
  const proposals = makeProposals(5_000, ['alice', 'bob', 'carol', 'dave'], ['energy', 'water', 'credits'], 11);
  const ledgerRows = async () => (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM ledger')).rows[0]!.n;
  const base = await ledgerRows();
  const load = runLoad(first.url, proposals, 16);
  // Kill it mid-stream, while requests are in flight: once a good number has landed, however busy
  // the machine is.
  await waitUntil(async () => (await ledgerRows()) >= base + 150, '150 ledger rows written under load');
  first.child.kill('SIGKILL');
  await first.exited;
  const { sent } = await load;
  const acknowledged = sent.filter((s) => s.reply.status === 200);
  const lost = sent.filter((s) => s.reply.status === 0);
  assert.ok(acknowledged.length > 50, `only ${acknowledged.length} proposals were acknowledged before the kill`);
  assert.ok(lost.length > 0, 'the kill interrupted the load');

  const second = await spawnValidator(t.url);
  try {
    const { rows } = await t.db.query<{ proposal_id: string; legs: number }>(
      'SELECT proposal_id::text, count(*)::integer AS legs FROM ledger WHERE proposal_id = ANY($1::uuid[]) GROUP BY proposal_id',
      [acknowledged.map((s) => s.proposal.body.proposal_id)],
    );
    const legs = new Map(rows.map((r) => [r.proposal_id, r.legs]));
    for (const { proposal, reply } of acknowledged) {
      const id = proposal.body.proposal_id as string;
      assert.equal(legs.get(id), reply.body.ledger_ids.length, `acknowledged ${id} is not in the ledger exactly once`);
    }
    // Retrying what the kill interrupted is safe: each settles once, and applied ones replay.
    for (const { proposal } of sent.slice(0, 200)) {
      const retry = await http(second.url, 'POST', '/execute', proposal.body);
      assert.ok([200, 409, 422].includes(retry.status), `retry answered ${retry.status}`);
    }
    // An acknowledged apply survived the kill, so its retry is a replay of the same ledger rows.
    for (const { proposal, reply } of acknowledged.slice(0, 100)) {
      const retry = await http(second.url, 'POST', '/execute', proposal.body);
      assert.equal(retry.status, 200, `acknowledged ${proposal.body.proposal_id as string} answered ${retry.status} on retry`);
      assert.equal(retry.body.replayed, true);
      assert.deepEqual(retry.body.ledger_ids, reply.body.ledger_ids);
    }
    assert.deepEqual(await invariantViolations(t.db), []);
  } finally {
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0, 'a validator stops cleanly on SIGTERM');
  }
});
