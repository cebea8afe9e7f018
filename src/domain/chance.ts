import type { Micro } from './money.ts';
import { seededRandom } from './random.ts';
import type { Scenario } from './scenario.ts';

/**
 * The world's chance, drawn from the run's seed and nothing else: the same seed gives the same
 * world, another seed another one. Each draw has its own stream, named by (seed, epoch, what,
 * who), so adding a draw somewhere never shifts the others.
 *
 * - regrowth noise: an epoch's regrowth of a stock is scaled by 1 + ε, ε uniform in ±regrowth_noise;
 * - shocks (a dry spell): with probability shock_probability an epoch's regrowth is also scaled by
 *   1 − shock_size, for every stock at once;
 * - demand noise: each actor's need of each resource in an epoch is scaled by 1 + ε, ε uniform in
 *   ±demand_noise.
 */
export interface WorldChance {
  /** The regrowth of this resource this epoch, from the logistic figure. */
  regrowth(resource: string, logistic: Micro): Micro;
  /** This actor's need of this resource this epoch, from the scenario's figure. */
  need(actor: string, resource: string, base: Micro): Micro;
}

const ONE = 1_000_000n;
const scale = (amount: Micro, factor: number): Micro => (amount * BigInt(Math.round(factor * 1_000_000))) / ONE;
/** A uniform draw in [−1, 1). */
const spread = (seed: string, ...parts: Array<string | number>) => seededRandom(seed, ...parts).next() * 2 - 1;

export function worldChance(scenario: Scenario, seed: string, epoch: number): WorldChance {
  const c = scenario.chance;
  if (!c) return { regrowth: (_r, logistic) => logistic, need: (_a, _r, base) => base };
  const shocked = c.shock_probability > 0 && seededRandom(seed, epoch, 'shock').next() < c.shock_probability;
  return {
    regrowth: (resource, logistic) => {
      const noise = c.regrowth_noise > 0 ? 1 + c.regrowth_noise * spread(seed, epoch, 'regrowth', resource) : 1;
      return scale(logistic, noise * (shocked ? 1 - c.shock_size : 1));
    },
    need: (actor, resource, base) =>
      c.demand_noise > 0 ? scale(base, 1 + c.demand_noise * spread(seed, epoch, 'demand', actor, resource)) : base,
  };
}
