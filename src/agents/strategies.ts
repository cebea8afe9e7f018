import type { AgentConfig } from '../agent-config.ts';
import { createGeminiStrategy } from './gemini.ts';
import { createHeuristicStrategy } from './heuristic.ts';
import { createOpenAIStrategy } from './openai.ts';
import { strategyTable, type StrategyName } from '../domain/strategies.ts';
import type { Strategy } from './types.ts';

export class StrategyUnavailableError extends Error {}

/** The strategies the given names need, each built once; an unconfigured model is an error naming what to set. */
export function createStrategies(names: Iterable<StrategyName>, config: AgentConfig): Map<StrategyName, Strategy> {
  const strategies = new Map<StrategyName, Strategy>();
  const unavailable = (name: StrategyName) => new StrategyUnavailableError(`the ${name} strategy needs ${strategyTable[name].needs}`);
  for (const name of new Set(names)) {
    switch (name) {
      case 'heuristic':
        strategies.set(name, createHeuristicStrategy());
        break;
      case 'gemini':
        if (!config.gemini) throw unavailable(name);
        strategies.set(name, createGeminiStrategy(config.gemini));
        break;
      case 'openai-compatible':
        if (!config.openai) throw unavailable(name);
        strategies.set(name, createOpenAIStrategy(config.openai));
        break;
      default:
        throw new StrategyUnavailableError(`no strategy ${String(name satisfies never)}`);
    }
  }
  return strategies;
}
