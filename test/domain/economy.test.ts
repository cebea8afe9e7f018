import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHeuristicStrategy } from '../../src/agents/heuristic.ts';
import { economyProfiles, settleEconomy, type EconomyProfile } from '../../src/domain/economy.ts';
import { microToNumber } from '../../src/domain/money.ts';
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
    {
      actorId: 'a',
      actorName: 'a',
      production: new Map([['water', M(5)]]),
      consumption: new Map([
        ['water', M(8)],
        ['energy', M(3)],
      ]),
    },
  ];
  const balances = new Map([
    ['a|water', M(1)],
    ['a|energy', 0n],
  ]);
  const input = {
    runId: 'run',
    epoch: 2,
    scenario: plainScenario,
    profiles,
    idFor: (n: string) => n,
    balance: (actor: string, resource: string) => balances.get(`${actor}|${resource}`) ?? 0n,
    previous: undefined,
  };
  const { entries, summary } = settleEconomy(input);
  assert.deepEqual(
    entries.map((e) => [e.kind, e.from === WORLD_ACTOR_ID ? 'world' : e.from, e.resource, e.amount]),
    [
      ['production', 'world', 'water', M(5)],
      ['consumption', 'a', 'water', M(6)],
    ],
  );
  assert.deepEqual(summary.unmet, { energy: 3, water: 2 });
  assert.deepEqual(
    summary.deficits.map((d) => `${d.resource}:${d.taken}/${d.need}`),
    ['energy:0/3', 'water:6/8'],
  );
  const again = settleEconomy(input);
  assert.deepEqual(
    again.entries.map((e) => e.proposalId),
    entries.map((e) => e.proposalId),
    'ids derive from (run, epoch, actor, resource, kind)',
  );
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
  const countered = capped.value!;
  assert.ok(countered.decision === 'counter', `decided ${countered.decision}`);
  assert.ok(countered.give.amount <= M(50));
  const last = await heuristic.respond(well, [{ ...offer, give: { resource: 'credits', amount: M(1) } }], [], true);
  assert.equal(last.value!.decision, 'reject', 'a lowball in the last round is refused');
});

test('settlement: the commons regrows, sinks drain, and an actor short too long fails, its holdings going through world to its heir', () => {
  const parsed = parseScenario({
    name: 'sinks',
    resources: [{ name: 'water' }, { name: 'credits' }],
    economy: { upkeep: { credits: 2 }, tax: { credits: 0.1 }, fail_after_unmet_epochs: 2, holdings_on_failure: { heir: 'b' } },
    commons: {
      name: 'lake',
      resources: { water: { stock: 500, capacity: 1000, regrowth_rate: 0.4, collapse_below: 100, max_extraction: 30 } },
    },
    actors: [
      { name: 'a', balances: { credits: 50 }, consumption: { water: 5 } },
      { name: 'b', balances: { credits: 50, water: 40 }, consumption: { water: 5 } },
    ],
  });
  if (!parsed.ok) throw new Error(parsed.message);
  const balances = new Map([
    ['a|credits', M(50)],
    ['b|credits', M(50)],
    ['b|water', M(40)],
    ['lake|water', M(500)],
  ]);
  const { entries, summary } = settleEconomy({
    runId: 'run',
    epoch: 3,
    scenario: parsed.scenario,
    profiles: economyProfiles(parsed.scenario, (n) => n),
    idFor: (n) => n,
    balance: (actor, resource) => balances.get(`${actor}|${resource}`) ?? 0n,
    previous: { streaks: { a: 1, b: 0 }, failed: [] },
  });
  const seen = entries.map(
    (e) =>
      `${e.kind} ${e.from === WORLD_ACTOR_ID ? 'world' : e.from}>${e.to === WORLD_ACTOR_ID ? 'world' : e.to} ${e.resource} ${microToNumber(e.amount)}`,
  );
  assert.deepEqual(seen, [
    'regrowth world>lake water 100',
    'upkeep a>world credits 2',
    'tax a>world credits 4.8',
    'upkeep b>world credits 2',
    'tax b>world credits 4.8',
    'consumption b>world water 5',
    'failure a>world credits 43.2',
    'inheritance world>b credits 43.2',
  ]);
  assert.ok(
    entries.every((e) => e.from === WORLD_ACTOR_ID || e.to === WORLD_ACTOR_ID),
    'every system entry has world on one side',
  );
  assert.deepEqual(summary.failed, ['a']);
  assert.deepEqual(summary.failures, [{ actor: 'a', heirs: ['b'] }]);
  assert.deepEqual(summary.stock, { water: 600 });
  assert.deepEqual(summary.streaks, { b: 0 });
});
