import type { Micro } from './money.ts';
import type { SettlementSummary } from './economy.ts';

/**
 * Gini coefficient of non-negative amounts: 0 when everyone holds the same, towards 1 when one
 * holder has everything. Summed exactly in micro units; only the final ratio is a float.
 */
export function gini(values: readonly Micro[]): number {
  const sorted = values.filter((v) => v >= 0n).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const n = BigInt(sorted.length);
  const total = sorted.reduce((sum, v) => sum + v, 0n);
  if (n === 0n || total === 0n) return 0;
  const weighted = sorted.reduce((sum, v, i) => sum + BigInt(i + 1) * v, 0n);
  const numerator = 2n * weighted - (n + 1n) * total;
  const scaled = (numerator * 1_000_000n) / (n * total);
  return Math.round(Number(scaled) / 100) / 10_000;
}

/** 1 − Gini of amounts given as numbers (6 decimals at most), computed exactly; null when all are 0. */
export function equalityOf(amounts: Record<string, number>): number | null {
  const micro = Object.values(amounts).map((v) => BigInt(Math.round(Math.max(0, v) * 1_000_000)));
  if (micro.every((v) => v === 0n)) return null;
  return Math.round((1 - gini(micro)) * 10_000) / 10_000;
}

export interface SlotOutcome {
  agent: string;
  /** What the turn produced: a deal sent as a swap, a transfer, nothing (pass, no deal), or an invalid answer. */
  move: 'pass' | 'transfer' | 'offer' | 'invalid';
  agreed: boolean;
  /** How the validator settled the slot, when something was sent. */
  result?: 'applied' | 'rejected' | 'conflict' | 'malformed';
  errorCode?: string;
  /** Replies it took to agree, for a negotiated deal. */
  rounds?: number;
}

export interface TokenUsage {
  calls: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** Dollars, at the configured price of each model. */
  cost_usd: number;
  /** Of `calls`, those the response cache answered (absent in stats recorded before the cache). */
  cache_hits?: number;
  /** What the cached answers would have cost: dollars not paid. */
  saved_usd?: number;
}

export const emptyUsage = (): TokenUsage => ({ calls: 0, errors: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, cost_usd: 0 });

export function addUsage(into: TokenUsage, more: TokenUsage): TokenUsage {
  into.calls += more.calls;
  into.errors += more.errors;
  into.prompt_tokens += more.prompt_tokens;
  into.completion_tokens += more.completion_tokens;
  into.total_tokens += more.total_tokens;
  into.cost_usd = Math.round((into.cost_usd + (more.cost_usd ?? 0)) * 1e9) / 1e9;
  // Present once a model call was made through the cache layer; heuristic stats stay as they were.
  if (into.cache_hits !== undefined || more.cache_hits !== undefined) {
    into.cache_hits = (into.cache_hits ?? 0) + (more.cache_hits ?? 0);
    into.saved_usd = Math.round(((into.saved_usd ?? 0) + (more.saved_usd ?? 0)) * 1e9) / 1e9;
  }
  return into;
}

export interface EpochStats {
  epoch: number;
  proposals: {
    sent: number;
    applied: number;
    rejected: number;
    conflicts: number;
    malformed: number;
    rejected_by_code: Record<string, number>;
  };
  moves: { pass: number; transfer: number; offer: number; invalid: number };
  negotiation: { sessions: number; agreed: number; success_rate: number };
  supply: Record<string, number>;
  gini: Record<string, number>;
  deficit: { actors: number; names: string[]; unmet: Record<string, number> };
  production: Record<string, number>;
  consumed: Record<string, number>;
  llm: TokenUsage & { by_agent: Record<string, TokenUsage> };
  /** Actors still trading, of all the scenario's; those that failed so far. Not the commons' survival. */
  actor_survival: ActorSurvival;
  /** Need met / need, over all resources. */
  need_met: number;
  /** Each agent's payoff: its holdings valued at reference prices. */
  payoff: Record<string, number>;
  /** 1 - Gini of the payoffs. */
  payoff_equality: number | null;
  /** Mean replies to agree, over this epoch's deals. */
  rounds_to_deal: number | null;
  prices: Record<string, number>;
  commons?: CommonsStats;
  /** Each agent's own figures this epoch, by name. */
  agents?: Record<string, AgentEpochStats>;
}

/** One agent in one epoch: what it holds, what it is worth, what it lacked and what it did. */
export interface AgentEpochStats {
  /** Holdings per resource at the end of the epoch. */
  balances: Record<string, number>;
  payoff: number;
  /** Need left unmet at this epoch's settlement, per resource. */
  unmet: Record<string, number>;
  failed: boolean;
  moves: { pass: number; transfer: number; offer: number; invalid: number };
  proposals: { sent: number; applied: number; rejected: number };
  llm: TokenUsage;
  /** What it asked to take from the commons and was granted, per resource; absent without a commons. */
  harvest?: Record<string, { requested: number; granted: number }>;
}

/** Epoch stats as stored: rows written before the metrics took their published names carry the old ones. */
export type StoredEpochStats = EpochStats & { survival?: ActorSurvival; efficiency?: number; equality?: number };

export interface ActorSurvival {
  alive: number;
  total: number;
  rate: number;
  failed: string[];
}

/**
 * A commons in one epoch (docs/economy.md, "Metrics"): the stock the agents planned on (after
 * regrowth), what regrew, the sustainable harvest f(t), what was asked and taken, and the harvest
 * actions above the sustainable share f(t) / living agents. Once the commons has collapsed, the
 * sustainable harvest and the over-usage rate are null: there is no harvest left to judge.
 */
export interface CommonsStats {
  stock: Record<string, number>;
  regrowth: Record<string, number>;
  sustainable_harvest: Record<string, number | null>;
  requested: Record<string, number>;
  extracted: Record<string, number>;
  /** What was taken beyond the sustainable harvest, per resource. */
  over_harvest: Record<string, number>;
  /** One per living agent and live resource: each agent decides how much to take, 0 included. */
  harvest_actions: number;
  /** Harvest actions asking more than the sustainable share. */
  over_usage_actions: number;
  /** over_usage_actions / harvest_actions; null when there was nothing to harvest. */
  over_usage_rate: number | null;
  /** Resources found below their collapse threshold at the start of the epoch. */
  collapsed: string[];
  /** Resources this epoch's harvest left below their collapse threshold. */
  collapsed_after: string[];
}

export interface EpochStatsInput {
  epoch: number;
  outcomes: readonly SlotOutcome[];
  settlement: SettlementSummary;
  supply: Record<string, number>;
  /** Every non-world actor's holding per resource at the end of the epoch. */
  holdings: Record<string, readonly Micro[]>;
  usage: Record<string, TokenUsage>;
  payoff: Record<string, number>;
  totalActors: number;
  prices: Record<string, number>;
  commons?: CommonsStats;
  /** Each agent's holdings per resource at the end of the epoch, by name; adds `agents` to the stats. */
  balances?: Record<string, Record<string, number>>;
  /** This epoch's extraction grants, for each agent's harvest. */
  grants?: ReadonlyArray<{ actor: string; resource: string; requested: number; granted: number }>;
}

/** The per-epoch figures the runner stores and prints. */
export function epochStats(input: EpochStatsInput): EpochStats {
  const proposals = { sent: 0, applied: 0, rejected: 0, conflicts: 0, malformed: 0, rejected_by_code: {} as Record<string, number> };
  const moves = { pass: 0, transfer: 0, offer: 0, invalid: 0 };
  let agreed = 0;
  const rounds: number[] = [];
  for (const o of input.outcomes) {
    moves[o.move] += 1;
    if (o.move === 'offer' && o.agreed) agreed += 1;
    if (o.rounds !== undefined && o.agreed) rounds.push(o.rounds);
    if (!o.result) continue;
    proposals.sent += 1;
    if (o.result === 'applied') proposals.applied += 1;
    else if (o.result === 'conflict') proposals.conflicts += 1;
    else if (o.result === 'malformed') proposals.malformed += 1;
    else {
      proposals.rejected += 1;
      const code = o.errorCode ?? 'UNKNOWN';
      proposals.rejected_by_code[code] = (proposals.rejected_by_code[code] ?? 0) + 1;
    }
  }
  const names = [...new Set(input.settlement.deficits.map((d) => d.actor))].sort();
  const byAgent = Object.fromEntries(Object.entries(input.usage).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const total = Object.values(byAgent).reduce((sum, u) => addUsage(sum, u), emptyUsage());
  return {
    epoch: input.epoch,
    proposals,
    moves,
    negotiation: {
      sessions: moves.offer,
      agreed,
      success_rate: moves.offer === 0 ? 0 : Math.round((agreed / moves.offer) * 10_000) / 10_000,
    },
    supply: input.supply,
    gini: Object.fromEntries(Object.entries(input.holdings).map(([resource, values]) => [resource, gini(values)])),
    deficit: { actors: names.length, names, unmet: input.settlement.unmet },
    production: input.settlement.production,
    consumed: input.settlement.consumed,
    llm: { ...total, by_agent: byAgent },
    actor_survival: survivalOf(input.settlement.failed ?? [], input.totalActors),
    need_met: ratio(sum(input.settlement.consumed), sum(input.settlement.need)),
    payoff: input.payoff,
    payoff_equality: equalityOf(input.payoff),
    rounds_to_deal: rounds.length ? Math.round((rounds.reduce((a, b) => a + b, 0) / rounds.length) * 100) / 100 : null,
    prices: input.prices,
    ...(input.commons ? { commons: input.commons } : {}),
    ...(input.balances ? { agents: agentStats(input, input.balances) } : {}),
  };
}

function agentStats(input: EpochStatsInput, balances: Record<string, Record<string, number>>): Record<string, AgentEpochStats> {
  const failed = new Set(input.settlement.failed ?? []);
  const agents: Record<string, AgentEpochStats> = {};
  const of = (name: string) =>
    (agents[name] ??= {
      balances: balances[name] ?? {},
      payoff: input.payoff[name] ?? 0,
      unmet: {},
      failed: failed.has(name),
      moves: { pass: 0, transfer: 0, offer: 0, invalid: 0 },
      proposals: { sent: 0, applied: 0, rejected: 0 },
      llm: { ...emptyUsage(), ...input.usage[name] },
    });
  for (const name of Object.keys(balances).sort()) of(name);
  for (const d of input.settlement.deficits) {
    const unmet = of(d.actor).unmet;
    unmet[d.resource] = Math.round(((unmet[d.resource] ?? 0) + d.unmet) * 1e6) / 1e6;
  }
  if (input.commons) {
    for (const name of Object.keys(agents)) agents[name]!.harvest = {};
    for (const g of input.grants ?? []) {
      const harvest = (of(g.actor).harvest ??= {});
      const h = (harvest[g.resource] ??= { requested: 0, granted: 0 });
      h.requested = round6(h.requested + g.requested);
      h.granted = round6(h.granted + g.granted);
    }
  }
  for (const o of input.outcomes) {
    const a = of(o.agent);
    a.moves[o.move] += 1;
    if (!o.result) continue;
    a.proposals.sent += 1;
    if (o.result === 'applied') a.proposals.applied += 1;
    else if (o.result === 'rejected') a.proposals.rejected += 1;
  }
  return agents;
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
const round6 = (v: number) => Math.round(v * 1e6) / 1e6;
const ratio = (a: number, b: number) => (b === 0 ? 1 : Math.round((a / b) * 10_000) / 10_000);
const survivalOf = (failed: string[], total: number) => ({
  alive: total - failed.length,
  total,
  rate: ratio(total - failed.length, total),
  failed,
});
