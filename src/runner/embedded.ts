import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { createStrategies, type StrategyCache } from '../agents/strategies.ts';
import type { StrategyName } from '../agents/types.ts';
import type { AgentConfig } from '../agent-config.ts';
import type { Scenario } from '../domain/scenario.ts';
import { createValidatorClient } from './client.ts';
import { runSimulation } from './runner.ts';
import { markRunEnded } from './end.ts';
import { agentProfiles } from './view.ts';

export interface BackgroundRunnerOptions {
  validatorUrl: string;
  apiKey: string;
  scenario: Scenario;
  strategy: StrategyName;
  agents: AgentConfig;
  /** The response cache the model strategies ask first. */
  cache?: StrategyCache;
  intervalMs: number;
  logger: Logger;
  print: (line: string) => void;
}

/**
 * The runner inside `gridgov start`: the same HTTP client loop as `gridgov runner`, in the
 * background. A failure (the validator unreachable past every retry) is logged and the loop
 * resumes the run a little later; stop() lets the current call finish and ends it.
 */
export function startBackgroundRunner(options: BackgroundRunnerOptions): { stop(): Promise<void> } {
  const stopping = new AbortController();
  const logger = options.logger.child({ component: 'runner' });
  const strategies = createStrategies(
    ['heuristic', ...agentProfiles(options.scenario, options.strategy).map((a) => a.strategy)],
    options.agents,
    options.cache,
  );
  let runId: string | undefined;
  let paused = false;
  const loop = (async () => {
    while (!stopping.signal.aborted) {
      try {
        const result = await runSimulation({
          onRun: (id) => void (runId = id),
          client: createValidatorClient({ baseUrl: options.validatorUrl, apiKey: options.apiKey, logger, signal: stopping.signal }),
          scenario: options.scenario,
          strategy: options.strategy,
          strategies,
          intervalMs: options.intervalMs,
          signal: stopping.signal,
          logger,
          onEpoch: (_stats, line) => options.print(line),
        });
        if (result.pause) {
          // Paused, not ended: the world waits (no epoch settles, nobody starves) until a start
          // with the model fixed resumes the run.
          options.print(result.pause);
          paused = true;
          break;
        }
      } catch (error) {
        if (stopping.signal.aborted) break;
        logger.error({ err: error }, 'the runner stopped on an error; it resumes the run shortly');
        await sleep(Math.max(options.intervalMs, 5_000), undefined, { signal: stopping.signal }).catch(() => undefined);
      }
    }
  })();
  return {
    async stop() {
      stopping.abort();
      await loop;
      if (runId && !paused) await markRunEnded({ baseUrl: options.validatorUrl, apiKey: options.apiKey }, runId, 'stopped');
    },
  };
}
