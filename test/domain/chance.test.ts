import assert from 'node:assert/strict';
import { test } from 'node:test';
import { worldChance } from '../../src/domain/chance.ts';
import { parseScenario, type Scenario } from '../../src/domain/scenario.ts';

const M = (n: number) => BigInt(Math.round(n * 1_000_000));
const world = (chance?: Record<string, number>): Scenario => {
  const parsed = parseScenario({ name: 'w', resources: [{ name: 'fish' }], actors: [{ name: 'a' }], ...(chance ? { chance } : {}) });
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.scenario;
};

test('a world without chance settles its figures as they are', () => {
  const c = worldChance(world(), '1', 3);
  assert.equal(c.regrowth('fish', M(40)), M(40));
  assert.equal(c.need('a', 'fish', M(12)), M(12));
});

test('the seed draws the chance: the same seed the same draw, other seeds other draws, within the noise', () => {
  const noisy = world({ regrowth_noise: 0.2, demand_noise: 0.1 });
  const draw = (seed: string, epoch: number) => [
    worldChance(noisy, seed, epoch).regrowth('fish', M(40)),
    worldChance(noisy, seed, epoch).need('a', 'fish', M(10)),
  ];
  assert.deepEqual(draw('7', 4), draw('7', 4));
  const regrowths = new Set<bigint>();
  for (let seed = 1; seed <= 20; seed++) {
    const [regrowth, need] = draw(String(seed), 4);
    assert.ok(regrowth! >= M(32) && regrowth! <= M(48), `regrowth ${regrowth} within 40 ± 20 %`);
    assert.ok(need! >= M(9) && need! <= M(11), `need ${need} within 10 ± 10 %`);
    regrowths.add(regrowth!);
  }
  assert.ok(regrowths.size > 15, `${regrowths.size} distinct regrowths over 20 seeds`);
});

test('a dry spell cuts every regrowth of its epoch by the shock size, in about its share of epochs', () => {
  const dry = world({ shock_probability: 0.25, shock_size: 0.5 });
  let shocked = 0;
  for (let epoch = 1; epoch <= 400; epoch++) {
    const regrowth = worldChance(dry, '1', epoch).regrowth('fish', M(40));
    assert.ok(regrowth === M(40) || regrowth === M(20), `regrowth ${regrowth}`);
    if (regrowth === M(20)) shocked += 1;
  }
  assert.ok(shocked > 60 && shocked < 140, `${shocked} dry epochs of 400 at 25 %`);
});
