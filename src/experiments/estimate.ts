import { estimateTokens } from '../agents/limits.ts';
import { moveJsonSchema, SYSTEM_INSTRUCTION } from '../agents/prompts.ts';
import type { Scenario } from '../domain/scenario.ts';
import type { ModelSpec } from './models.ts';
import { episodeScenario, type ExperimentSpec } from './spec.ts';

/** What `gridgov experiment --dry-run` expects an experiment to ask of its models. */
export interface Estimate {
  episodes: number;
  /** Model calls: without any negotiation (every turn a pass or a transfer), and with every offer negotiated to the last round. */
  calls: { low: number; high: number };
  tokens: { low: number; high: number };
  usd: { low: number; high: number };
  /** Model strategies without a price: their dollars are counted as 0. */
  unpriced: string[];
}

/**
 * Calls per agent (every actor of the scenario is one) driven by a model, per epoch: one per turn, one extraction when the scenario
 * has a commons, a reflection every `reflect_every` epochs; and, at most, `max_rounds` replies
 * from the counterparty for every turn. Tokens per call: the system instruction, the scenario
 * (a stand-in for the agent's view, which holds every actor's balances) and the schema at four
 * characters a token, times 1.5 for the answer (the estimate the budget and the limits use); a
 * third of them are priced as output.
 */
export function estimateExperiment(spec: ExperimentSpec): Estimate {
  const total = { calls: { low: 0, high: 0 }, tokens: { low: 0, high: 0 }, usd: { low: 0, high: 0 } };
  const unpriced = new Set<string>();
  let episodes = 0;
  for (const base of spec.scenarios)
    for (const strategy of spec.strategies) {
      episodes += spec.seeds.length;
      const model: ModelSpec | undefined = spec.models?.[strategy];
      if (!model) continue;
      if (model.price_input_per_mtok === null || model.price_output_per_mtok === null) unpriced.add(strategy);
      const { scenario } = episodeScenario(base, strategy);
      const perCall = callTokens(scenario);
      const n = scenario.negotiation;
      const agents = scenario.actors.length;
      const own = n.turns_per_agent + (scenario.commons ? 1 : 0) + (n.reflect_every > 0 ? 1 / n.reflect_every : 0);
      const episodesEpochs = spec.seeds.length * spec.epochs;
      const low = Math.ceil(agents * own * episodesEpochs);
      const high = Math.ceil(agents * (own + n.turns_per_agent * n.max_rounds) * episodesEpochs);
      const usdPerCall =
        (perCall * ((2 / 3) * (model.price_input_per_mtok ?? 0) + (1 / 3) * (model.price_output_per_mtok ?? 0))) / 1_000_000;
      total.calls.low += low;
      total.calls.high += high;
      total.tokens.low += low * perCall;
      total.tokens.high += high * perCall;
      total.usd.low += low * usdPerCall;
      total.usd.high += high * usdPerCall;
    }
  return { episodes, ...total, unpriced: [...unpriced] };
}

const callTokens = (scenario: Scenario) =>
  estimateTokens({ system: SYSTEM_INSTRUCTION, prompt: JSON.stringify(scenario), schema: moveJsonSchema });
