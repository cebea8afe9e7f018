import type { AgentConfig } from './config.ts';
import { createGeminiStrategy } from './gemini.ts';
import { createHeuristicStrategy } from './heuristic.ts';
import { createOpenAIStrategy } from './openai.ts';
import type { Strategy, StrategyName } from './types.ts';

export class StrategyUnavailableError extends Error {}

/** The strategies the given names need, each built once; an unconfigured model is an error naming what to set. */
export function createStrategies(names: Iterable<StrategyName>, config: AgentConfig): Map<StrategyName, Strategy> {
  const strategies = new Map<StrategyName, Strategy>();
  for (const name of new Set(names)) {
    if (name === 'heuristic') strategies.set(name, createHeuristicStrategy());
    else if (name === 'gemini') {
      if (!config.gemini) throw new StrategyUnavailableError('the gemini strategy needs GEMINI_API_KEY');
      strategies.set(name, createGeminiStrategy(config.gemini));
    } else {
      if (!config.openai)
        throw new StrategyUnavailableError(
          'the openai-compatible strategy needs OPENAI_MODEL (and OPENAI_BASE_URL, OPENAI_API_KEY as the endpoint needs)',
        );
      strategies.set(name, createOpenAIStrategy(config.openai));
    }
  }
  return strategies;
}
