import assert from 'node:assert/strict';
import { test } from 'node:test';
import { regrowth, stocksOf, sustainableHarvest } from '../../src/domain/commons.ts';
import { microToNumber } from '../../src/domain/money.ts';
import { commonsSurvival, harvestEfficiency, runSummary } from '../../src/domain/run-summary.ts';
import { parseScenario } from '../../src/domain/scenario.ts';
import { equalityOf, type EpochStats } from '../../src/domain/stats.ts';
import { commonsStats } from '../../src/runner/carry.ts';
import type { EpochPlan } from '../../src/runner/plan.ts';

/**
 * Each figure of docs/economy.md ("Metrics") on an example small enough to work out by hand. The
 * pond: capacity 100, regrowth rate 1, so regrowth(x) = x (1 − x / 100) and what is left after a
 * harvest regrows to F(x) = 2x − x² / 100.
 */
const M = (n: number) => BigInt(Math.round(n * 1_000_000));
const scenario = (() => {
  const parsed = parseScenario({
    name: 'pond',
    resources: [{ name: 'fish' }],
    actors: ['a', 'b', 'c', 'd'].map((name) => ({ name })),
    commons: { name: 'pond', resources: { fish: { stock: 75, capacity: 100, regrowth_rate: 1, collapse_below: 45, max_extraction: 30 } } },
  });
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.scenario;
})();
const pond = stocksOf(scenario.commons)[0]!;
const f = (stock: number) => microToNumber(sustainableHarvest(M(stock), pond));

test('sustainable harvest: the most that can be taken and regrow back, not the regrowth at the stock', () => {
  // S = 75: F(x) = 75 ⇔ x² − 200x + 7500 = 0 ⇔ x = (200 − √10000) / 2 = 50, so f = 75 − 50 = 25,
  // while the regrowth at 75 is only 75 × 0.25 = 18.75.
  assert.equal(f(75), 25);
  assert.equal(microToNumber(regrowth(M(75), pond)), 18.75);
  // S = 64: x² − 200x + 6400 = 0 ⇔ x = (200 − 120) / 2 = 40, below the collapse threshold 45:
  // the harvest stops at 45 left, f = 64 − 45 = 19.
  assert.equal(f(64), 19);
  // At capacity nothing regrows, so nothing can be taken and found again; below 45 it is collapsed.
  assert.equal(f(100), 0);
  assert.equal(f(44), 0);
});

test('sustainable harvest of the shipped lake: 89.28 at 753, 66.17 at 857 (capacity 1000, rate 0.4)', () => {
  // x = (1.4 − √(1.96 − 0.0016 S)) / 0.0008; S = 753 gives x = 663.72, S = 857 gives x = 790.83.
  const [lake] = stocksOf({
    name: 'lake',
    resources: { water: { stock: 800, capacity: 1000, regrowth_rate: 0.4, collapse_below: 150, max_extraction: 40 } },
  });
  assert.equal(Math.round(microToNumber(sustainableHarvest(M(753), lake!)) * 100) / 100, 89.28);
  assert.equal(Math.round(microToNumber(sustainableHarvest(M(857), lake!)) * 100) / 100, 66.17);
});

const plan = (asks: Record<string, number>, taken = asks): EpochPlan => ({
  run_id: 'r',
  epoch: 1,
  ledger_head: 0,
  order: [],
  slots: [],
  usage: {},
  extraction: {
    requests: [],
    granted: Object.entries(asks).map(([actor, requested]) => ({ actor, resource: 'fish', requested, granted: taken[actor] ?? 0 })),
  },
});
const settled = (stock: number, collapsed: string[] = []) => ({ stock: { fish: stock }, regrowth: { fish: 0 }, collapsed }) as never;

test('over-usage: harvest actions above the sustainable share f / living agents', () => {
  // f(75) = 25 shared by 4: 6.25 each. Asking 5 and 6.25 is within it, 7 and 10 above: 2 of 4.
  const c = commonsStats(scenario, settled(75), plan({ a: 5, b: 6.25, c: 7, d: 10 }))!;
  assert.deepEqual(c.sustainable_harvest, { fish: 25 });
  assert.equal(c.harvest_actions, 4);
  assert.equal(c.over_usage_actions, 2);
  assert.equal(c.over_usage_rate, 0.5);
  assert.deepEqual(c.extracted, { fish: 28.25 });
  assert.deepEqual(c.over_harvest, { fish: 3.25 });
  // 75 − 28.25 = 46.75 stays above 45; taking 31 would leave 44, below it.
  assert.deepEqual(c.collapsed_after, []);
  assert.deepEqual(commonsStats(scenario, settled(75), plan({ a: 30, b: 1 }))!.collapsed_after, ['fish']);
  // A collapsed commons has no harvest to judge: null, not 0.
  const gone = commonsStats(scenario, settled(40, ['fish']), plan({ a: 10 }))!;
  assert.deepEqual(gone.sustainable_harvest, { fish: null });
  assert.equal(gone.over_usage_rate, null);
  assert.equal(gone.harvest_actions, 0);
});

test('survival time: the last epoch that began above the threshold; rate 1 only when it lasted', () => {
  const e = (epoch: number, collapsed: string[] = [], after: string[] = []) => ({ epoch, collapsed, collapsed_after: after });
  assert.deepEqual(commonsSurvival([e(1), e(2), e(3), e(4), e(5)]), { time: 5, rate: 1, collapsed_at: null });
  // Found collapsed at the start of epoch 4: the harvest of epoch 3 did it.
  assert.deepEqual(commonsSurvival([e(1), e(2), e(3), e(4, ['fish']), e(5, ['fish'])]), { time: 3, rate: 0, collapsed_at: 3 });
  // The last epoch's harvest collapses it: it began all five above, but did not survive them.
  assert.deepEqual(commonsSurvival([e(1), e(2), e(3), e(4), e(5, [], ['fish'])]), { time: 5, rate: 0, collapsed_at: 5 });
});

test('efficiency: 1 − max(0, T·f(0) − Σ R) / (T·f(0)); null when nothing could be taken sustainably', () => {
  // T = 10, f(0) = 20: the best is 200; harvesting 150 misses 50 of it, 1 − 50/200 = 0.75.
  assert.equal(harvestEfficiency(10, 20, 150), 0.75);
  assert.equal(harvestEfficiency(10, 20, 250), 1);
  assert.equal(harvestEfficiency(10, 0, 5), null);
});

test('equality: 1 − Gini of the gains; null when every gain is 0', () => {
  // Gains 10 and 30: Gini = Σ|xi − xj| / (2 n² mean) = 40 / (2 · 4 · 20) = 0.25.
  assert.equal(equalityOf({ a: 10, b: 30 }), 0.75);
  assert.equal(equalityOf({ a: 7, b: 7, c: 7 }), 1);
  assert.equal(equalityOf({ a: 0, b: 0 }), null);
});

test('a run: gains, efficiency, equality and over-usage counted only while the commons lived', () => {
  const epoch = (n: number, stock: number, asks: Record<string, number>, collapsed: string[] = []): EpochStats => {
    const p = plan(asks);
    const commons = commonsStats(scenario, settled(stock, collapsed), p)!;
    const harvest = (name: string) => ({ fish: { requested: asks[name] ?? 0, granted: asks[name] ?? 0 } });
    return {
      epoch: n,
      proposals: { sent: 0, applied: 0, rejected: 0, conflicts: 0, malformed: 0, rejected_by_code: {} },
      moves: { pass: 0, transfer: 0, offer: 0, invalid: 0 },
      negotiation: { sessions: 0, agreed: 0, success_rate: 0 },
      supply: {},
      gini: {},
      deficit: { actors: 0, names: [], unmet: {} },
      production: {},
      consumed: {},
      llm: { calls: 0, errors: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, cost_usd: 0, by_agent: {} },
      actor_survival: { alive: 4, total: 4, rate: 1, failed: [] },
      need_met: 1,
      payoff: {},
      payoff_equality: null,
      rounds_to_deal: null,
      prices: {},
      commons,
      agents: Object.fromEntries(['a', 'b', 'c', 'd'].map((name) => [name, { harvest: harvest(name) } as never])),
    };
  };
  // Epoch 1 at 75 (f = 25): a and b take 6 each, c 10 (over), d nothing. Epoch 2 at 64 (f = 19,
  // share 4.75): a 6 and c 10 over, b 4 within, d nothing; 64 − 20 = 44 < 45 collapses it.
  // Epoch 3 starts collapsed: its 5 taken by a counts in the gains but not in over-usage.
  const s = runSummary([epoch(1, 75, { a: 6, b: 6, c: 10 }), epoch(2, 64, { a: 6, b: 4, c: 10 }), epoch(3, 44, { a: 5 }, ['fish'])]);
  assert.deepEqual(s.survival, { time: 2, rate: 0 });
  assert.equal(s.commons?.collapsed_at, 2);
  assert.deepEqual(s.gains, { a: 17, b: 10, c: 20, d: 0 });
  // T = 3, f(0) = 25: best 75, harvested 22 + 20 + 5 = 47, 1 − 28/75 = 0.6267.
  assert.equal(s.efficiency, 0.6267);
  // Gains 0, 10, 17, 20 (mean 11.75): Σ|xi − xj| over ordered pairs = 2 × (10 + 17 + 20 + 7 + 10 + 3) = 134,
  // Gini = 134 / (2 · 16 · 11.75) = 0.3564.
  assert.equal(s.equality, 0.6436);
  // 3 of the 8 actions while it lived were above the share; the collapsed epoch counts none.
  assert.deepEqual(s.over_usage && { rate: s.over_usage.rate, actions: s.over_usage.actions, over: s.over_usage.over }, {
    rate: 0.375,
    actions: 8,
    over: 3,
  });
});
