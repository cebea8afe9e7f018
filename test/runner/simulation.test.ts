import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runFresh } from '../support/economy.ts';

test('the same scenario and seed, run twice into fresh databases, write the same ledger row for row, commons included', async () => {
  const first = await runFresh('commons', 12);
  const second = await runFresh('commons', 12);
  assert.ok(first.digest.rows > 150, `only ${first.digest.rows} ledger rows`);
  assert.deepEqual(second.digest, first.digest);
  assert.equal(second.runId, first.runId);
  assert.deepEqual(first.violations, []);
  const kinds = new Set(first.stats.flatMap((s) => (s.commons ? ['commons'] : [])));
  assert.ok(kinds.has('commons'));
  assert.deepEqual(
    second.stats.map((s) => s.commons?.stock),
    first.stats.map((s) => s.commons?.stock),
  );
  const otherSeed = await runFresh('commons', 12, '43');
  assert.notEqual(otherSeed.digest.digest, first.digest.digest, 'another seed gives another history');
  // The seed draws the world's chance (scenarios/commons.json has regrowth and demand noise): the
  // lake itself, not only the trades, takes another course.
  assert.notDeepEqual(
    otherSeed.stats.map((s) => s.commons?.stock),
    first.stats.map((s) => s.commons?.stock),
  );
  assert.notDeepEqual(
    otherSeed.stats.map((s) => s.consumed),
    first.stats.map((s) => s.consumed),
  );
});
