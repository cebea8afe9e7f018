import type { AgentConfig, LlmSettings } from '../agent-config.ts';
import type { Db } from '../db/db.ts';
import { strategyTable, type StrategyName } from '../domain/strategies.ts';
import { createDbCacheStore, withCache, type LlmCacheMode, type ModelCacheStore, type ModelIdentity } from './cache.ts';
import { createDbLimitStore, withLimits, type LimitStore } from './limits.ts';
import { withBudget, type BudgetStore } from './budget.ts';
import { createGeminiClient } from './gemini.ts';
import { createHeuristicStrategy } from './heuristic.ts';
import { createLlmStrategy, type ModelClient } from './llm.ts';
import { createOpenAIClient } from './openai.ts';
import type { Strategy } from './types.ts';

export class StrategyUnavailableError extends Error {}

/**
 * The layers in front of a provider, kept in the database: the response cache (src/agents/cache.ts)
 * and the provider limits shared by every process (src/agents/limits.ts). Neither when absent.
 */
export interface StrategyCache {
  store: ModelCacheStore;
  mode: LlmCacheMode;
  limits?: LimitStore;
  /** The experiment's budget, checked before every call the cache cannot answer. */
  budget?: BudgetStore;
}

/** Both layers over one database. */
export const databaseLayers = (db: Db, mode: LlmCacheMode): StrategyCache => ({
  store: createDbCacheStore(db),
  mode,
  limits: createDbLimitStore(db),
});

/** The Gemini API's own address when no GEMINI_BASE_URL is set: part of a cached answer's key. */
export const GEMINI_DEFAULT_BASE_URL = 'https://generativelanguage.googleapis.com';

function llmStrategy(name: StrategyName, client: ModelClient, identity: ModelIdentity, settings: LlmSettings, cache?: StrategyCache) {
  // Cache first: an answer it holds takes no slot and counts against no limit.
  // Then the budget: a call it refuses takes no slot.
  const limited = cache?.limits ? withLimits(client, identity, settings.limits ?? {}, cache.limits, settings.timeoutMs) : client;
  const budgeted = cache?.budget ? withBudget(limited, identity, settings, cache.budget) : limited;
  return createLlmStrategy(name, cache ? withCache(budgeted, identity, cache.store, cache.mode) : budgeted, settings);
}

/** The strategies the given names need, each built once; an unconfigured model is an error naming what to set. */
export function createStrategies(names: Iterable<StrategyName>, config: AgentConfig, cache?: StrategyCache): Map<StrategyName, Strategy> {
  const strategies = new Map<StrategyName, Strategy>();
  const unavailable = (name: StrategyName) => new StrategyUnavailableError(`the ${name} strategy needs ${strategyTable[name].needs}`);
  for (const name of new Set(names)) {
    switch (name) {
      case 'heuristic':
        strategies.set(name, createHeuristicStrategy());
        break;
      case 'gemini': {
        if (!config.gemini) throw unavailable(name);
        const { model, baseUrl } = config.gemini;
        const identity = { provider: name, baseUrl: baseUrl ?? GEMINI_DEFAULT_BASE_URL, model };
        strategies.set(name, llmStrategy(name, createGeminiClient(config.gemini), identity, config.gemini, cache));
        break;
      }
      case 'openai-compatible': {
        if (!config.openai) throw unavailable(name);
        const { model, baseUrl } = config.openai;
        strategies.set(
          name,
          llmStrategy(name, createOpenAIClient(config.openai), { provider: name, baseUrl, model }, config.openai, cache),
        );
        break;
      }
      default:
        throw new StrategyUnavailableError(`no strategy ${String(name satisfies never)}`);
    }
  }
  return strategies;
}
