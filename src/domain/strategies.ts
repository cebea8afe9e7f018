/**
 * The agent strategies, in one table: the scenario schema, the `--strategy` flags and their usage
 * lines, the experiment specs and the strategy factory (`agents/strategies.ts`, a switch that
 * does not compile until it builds every name) all derive from it. `needs` is what a strategy
 * requires before it can run, as the error that refuses it says; `settings`, what to check when
 * its model cannot be reached.
 */
export const strategyTable = {
  heuristic: { summary: 'offline, seeded, needs-driven', needs: undefined, settings: undefined },
  gemini: { summary: "Google's Gemini through its official SDK", needs: 'GEMINI_API_KEY', settings: 'GEMINI_API_KEY and GEMINI_BASE_URL' },
  'openai-compatible': {
    summary: 'any OpenAI-compatible endpoint (Ollama, vLLM, …)',
    needs: 'OPENAI_MODEL (and OPENAI_BASE_URL, OPENAI_API_KEY as the endpoint needs)',
    settings: 'OPENAI_BASE_URL, OPENAI_API_KEY and OPENAI_MODEL',
  },
} as const;

export type StrategyName = keyof typeof strategyTable;

export const strategyNames = Object.keys(strategyTable) as [StrategyName, ...StrategyName[]];

/** Every name as a const object (`StrategyName.gemini`), derived from the table. */
export const StrategyName = Object.fromEntries(strategyNames.map((name) => [name, name])) as { readonly [K in StrategyName]: K };

export const isStrategyName = (value: string): value is StrategyName => Object.hasOwn(strategyTable, value);
