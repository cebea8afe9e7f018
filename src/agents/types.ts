import type { Micro } from '../domain/money.ts';
import type { Move, Offer, Reply, TranscriptEntry } from '../domain/negotiation.ts';
import type { Random } from '../domain/random.ts';
import type { TokenUsage } from '../domain/stats.ts';

export const StrategyName = { heuristic: 'heuristic', gemini: 'gemini', openaiCompatible: 'openai-compatible' } as const;
export type StrategyName = (typeof StrategyName)[keyof typeof StrategyName];

/** An agent as the runner knows it: its identity and its own economy (others' stay private). */
export interface AgentProfile {
  id: string;
  name: string;
  strategy: StrategyName;
  production: ReadonlyMap<string, Micro>;
  consumption: ReadonlyMap<string, Micro>;
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
}

/** One agent's turn: who it is, what it sees, and a random source seeded by (seed, epoch, agent, turn). */
export interface TurnContext {
  self: AgentProfile;
  view: MarketView;
  turn: number;
  random: Random;
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
  /** The answer to the terms on the table; `history` holds every offer so far, the latest last. */
  respond(ctx: TurnContext, history: readonly Offer[], transcript: readonly TranscriptEntry[], lastRound: boolean): Promise<Decided<Reply>>;
}
