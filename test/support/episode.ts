import type { Character } from '../../src/agents/types.ts';
import { collectEpisode } from '../../src/experiments/export.ts';
import { episodeScenario } from '../../src/experiments/spec.ts';
import type { EpisodeData, EpisodeMeta } from '../../src/experiments/types.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';
import { withCharacter } from './economy.ts';
import { simulate } from './simulation.ts';
import { startValidator, type TestValidator } from './validator.ts';

export interface TestEpisode {
  meta: EpisodeMeta;
  data: EpisodeData;
  t: TestDatabase;
  v: TestValidator;
  close(): Promise<void>;
}

/**
 * One experiment episode as the experiment runner makes it: a database of its own (cloned from
 * the migrated template), a validator on it and a short heuristic run of a shipped scenario with
 * every actor of one character; then collected. The database stays until close().
 */
export async function runEpisode(options: {
  experimentId: string;
  scenario: string;
  character: Character;
  /** A mixed population (`heuristic:greedy*1+heuristic:cooperative`) instead of one character. */
  population?: string;
  seed: string;
  epochs: number;
}): Promise<TestEpisode> {
  const t = await createTestDatabase();
  const v = await startValidator(t.db);
  try {
    const started = new Date().toISOString();
    const scenario = await withCharacter(options.scenario, options.character);
    const strategy = options.population ?? `heuristic:${options.character}`;
    const run = await simulate(v.url, options.population ? episodeScenario(scenario, options.population).scenario : scenario, {
      epochs: options.epochs,
      seed: options.seed,
    });
    const meta: EpisodeMeta = {
      experiment_id: options.experimentId,
      episode_id: `${options.scenario}/${strategy}/${options.seed}`,
      scenario: options.scenario,
      strategy,
      seed: options.seed,
      epochs: options.epochs,
      run_id: run.runId,
      database: t.name,
      status: 'finished',
      cost_usd: 0,
      started_at: started,
      finished_at: new Date().toISOString(),
    };
    const data = await collectEpisode(t.db, meta);
    return {
      meta,
      data,
      t,
      v,
      async close() {
        await v.close();
        await t.drop();
      },
    };
  } catch (error) {
    await v.close();
    await t.drop();
    throw error;
  }
}
