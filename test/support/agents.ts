import type { AgentProfile, MarketView, TurnContext } from '../../src/agents/types.ts';
import { seededRandom } from '../../src/domain/random.ts';

const M = (n: number) => BigInt(Math.round(n * 1_000_000));

/** A small market for strategy tests: a farm short of water, a well with plenty. */
export function sampleTurn(turn = 0): TurnContext {
  const holdings = new Map([
    [
      'farm',
      new Map([
        ['water', M(12)],
        ['energy', M(40)],
        ['credits', M(300)],
      ]),
    ],
    [
      'well',
      new Map([
        ['water', M(400)],
        ['energy', M(15)],
        ['credits', M(50)],
      ]),
    ],
    [
      'plant',
      new Map([
        ['water', M(30)],
        ['energy', M(500)],
        ['credits', M(80)],
      ]),
    ],
  ]);
  const view: MarketView = {
    epoch: 4,
    ledgerHead: 120,
    resources: ['credits', 'energy', 'water'],
    limits: new Map([
      ['credits', { maxTransfer: M(500), minBalance: 0n }],
      ['energy', { maxTransfer: M(50), minBalance: M(10) }],
      ['water', { maxTransfer: M(50), minBalance: M(10) }],
    ]),
    holdings,
    ids: new Map([...holdings.keys()].map((n) => [n, `id-${n}`])),
    prices: new Map([
      ['water', M(3)],
      ['energy', M(2)],
      ['credits', M(1)],
    ]),
    horizon: 3,
    maxRounds: 4,
  };
  const self: AgentProfile = {
    id: 'id-farm',
    name: 'farm',
    strategy: 'heuristic',
    production: new Map([['credits', M(20)]]),
    consumption: new Map([['water', M(15)]]),
  };
  return { self, view, turn, random: seededRandom('test', 4, 'farm', turn) };
}

export function profileFor(
  ctx: TurnContext,
  name: string,
  production: Record<string, number> = {},
  consumption: Record<string, number> = {},
): TurnContext {
  const toMap = (r: Record<string, number>) => new Map(Object.entries(r).map(([k, v]) => [k, M(v)]));
  return {
    ...ctx,
    self: { id: `id-${name}`, name, strategy: 'heuristic', production: toMap(production), consumption: toMap(consumption) },
  };
}
