import type { AgentProfile, CommonsStock, MarketView, ResourceLimits } from '../agents/types.ts';
import { stocksOf, sustainableHarvest } from '../domain/commons.ts';
import { actorIdFor } from '../domain/ids.ts';
import { parseAmount, type Micro } from '../domain/money.ts';
import { toMicro, type Scenario } from '../domain/scenario.ts';
import type { WorldState } from '../ledger/reads/world-state.ts';

/** A JSON number from the API (it prints the exact decimal) as micro units. */
export function microOf(value: number | null | undefined): Micro {
  if (value === null || value === undefined) return 0n;
  const parsed = parseAmount(value);
  if (!parsed.ok) throw new Error(`the validator sent an amount that is not an exact decimal: ${value}`);
  return parsed.value;
}

const toMap = (amounts: Record<string, number | string> | undefined) =>
  new Map(
    Object.entries(amounts ?? {})
      .map(([r, v]) => [r, toMicro(v)] as const)
      .filter(([, v]) => v > 0n),
  );

/** The scenario's actors as agents, each with its strategy (the override, else its own, else heuristic). */
export function agentProfiles(scenario: Scenario, override?: AgentProfile['strategy']): AgentProfile[] {
  return scenario.actors.map((actor) => ({
    id: actorIdFor(actor.name),
    name: actor.name,
    strategy: override ?? actor.strategy ?? 'heuristic',
    character: actor.character,
    production: toMap(actor.production),
    consumption: toMap(actor.consumption),
  }));
}

export interface ViewExtras {
  /** Reference prices as deals have moved them (the scenario's when absent). */
  prices?: Readonly<Record<string, number>>;
  /** Failed actors, who no longer trade. */
  failed?: readonly string[];
  /** Commons stocks of earlier epochs, oldest first: a naive agent's view. */
  stocks?: ReadonlyArray<Record<string, number>>;
  lastEpoch?: number;
}

/**
 * The snapshot every agent negotiates on this epoch, from GET /world-state: the actors that still
 * trade (not the commons, not the failed), the commons' stocks, and the prices deals have made.
 */
export function marketView(state: WorldState, scenario: Scenario, epoch: number, extras: ViewExtras = {}): MarketView {
  const limits = new Map<string, ResourceLimits>();
  for (const resource of state.resources) {
    const own = state.constraints.per_resource[resource];
    const maxTransfer = own ? own.max_transfer : state.constraints.max_transfer;
    limits.set(resource, {
      maxTransfer: maxTransfer === null ? null : microOf(maxTransfer),
      minBalance: microOf(own ? own.min_balance : state.constraints.min_balance),
    });
  }
  const holdings = new Map<string, Map<string, Micro>>();
  const ids = new Map<string, string>();
  const away = new Set([...(extras.failed ?? []), ...(scenario.commons ? [scenario.commons.name] : [])]);
  for (const actor of state.actors) {
    ids.set(actor.name, actor.id);
    if (!away.has(actor.name)) holdings.set(actor.name, new Map(state.resources.map((r) => [r, microOf(actor.balances[r])])));
  }
  const initialPrices = new Map(Object.entries(scenario.negotiation.prices).map(([r, v]) => [r, toMicro(v)]));
  const commonsActor = scenario.commons ? state.actors.find((a) => a.name === scenario.commons!.name) : undefined;
  const commons = new Map<string, CommonsStock>();
  for (const stock of stocksOf(scenario.commons)) {
    const now = microOf(commonsActor?.balances[stock.resource]);
    const lag = scenario.negotiation.stale_epochs;
    const history = extras.stocks ?? [];
    const stale = history.length >= lag ? history[history.length - lag]![stock.resource] : history[0]?.[stock.resource];
    commons.set(stock.resource, {
      ...stock,
      stock: now,
      sustainableHarvest: sustainableHarvest(now, stock),
      staleStock: stale === undefined ? toMicro(scenario.commons!.resources[stock.resource]!.stock) : microOf(stale),
    });
  }
  return {
    epoch,
    ledgerHead: state.ledger_head,
    resources: [...state.resources].sort(),
    limits,
    holdings,
    ids,
    prices: extras.prices ? new Map(Object.entries(extras.prices).map(([r, v]) => [r, microOf(v)])) : initialPrices,
    initialPrices,
    horizon: scenario.negotiation.horizon_epochs,
    maxRounds: scenario.negotiation.max_rounds,
    living: holdings.size,
    ...(commons.size ? { commons } : {}),
    ...(extras.lastEpoch ? { lastEpoch: extras.lastEpoch } : {}),
  };
}
