import type { AgentProfile, MarketView, ResourceLimits } from '../agents/types.ts';
import { actorIdFor } from '../domain/ids.ts';
import { parseAmount, type Micro } from '../domain/money.ts';
import { toMicro, type Scenario } from '../domain/scenario.ts';
import type { WorldState } from '../ledger/world-state.ts';

/** A JSON number from the API (it prints the exact decimal) as micro units. */
export function microOf(value: number | null | undefined): Micro {
  if (value === null || value === undefined) return 0n;
  const parsed = parseAmount(value);
  if (!parsed.ok) throw new Error(`the validator sent an amount that is not an exact decimal: ${value}`);
  return parsed.value;
}

const toMap = (amounts: Record<string, number | string> | undefined) =>
  new Map(Object.entries(amounts ?? {}).map(([r, v]) => [r, toMicro(v)] as const).filter(([, v]) => v > 0n));

/** The scenario's actors as agents, each with its strategy (the override, else its own, else heuristic). */
export function agentProfiles(scenario: Scenario, override?: AgentProfile['strategy']): AgentProfile[] {
  return scenario.actors.map((actor) => ({
    id: actorIdFor(actor.name),
    name: actor.name,
    strategy: override ?? actor.strategy ?? 'heuristic',
    production: toMap(actor.production),
    consumption: toMap(actor.consumption),
  }));
}

/** The snapshot every agent negotiates on this epoch, from GET /world-state. */
export function marketView(state: WorldState, scenario: Scenario, epoch: number): MarketView {
  const limits = new Map<string, ResourceLimits>();
  for (const resource of state.resources) {
    const own = state.constraints.per_resource[resource];
    const maxTransfer = own ? own.max_transfer : state.constraints.max_transfer;
    limits.set(resource, { maxTransfer: maxTransfer === null ? null : microOf(maxTransfer), minBalance: microOf(own ? own.min_balance : state.constraints.min_balance) });
  }
  const holdings = new Map<string, Map<string, Micro>>();
  const ids = new Map<string, string>();
  for (const actor of state.actors) {
    ids.set(actor.name, actor.id);
    holdings.set(actor.name, new Map(state.resources.map((r) => [r, microOf(actor.balances[r])])));
  }
  return {
    epoch,
    ledgerHead: state.ledger_head,
    resources: [...state.resources].sort(),
    limits,
    holdings,
    ids,
    prices: new Map(Object.entries(scenario.negotiation.prices).map(([r, v]) => [r, toMicro(v)])),
    horizon: scenario.negotiation.horizon_epochs,
    maxRounds: scenario.negotiation.max_rounds,
  };
}
