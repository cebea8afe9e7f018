import { pino } from 'pino';
import { createStrategies } from '../../src/agents/strategies.ts';
import type { StrategyName } from '../../src/agents/types.ts';
import type { Scenario } from '../../src/domain/scenario.ts';
import { createValidatorClient } from '../../src/runner/client.ts';
import { runSimulation, type RecordedStats } from '../../src/runner/runner.ts';
import { ADMIN_KEY } from './validator.ts';
import { loadConfig, type Env } from '../../src/config.ts';

/** Runs the real runner in this process against a validator URL and collects every epoch's stats. */
export async function simulate(
  url: string,
  scenario: Scenario,
  options: { epochs: number; strategy?: StrategyName; env?: Env; seed?: string; signal?: AbortSignal },
): Promise<{ runId: string; stats: RecordedStats[]; lines: string[]; pause?: string }> {
  const config = loadConfig({ GRIDGOV_ADMIN_KEY: ADMIN_KEY, ...options.env });
  const names = new Set<StrategyName>([
    options.strategy ?? 'heuristic',
    'heuristic',
    ...scenario.actors.map((a) => a.strategy ?? 'heuristic'),
  ]);
  const stats: RecordedStats[] = [];
  const lines: string[] = [];
  const { runId, pause } = await runSimulation({
    client: createValidatorClient({ baseUrl: url, apiKey: ADMIN_KEY, retryBaseMs: 20 }),
    scenario,
    strategy: options.strategy,
    seed: options.seed,
    strategies: createStrategies(options.strategy ? [options.strategy, 'heuristic'] : names, config.agents),
    epochs: options.epochs,
    signal: options.signal,
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    onEpoch: (s, line) => {
      stats.push(s);
      lines.push(line);
    },
  });
  return { runId, stats, lines, ...(pause ? { pause } : {}) };
}
