import type { Logger } from 'pino';
import { CacheMissError } from '../agents/cache.ts';
import { createStrategies, StrategyUnavailableError, type StrategyCache } from '../agents/strategies.ts';
import { ConfigError, type Config } from '../config.ts';
import { runSimulation, runStrategyLabel, type RecordedStats } from '../runner/runner.ts';
import { agentProfiles } from '../runner/view.ts';
import type { EpisodeDatabase, EpisodeServer } from './databases.ts';
import { reassignRun, replayRun } from './replay.ts';
import { episodeScenario, type EpisodeSpec, type ExperimentSpec } from './spec.ts';
import { openEpisodeWorld } from './world.ts';
import { agentsForModel, splitStrategy } from './models.ts';
import { runIdFor } from '../runs/registry.ts';

export interface EpisodeResult {
  run_id: string;
  last_epoch: number;
  /** Dollars paid to providers: the answers' cost less what the cache saved. */
  cost_usd: number;
}

const spent = (cost: number, saved: number) => Math.max(0, Math.round((cost - saved) * 1e9) / 1e9);

/**
 * Runs one episode in its (fresh) database: the scenario under the episode's strategy and seed,
 * for the experiment's epochs; a fork first replays the stored run up to the fork's epoch and
 * continues from that world. The runner is the ordinary one, driving the episode's own validator.
 */
export async function runEpisode(input: {
  server: EpisodeServer;
  database: EpisodeDatabase;
  config: Readonly<Config>;
  logger: Logger;
  spec: ExperimentSpec;
  episode: EpisodeSpec;
  signal: AbortSignal;
  /** The response cache the model strategies ask first. */
  cache?: StrategyCache;
  onRun?: (runId: string) => void;
  /** After each epoch, with the dollars paid so far (answers from the cache cost nothing). */
  onEpoch?: (stats: RecordedStats, spentUsd: number) => void;
}): Promise<EpisodeResult> {
  const { spec, episode } = input;
  const logger = input.logger; // the worker's logger already names the episode
  const base = spec.fork?.run.scenario ?? spec.scenarios.find((s) => s.name === episode.scenario);
  if (!base) throw new Error(`the experiment has no scenario "${episode.scenario}"`);
  const { scenario, override } = episodeScenario(base, episode.strategy);
  let strategies;
  try {
    const names = ['heuristic' as const, ...agentProfiles(scenario, override).map((a) => a.strategy)];
    strategies = createStrategies(names, agentsForModel(input.config.agents, spec.models?.[episode.strategy]), input.cache);
  } catch (error) {
    if (error instanceof StrategyUnavailableError) throw new ConfigError(error.message);
    throw error;
  }
  const world = await openEpisodeWorld(input.server, input.database, input.config, logger, input.signal);
  try {
    let from = 0;
    if (spec.fork) {
      const forked = { ...spec.fork.run, epochs: spec.fork.run.epochs.slice(0, spec.fork.epoch) };
      await replayRun(world.client, forked);
      await reassignRun(world.owner, forked.run_id, { scenario, seed: episode.seed, strategy: runStrategyLabel(scenario, override) });
      from = spec.fork.epoch;
    }
    let cost = 0;
    let saved = 0;
    const result = await runSimulation({
      client: world.client,
      scenario,
      seed: episode.seed,
      ...(override ? { strategy: override } : {}),
      strategies,
      // Two models of one provider are two runs: the model a strategy names is part of the run's id.
      ...(spec.fork
        ? { runId: spec.fork.run.run_id }
        : splitStrategy(episode.strategy).rest !== undefined && override
          ? { runId: runIdFor(scenario, episode.seed, episode.strategy) }
          : {}),
      epochs: from + spec.epochs,
      signal: input.signal,
      logger,
      ...(input.onRun ? { onRun: input.onRun } : {}),
      onEpoch: (stats) => {
        cost = stats.carry.cost_usd;
        saved += stats.llm.saved_usd ?? 0;
        input.onEpoch?.(stats, spent(cost, saved));
      },
    }).catch((error: unknown) => {
      // Every episode of a read-only rerun needs its answers: a miss stops the experiment, naming the call.
      if (error instanceof CacheMissError) throw new ConfigError(error.message);
      throw error;
    });
    if (input.signal.aborted) throw input.signal.reason ?? new Error('the episode was stopped');
    await world.client.expectOk('POST', `/runs/${result.runId}/end`, { status: 'finished' });
    return { run_id: result.runId, last_epoch: result.lastEpoch, cost_usd: spent(cost, saved) };
  } finally {
    await world.close();
  }
}
