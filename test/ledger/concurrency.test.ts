import assert from 'node:assert/strict';
import { test } from 'node:test';
import { invariantViolations } from '../support/invariants.ts';
import { makeProposals, runLoad } from '../support/load.ts';
import { useSeededValidator } from '../support/validator.ts';

const world = useSeededValidator({ poolSize: 24 });

test('32 concurrent clients with transfers, swaps, retries and conflicting ids keep every invariant', async () => {
  const proposals = makeProposals(1200, ['alice', 'bob', 'carol', 'dave'], ['energy', 'water'], 7);
  const { sent } = await runLoad(world.v.url, proposals, 32);
  assert.equal(sent.length, proposals.length);

  const statuses = new Map<number, number>();
  for (const { reply } of sent) statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
  assert.deepEqual(
    [...statuses.keys()].filter((s) => ![200, 409, 422].includes(s)),
    [],
    `unexpected statuses ${JSON.stringify([...statuses])}`,
  );
  assert.ok((statuses.get(200) ?? 0) > 300, 'many trades applied');
  assert.ok((statuses.get(422) ?? 0) > 50, 'some trades rejected');
  assert.ok((statuses.get(409) ?? 0) > 10, 'conflicting ids detected');

  // One outcome per id: every 200 for an id names the same ledger rows, and no id is both 200 and 422.
  const byId = new Map<string, { applied: Set<string>; rejected: number }>();
  for (const { reply, proposal } of sent) {
    const id = proposal.body.proposal_id as string;
    const entry = byId.get(id) ?? { applied: new Set(), rejected: 0 };
    if (reply.status === 200) entry.applied.add(JSON.stringify(reply.body.ledger_ids));
    if (reply.status === 422) entry.rejected++;
    byId.set(id, entry);
  }
  const ledger = await world.t.db.query<{ proposal_id: string; ids: number[] }>(
    "SELECT proposal_id::text, array_agg(id::integer ORDER BY leg) AS ids FROM ledger WHERE kind = 'trade' GROUP BY proposal_id",
  );
  const inLedger = new Map(ledger.rows.map((r) => [r.proposal_id, JSON.stringify(r.ids)]));
  const rejectedRows = await world.t.db.query<{ proposal_id: string }>('SELECT proposal_id::text FROM rejected_proposals');
  const rejected = new Set(rejectedRows.rows.map((r) => r.proposal_id));
  // Both kinds of outcome occur (the proposals include amounts over max_transfer), so the checks
  // below that depend on the outcome each run.
  assert.ok(
    [...byId.values()].some((e) => e.applied.size === 1),
    'some proposals applied',
  );
  assert.ok(
    [...byId.values()].some((e) => e.rejected > 0),
    'some proposals rejected',
  );
  for (const [id, entry] of byId) {
    // Exactly one outcome per id: one set of ledger ids, or rejections, never both nor neither.
    assert.equal(
      entry.applied.size + (entry.rejected > 0 ? 1 : 0),
      1,
      `${id}: ${[...entry.applied].join(' ')} and ${entry.rejected} rejections`,
    );
    // The ledger holds what was acknowledged (and nothing for a rejected id); a rejection row exists
    // exactly when a rejection was answered.
    assert.equal(inLedger.get(id), [...entry.applied][0], `${id} in the ledger as acknowledged`);
    assert.equal(rejected.has(id), entry.rejected > 0, `${id} has a rejection row exactly when rejected`);
  }
  assert.deepEqual(await invariantViolations(world.t.db), []);
});
