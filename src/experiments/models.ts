import type { AgentConfig } from '../agent-config.ts';
import { GEMINI_DEFAULT_BASE_URL } from '../agents/strategies.ts';
import type { StrategyName } from '../agents/types.ts';
import { parsePopulation, SpecError } from './spec.ts';

/**
 * The model behind an episode's strategy, as the experiment records it: part of the experiment's
 * identity (another model is another experiment) and of every exported row. A worker that joins
 * from another machine runs this model with these settings, whatever its own environment names;
 * only the API key comes from the worker's environment.
 */
export interface ModelSpec {
  provider: 'gemini' | 'openai-compatible';
  base_url: string;
  model: string;
  temperature: number;
  /** Dollars per million tokens; null when no price is configured (counted as $0, with a warning). */
  price_input_per_mtok: number | null;
  price_output_per_mtok: number | null;
}

/** `openai-compatible:llama3.1:8b` → the strategy and the model it names (model names may hold colons). */
export function splitStrategy(strategy: string): { name: string; rest: string | undefined } {
  const colon = strategy.indexOf(':');
  return colon < 0 ? { name: strategy, rest: undefined } : { name: strategy.slice(0, colon), rest: strategy.slice(colon + 1) };
}

const isModelStrategy = (name: string): name is ModelSpec['provider'] => name === 'gemini' || name === 'openai-compatible';

/** The model of each model strategy of the experiment, from the configuration and the model a strategy names. */
export function resolveModels(strategies: readonly string[], agents: AgentConfig): Record<string, ModelSpec> {
  const models: Record<string, ModelSpec> = {};
  for (const strategy of strategies) {
    // A mix holds at most one model strategy (parsePopulation): the episode records its model.
    const part = parsePopulation(strategy).find((p) => isModelStrategy(p.name));
    if (!part) continue;
    const { name, model: rest } = part as { name: ModelSpec['provider']; model?: string };
    const settings = name === 'gemini' ? agents.gemini : (agents.openai ?? agents.openaiEndpoint);
    if (!settings) throw new SpecError(`--strategies: ${strategy} needs GEMINI_API_KEY`);
    const model = rest ?? (name === 'gemini' ? agents.gemini?.model : agents.openai?.model);
    if (!model) throw new SpecError(`--strategies: ${strategy} names no model; set OPENAI_MODEL or write openai-compatible:MODEL`);
    models[strategy] = {
      provider: name,
      base_url: settings.baseUrl ?? GEMINI_DEFAULT_BASE_URL,
      model,
      temperature: settings.temperature,
      price_input_per_mtok: settings.priceInputPerMtok ?? null,
      price_output_per_mtok: settings.priceOutputPerMtok ?? null,
    };
  }
  return models;
}

/** One warning per model without a price: its calls count as $0 and no budget can stop them. */
export function unpricedWarnings(models: Record<string, ModelSpec>): string[] {
  return Object.entries(models)
    .filter(([, m]) => m.price_input_per_mtok === null || m.price_output_per_mtok === null)
    .map(
      ([strategy, m]) =>
        `warning: ${strategy} (${m.provider} model ${m.model}) has no price: its tokens count as $0 and --max-cost cannot stop it; ` +
        `set ${m.provider === 'gemini' ? 'GEMINI' : 'OPENAI'}_PRICE_INPUT_PER_MTOK and _PRICE_OUTPUT_PER_MTOK`,
    );
}

/** The agents' configuration an episode runs with: the recorded model and settings, the local keys. */
export function agentsForModel(agents: AgentConfig, model: ModelSpec | undefined): AgentConfig {
  if (!model) return agents;
  const settings = {
    model: model.model,
    baseUrl: model.base_url,
    temperature: model.temperature,
    ...(model.price_input_per_mtok !== null ? { priceInputPerMtok: model.price_input_per_mtok } : {}),
    ...(model.price_output_per_mtok !== null ? { priceOutputPerMtok: model.price_output_per_mtok } : {}),
  };
  if (model.provider === 'openai-compatible') return { ...agents, openai: { ...(agents.openai ?? agents.openaiEndpoint), ...settings } };
  if (!agents.gemini) return agents; // createStrategies names the missing key
  const { priceInputPerMtok: _in, priceOutputPerMtok: _out, ...gemini } = agents.gemini;
  return { ...agents, gemini: { ...gemini, ...settings } };
}

/** The strategy every agent of the episode is given: `openai-compatible:MODEL` is `openai-compatible`. */
export function strategyOverride(strategy: string): StrategyName {
  return splitStrategy(strategy).name as StrategyName;
}
