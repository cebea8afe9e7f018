import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SYSTEM_INSTRUCTION, viewJson } from '../../src/agents/prompts.ts';
import { sampleTurn } from '../support/agents.ts';

const M = (n: number) => BigInt(Math.round(n * 1_000_000));

test('the model is told the sustainable harvest and its share, not the regrowth at the stock', () => {
  const base = sampleTurn();
  // The shipped lake at 753: f = 89.278049 (docs/economy.md), where the regrowth is only 74.3964.
  const lake = {
    resource: 'water',
    capacity: M(1000),
    rateMicro: 400_000n,
    collapseBelow: M(150),
    maxExtraction: M(40),
    stock: M(753),
    sustainableHarvest: 89_278_049n,
    staleStock: M(753),
  };
  const json = viewJson({ ...base, view: { ...base.view, commons: new Map([['water', lake]]), living: 5 } });
  const water = (json.commons as Record<string, Record<string, unknown>>).water!;
  assert.equal(water.sustainable_harvest_this_epoch, 89.278049);
  assert.equal(water.your_sustainable_share, 17.855609, 'a fifth, rounded down to the micro unit');
  assert.equal(water.agents_sharing_it, 5);
  assert.equal('sustainable_yield_this_epoch' in water, false);
  // Taking more than the regrowth does not always shrink a logistic stock: the instruction says what does.
  assert.doesNotMatch(SYSTEM_INSTRUCTION, /Taking more than that shrinks it/);
  assert.match(SYSTEM_INSTRUCTION, /sustainable harvest is the most all agents together can take this epoch/);
});
