import type { Character } from '../../src/agents/types.ts';
import { collectEpisode } from '../../src/experiments/export.ts';
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
  seed: string;
  epochs: number;
}): Promise<TestEpisode> {
  const t = await createTestDatabase();
  const v = await startValidator(t.db);
  try {
    const started = new Date().toISOString();
    const run = await simulate(v.url, await withCharacter(options.scenario, options.character), {
      epochs: options.epochs,
      seed: options.seed,
    });
    const meta: EpisodeMeta = {
      experiment_id: options.experimentId,
      episode_id: `${options.scenario}/heuristic:${options.character}/${options.seed}`,
      scenario: options.scenario,
      strategy: `heuristic:${options.character}`,
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
