import type { Micro } from '../domain/money.ts';
import type { Move, Offer, Reply, TranscriptEntry } from '../domain/negotiation.ts';
import type { Random } from '../domain/random.ts';
import type { TokenUsage } from '../domain/stats.ts';
import type { Stock } from '../domain/commons.ts';
import type { StrategyName } from '../domain/strategies.ts';
import type { AgentMemory } from './memory.ts';

export const Character = { cooperative: 'cooperative', greedy: 'greedy', naive: 'naive' } as const;
export type Character = (typeof Character)[keyof typeof Character];

export { StrategyName } from '../domain/strategies.ts';

/** An agent as the runner knows it: its identity and its own economy (others' stay private). */
export interface AgentProfile {
  id: string;
  name: string;
  strategy: StrategyName;
  /** How a heuristic agent behaves (cooperative when unset). */
  character?: Character;
  production: ReadonlyMap<string, Micro>;
  consumption: ReadonlyMap<string, Micro>;
}

/** One renewable stock as agents see it. */
export interface CommonsStock extends Stock {
  stock: Micro;
  /** The most all agents together can take this epoch and have the stock regrow back to where it is. */
  sustainableHarvest: Micro;
  /** The stock `stale_epochs` ago: what a naive agent believes. */
  staleStock: Micro;
}

export interface ResourceLimits {
  maxTransfer: Micro | null;
  minBalance: Micro;
}

/**
 * What every agent sees at the start of an epoch's negotiations: the WorldState snapshot taken
 * after settlement (public balances, limits) and the scenario's negotiation settings.
 */
export interface MarketView {
  epoch: number;
  ledgerHead: number;
  resources: readonly string[];
  limits: ReadonlyMap<string, ResourceLimits>;
  /** Non-world actors by name, with their balances. */
  holdings: ReadonlyMap<string, ReadonlyMap<string, Micro>>;
  ids: ReadonlyMap<string, string>;
  prices: ReadonlyMap<string, Micro>;
  horizon: number;
  maxRounds: number;
  /** The run's last epoch, when it has one: "turn N of M". */
  lastEpoch?: number;
  /** The commons by resource, when the scenario has one. */
  commons?: ReadonlyMap<string, CommonsStock>;
  /** The scenario's own reference prices, before deals moved them. */
  initialPrices?: ReadonlyMap<string, Micro>;
  /** How many agents still trade (failed ones have left). */
  living?: number;
}

/** One agent's turn: who it is, what it sees, and a random source seeded by (seed, epoch, agent, turn). */
export interface TurnContext {
  self: AgentProfile;
  view: MarketView;
  turn: number;
  random: Random;
  /** What the agent remembers of earlier epochs. */
  memory?: AgentMemory;
}

/** A strategy's answer: the decision, or undefined when the answer was invalid or late. */
export interface Decided<T> {
  value: T | undefined;
  usage: TokenUsage;
  error?: string;
}

export interface Strategy {
  readonly name: StrategyName;
  /** The agent's opening move on its turn. */
  propose(ctx: TurnContext): Promise<Decided<Move>>;
  /** The model behind the strategy, for the proposal's metadata. */
  readonly model?: string;
  /** The host its model is called on, for the line that pauses a run whose calls all fail. */
  readonly host?: string;
  /** The answer to the terms on the table; `history` holds every offer so far, the latest last. */
  respond(ctx: TurnContext, history: readonly Offer[], transcript: readonly TranscriptEntry[], lastRound: boolean): Promise<Decided<Reply>>;
  /** How much of each commons resource to extract this epoch. */
  extract(ctx: TurnContext): Promise<Decided<Map<string, Micro>>>;
  /** A short note to itself on what it has learned, every few epochs (language models only). */
  reflect?(ctx: TurnContext): Promise<Decided<string>>;
}
