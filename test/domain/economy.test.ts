import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHeuristicStrategy } from '../../src/agents/heuristic.ts';
import { settleEconomy, type EconomyProfile } from '../../src/domain/economy.ts';
import { WORLD_ACTOR_ID } from '../../src/domain/ids.ts';
import { seededRandom } from '../../src/domain/random.ts';
import { parseScenario } from '../../src/domain/scenario.ts';
import { gini } from '../../src/domain/stats.ts';
import { profileFor, sampleTurn } from '../support/agents.ts';

const M = (n: number) => BigInt(n * 1_000_000);
const plainScenario = (() => {
  const parsed = parseScenario({ name: 'plain', resources: [{ name: 'energy' }, { name: 'water' }], actors: [{ name: 'a' }] });
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.scenario;
})();

test('settlement: production first, then consumption of at most what is held, the rest unmet', () => {
  const profiles: EconomyProfile[] = [
    { actorId: 'a', actorName: 'a', production: new Map([['water', M(5)]]), consumption: new Map([['water', M(8)], ['energy', M(3)]]) },
  ];
  const balances = new Map([['a|water', M(1)], ['a|energy', 0n]]);
  const input = { runId: 'run', epoch: 2, scenario: plainScenario, profiles, idFor: (n: string) => n, balance: (actor: string, resource: string) => balances.get(`${actor}|${resource}`) ?? 0n, previous: undefined };
  const { entries, summary } = settleEconomy(input);
  assert.deepEqual(
    entries.map((e) => [e.kind, e.from === WORLD_ACTOR_ID ? 'world' : e.from, e.resource, e.amount]),
    [
      ['production', 'world', 'water', M(5)],
      ['consumption', 'a', 'water', M(6)],
    ],
  );
  assert.deepEqual(summary.unmet, { energy: 3, water: 2 });
  assert.deepEqual(summary.deficits.map((d) => `${d.resource}:${d.taken}/${d.need}`), ['energy:0/3', 'water:6/8']);
  const again = settleEconomy(input);
  assert.deepEqual(again.entries.map((e) => e.proposalId), entries.map((e) => e.proposalId), 'ids derive from (run, epoch, actor, resource, kind)');
});

test('gini: 0 for equal holdings, towards 1 for one holder, exact on micro units', () => {
  assert.equal(gini([M(5), M(5), M(5)]), 0);
  assert.equal(gini([0n, 0n, 0n, M(10)]), 0.75);
  assert.equal(gini([]), 0);
  assert.equal(gini([M(1), M(2), M(3), M(4)]), 0.25);
});

test('the heuristic is deterministic and needs-driven: short of water, it buys from the largest holder', async () => {
  const heuristic = createHeuristicStrategy();
  const first = await heuristic.propose(sampleTurn());
  const second = await heuristic.propose(sampleTurn());
  assert.deepEqual(first, second);
  const move = first.value!;
  assert.equal(move.action, 'offer');
  if (move.action !== 'offer') return;
  assert.equal(move.to, 'well');
  assert.equal(move.get.resource, 'water');
  assert.equal(move.give.resource, 'credits');
  assert.ok(move.get.amount <= M(50), 'within max_transfer');
  // The well, with water to spare and no use for more, takes a fair price and refuses to sell below its floor.
  const well = profileFor(sampleTurn(), 'well', { water: 10 }, { energy: 1 });
  const offer = { maker: 'farm', taker: 'well', give: move.give, get: move.get };
  const reply = await heuristic.respond({ ...well, random: seededRandom('x') }, [offer], [], false);
  assert.ok(['accept', 'counter'].includes(reply.value!.decision));
  const greedy = { ...offer, get: { resource: 'water', amount: M(395) } };
  const capped = await heuristic.respond(well, [greedy], [], false);
  assert.equal(capped.value!.decision, 'counter');
  if (capped.value!.decision === 'counter') assert.ok(capped.value!.give.amount <= M(50));
  const last = await heuristic.respond(well, [{ ...offer, give: { resource: 'credits', amount: M(1) } }], [], true);
  assert.equal(last.value!.decision, 'reject', 'a lowball in the last round is refused');
});
