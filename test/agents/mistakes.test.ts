import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mistake } from '../../src/agents/heuristic.ts';
import type { Character } from '../../src/agents/types.ts';
import { seededRandom } from '../../src/domain/random.ts';
import { sampleTurn } from '../support/agents.ts';

const M = (n: number) => BigInt(n * 1_000_000);

/** A thousand turns of the sample farm, each with its own seeded source. */
function slips(character: Character) {
  const base = sampleTurn();
  return Array.from({ length: 1000 }, (_, i) =>
    mistake({ ...base, self: { ...base.self, character }, random: seededRandom('mistakes', i, 'farm', 0, 'propose') }),
  ).filter((m) => m !== undefined);
}

test('a naive agent makes the mistakes models make, at a seeded rate of about 15 % of its turns', () => {
  const made = slips('naive');
  assert.ok(made.length > 120 && made.length < 180, `${made.length} mistakes in 1000 turns`);
  const base = sampleTurn();
  const kinds = { overdraw: 0, aboveMax: 0, unknown: 0 };
  for (const m of made) {
    assert.equal(m.action, 'transfer');
    if (m.action !== 'transfer') continue;
    const limit = base.view.limits.get(m.resource)!.maxTransfer!;
    const held = base.view.holdings.get('farm')!.get(m.resource)!;
    if (!base.view.ids.has(m.to)) kinds.unknown += 1;
    else if (m.amount === limit + M(1)) kinds.aboveMax += 1;
    else {
      assert.equal(m.amount, held + M(1), 'an overdraw: one more than it holds');
      kinds.overdraw += 1;
    }
  }
  // Each kind about a third of them; every one is a proposal the validator must refuse.
  for (const [kind, n] of Object.entries(kinds)) assert.ok(n > 25, `${kind}: ${n}`);
  // The same source gives the same mistake.
  const again = sampleTurn();
  const one = () =>
    mistake({ ...again, self: { ...again.self, character: 'naive' }, random: seededRandom('mistakes', 7, 'farm', 0, 'propose') });
  assert.deepEqual(one(), one());
});

test('cooperative and greedy agents make no such mistakes', () => {
  assert.deepEqual(slips('cooperative'), []);
  assert.deepEqual(slips('greedy'), []);
});
