/**
 * The agents' language-model settings, from the environment: a part of the one config
 * (`config.ts` calls loadAgentConfig), kept beside it so that config depends on no room above it;
 * the strategies in `agents/` read these types.
 */

/** The response cache's modes (`--llm-cache`, GRIDGOV_LLM_CACHE; src/agents/cache.ts). */
export const LlmCacheMode = { readWrite: 'read-write', readOnly: 'read-only', off: 'off' } as const;
export type LlmCacheMode = (typeof LlmCacheMode)[keyof typeof LlmCacheMode];
export const LLM_CACHE_MODES: readonly LlmCacheMode[] = Object.values(LlmCacheMode);

/** A provider's limits, shared through the database by every process that calls it (src/agents/limits.ts). */
export interface ProviderLimits {
  maxConcurrent?: number;
  requestsPerMinute?: number;
  tokensPerMinute?: number;
}

export interface LlmSettings {
  temperature: number;
  /** Per call; a late answer costs the agent its turn and is not retried. */
  timeoutMs: number;
  /** Further attempts after a rate limit, a server error or a lost connection. */
  retries: number;
  retryBaseMs: number;
  /** Shared through the database with every process that calls this provider (src/agents/limits.ts). */
  limits?: ProviderLimits;
  /** Further attempts after a 429, counted apart from `retries`: a rate limit is waited out, honouring Retry-After. */
  rateLimitRetries?: number;
  /** What the model costs, in dollars per million tokens of prompt and of answer. */
  priceInputPerMtok?: number;
  priceOutputPerMtok?: number;
}

export interface GeminiSettings extends LlmSettings {
  apiKey: string;
  model: string;
  /** Any server speaking the Gemini API's generateContent (a proxy, a local stand-in). */
  baseUrl?: string;
}

export interface OpenAISettings extends LlmSettings {
  /** e.g. https://api.openai.com/v1, http://127.0.0.1:11434/v1 (Ollama), a vLLM server's /v1. */
  baseUrl: string;
  apiKey?: string;
  model: string;
}

export interface AgentConfig {
  /** Set when GEMINI_API_KEY is. */
  gemini: GeminiSettings | undefined;
  /** Set when OPENAI_MODEL is. */
  openai: OpenAISettings | undefined;
  /** The OpenAI-compatible endpoint and settings, model aside: for strategies that name their model (`openai-compatible:MODEL`). */
  openaiEndpoint: Omit<OpenAISettings, 'model'>;
  /** The response cache's mode (`--llm-cache`, GRIDGOV_LLM_CACHE): read-write unless set. */
  cache: LlmCacheMode;
}

type Env = Record<string, string | undefined>;

const value = (env: Env, name: string) => {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
};

/**
 * Dollars per million tokens (prompt, answer) when no price is set: the default Gemini model's list
 * price. An OpenAI-compatible model has no default: unpriced, it is counted at $0 with a warning.
 */
const DEFAULT_PRICES: Record<string, [number, number]> = { GEMINI: [0.3, 2.5] };

const optional = <K extends string>(key: K, v: number | undefined) => (v === undefined ? {} : ({ [key]: v } as Record<K, number>));

function llmSettings(env: Env, prefix: string, fail: (message: string) => never): LlmSettings {
  function number(name: string, fallback: number, min: number, max: number, integer: boolean): number;
  function number(name: string, fallback: number | undefined, min: number, max: number, integer: boolean): number | undefined;
  function number(name: string, fallback: number | undefined, min: number, max: number, integer: boolean) {
    const raw = value(env, `${prefix}_${name}`);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      fail(`${prefix}_${name} must be ${integer ? 'an integer' : 'a number'} between ${min} and ${max}, got "${raw}"`);
    }
    return n;
  }
  return {
    temperature: number('TEMPERATURE', 0.2, 0, 2, false),
    timeoutMs: number('TIMEOUT_MS', 20_000, 100, 600_000, true),
    retries: number('RETRIES', 2, 0, 10, true),
    retryBaseMs: number('RETRY_BASE_MS', 500, 1, 60_000, true),
    rateLimitRetries: number('RATE_LIMIT_RETRIES', 20, 0, 1000, true),
    limits: {
      ...optional('maxConcurrent', number('MAX_CONCURRENT', undefined, 1, 10_000, true)),
      ...optional('requestsPerMinute', number('REQUESTS_PER_MINUTE', undefined, 1, 10_000_000, true)),
      ...optional('tokensPerMinute', number('TOKENS_PER_MINUTE', undefined, 1, 10_000_000_000, true)),
    },
    ...optional('priceInputPerMtok', number('PRICE_INPUT_PER_MTOK', DEFAULT_PRICES[prefix]?.[0], 0, 10_000, false)),
    ...optional('priceOutputPerMtok', number('PRICE_OUTPUT_PER_MTOK', DEFAULT_PRICES[prefix]?.[1], 0, 10_000, false)),
  };
}

function url(env: Env, name: string, fail: (message: string) => never): string | undefined {
  const raw = value(env, name);
  if (raw !== undefined && !/^https?:\/\/[^\s]+$/.test(raw)) fail(`${name} must be an http(s) URL`);
  return raw;
}

/** The language-model settings of the agent strategies, from the environment. */
export function loadAgentConfig(env: Env, fail: (message: string) => never): AgentConfig {
  const geminiKey = value(env, 'GEMINI_API_KEY');
  const geminiBase = url(env, 'GEMINI_BASE_URL', fail);
  const openaiModel = value(env, 'OPENAI_MODEL');
  const openaiBase = url(env, 'OPENAI_BASE_URL', fail);
  const openaiEndpoint = {
    baseUrl: openaiBase ?? 'https://api.openai.com/v1',
    apiKey: value(env, 'OPENAI_API_KEY'),
    ...llmSettings(env, 'OPENAI', fail),
  };
  const cache = value(env, 'GRIDGOV_LLM_CACHE') ?? 'read-write';
  if (!LLM_CACHE_MODES.includes(cache as LlmCacheMode))
    fail(`--llm-cache / GRIDGOV_LLM_CACHE must be one of ${LLM_CACHE_MODES.join(', ')}, got "${cache}"`);
  return {
    cache: cache as LlmCacheMode,
    gemini: geminiKey
      ? {
          apiKey: geminiKey,
          model: value(env, 'GEMINI_MODEL') ?? 'gemini-2.5-flash',
          ...(geminiBase ? { baseUrl: geminiBase } : {}),
          ...llmSettings(env, 'GEMINI', fail),
        }
      : undefined,
    openai: openaiModel ? { ...openaiEndpoint, model: openaiModel } : undefined,
    openaiEndpoint,
  };
}
