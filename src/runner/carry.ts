import { INVALID_ANSWER } from '../agents/llm.ts';
import { emptyMemory, remember, type AgentMemory, type EpochExperience } from '../agents/memory.ts';
import { collapsed, stocksOf, sustainableHarvest } from '../domain/commons.ts';
import type { SettlementSummary } from '../domain/economy.ts';
import { microToNumber } from '../domain/money.ts';
import { movePrices, type Deal } from '../domain/prices.ts';
import { toMicro, type Scenario } from '../domain/scenario.ts';
import type { CommonsStats, SlotOutcome } from '../domain/stats.ts';
import type { EpochPlan, PlannedSlot } from './plan.ts';

/**
 * What the runner hands from one epoch to the next, beside the ledger: reference prices as deals
 * moved them, each agent's memory, the commons' recent stocks (a naive agent's view) and the money
 * spent on models. It is stored with every epoch's stats, so a resumed run picks it up as it was.
 */
export interface Carry {
  prices: Record<string, number>;
  memory: Record<string, AgentMemory>;
  stocks: Array<Record<string, number>>;
  cost_usd: number;
}

const STOCK_HISTORY = 20;
const UUID_G = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

export function initialCarry(scenario: Scenario): Carry {
  const prices = Object.fromEntries(
    scenario.resources.map((r) => [r.name, microToNumber(toMicro(scenario.negotiation.prices[r.name] ?? 1))]),
  );
  return { prices, memory: {}, stocks: [], cost_usd: 0 };
}

/** A carry read back from stored stats, or undefined when it is not one. */
export function carryFrom(stats: unknown): Carry | undefined {
  const c = (stats as { carry?: Carry } | null)?.carry;
  return c && typeof c === 'object' && c.prices && c.memory && Array.isArray(c.stocks) ? c : undefined;
}

/** Actor ids in a validator message, as names: people and models read names. */
export function withNames(text: string, names: ReadonlyMap<string, string>): string {
  return text.replace(UUID_G, (id) => names.get(id.toLowerCase()) ?? id);
}

export interface SlotResult {
  slot: PlannedSlot;
  outcome: SlotOutcome;
  message?: string;
}

const q = (leg: { resource: string; amount: string } | undefined) =>
  leg ? { resource: leg.resource, amount: Number(leg.amount) } : undefined;

/** The next carry: prices moved by the applied swaps, and what each agent saw this epoch remembered. */
export function nextCarry(input: {
  carry: Carry;
  scenario: Scenario;
  epoch: number;
  plan: EpochPlan;
  results: readonly SlotResult[];
  settlement: SettlementSummary;
  names: ReadonlyMap<string, string>;
}): Carry {
  const { carry, epoch, plan } = input;
  const seen = new Map<string, EpochExperience>();
  const of = (agent: string) =>
    seen.get(agent) ?? seen.set(agent, { epoch, rejections: [], deals: [], deficits: [], extraction: [] }).get(agent)!;
  const deals: Deal[] = [];
  for (const { slot, outcome, message } of input.results) {
    const legs = slot.proposal?.legs;
    if (!legs) continue;
    const give = q(legs[0]);
    const get = q(legs[1]);
    if (outcome.result === 'rejected') {
      of(slot.agent).rejections.push({
        epoch,
        code: outcome.errorCode ?? 'UNKNOWN',
        reason: withNames(message ?? '', input.names),
        ...(slot.counterparty ? { counterparty: slot.counterparty } : {}),
        ...(give ? { give } : {}),
        ...(get ? { get } : {}),
      });
    } else if (outcome.result === 'applied' && give && get && slot.counterparty) {
      deals.push({ give, get });
      const rounds = outcome.rounds ?? 0;
      of(slot.agent).deals.push({ epoch, counterparty: slot.counterparty, gave: give, got: get, rounds });
      of(slot.counterparty).deals.push({ epoch, counterparty: slot.agent, gave: get, got: give, rounds });
    }
  }
  // An answer the agent gave that could not be used is fed back like a rejection, so it may do better.
  for (const slot of plan.slots)
    if (slot.move === 'invalid' && slot.error?.startsWith(INVALID_ANSWER))
      of(slot.agent).rejections.push({ epoch, code: 'INVALID_ANSWER', reason: `your answer could not be used: ${slot.error}` });
  for (const d of input.settlement.deficits) of(d.actor).deficits.push({ epoch, resource: d.resource, unmet: d.unmet });
  for (const g of plan.extraction?.granted ?? [])
    of(g.actor).extraction.push({ epoch, resource: g.resource, requested: g.requested, granted: g.granted });
  for (const [agent, text] of Object.entries(plan.reflections ?? {})) of(agent).reflection = text;

  const memory: Record<string, AgentMemory> = {};
  const agents = new Set([...Object.keys(carry.memory), ...seen.keys()]);
  for (const agent of [...agents].sort()) {
    const experience = seen.get(agent) ?? { epoch, rejections: [], deals: [], deficits: [], extraction: [] };
    memory[agent] = remember(carry.memory[agent] ?? emptyMemory(), experience);
  }
  return {
    prices: movePrices(carry.prices, initialCarry(input.scenario).prices, deals, input.scenario.economy.price_adjustment),
    memory,
    stocks: input.settlement.stock ? [...carry.stocks, input.settlement.stock].slice(-STOCK_HISTORY) : carry.stocks,
    cost_usd: Math.round((carry.cost_usd + Object.values(plan.usage).reduce((s, u) => s + (u.cost_usd ?? 0), 0)) * 1e9) / 1e9,
  };
}

/**
 * The commons this epoch: the stock planned on, what regrew, the sustainable harvest, what was
 * asked and taken, and how many of the living agents' harvest actions asked more than their
 * sustainable share (docs/economy.md, "Metrics"). A collapsed resource has nothing left to judge.
 */
export function commonsStats(scenario: Scenario, settlement: SettlementSummary, plan: EpochPlan): CommonsStats | undefined {
  if (!scenario.commons || !settlement.stock) return undefined;
  const stock = settlement.stock;
  const granted = plan.extraction?.granted ?? [];
  const down = new Set(settlement.collapsed ?? []);
  const out: CommonsStats = {
    stock,
    regrowth: settlement.regrowth ?? {},
    sustainable_harvest: {},
    requested: {},
    extracted: {},
    over_harvest: {},
    harvest_actions: 0,
    over_usage_actions: 0,
    over_usage_rate: null,
    collapsed: [...down],
    collapsed_after: [],
  };
  const living = Math.max(1, scenario.actors.length - (settlement.failed?.length ?? 0));
  for (const s of stocksOf(scenario.commons)) {
    const now = toMicro(stock[s.resource] ?? 0);
    const mine = granted.filter((g) => g.resource === s.resource);
    const taken = mine.reduce((sum, g) => sum + toMicro(g.granted), 0n);
    out.requested[s.resource] = microToNumber(mine.reduce((sum, g) => sum + toMicro(g.requested), 0n));
    out.extracted[s.resource] = microToNumber(taken);
    if (down.has(s.resource)) {
      out.sustainable_harvest[s.resource] = null;
      out.over_harvest[s.resource] = 0;
      continue;
    }
    const f = sustainableHarvest(now, s);
    out.sustainable_harvest[s.resource] = microToNumber(f);
    out.over_harvest[s.resource] = microToNumber(taken > f ? taken - f : 0n);
    out.harvest_actions += living;
    out.over_usage_actions += mine.filter((g) => toMicro(g.requested) * BigInt(living) > f).length;
    if (collapsed(now - taken, s)) out.collapsed_after.push(s.resource);
  }
  if (out.harvest_actions > 0) out.over_usage_rate = Math.round((out.over_usage_actions / out.harvest_actions) * 10_000) / 10_000;
  return out;
}
