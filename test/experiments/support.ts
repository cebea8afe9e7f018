import { resolve } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { loadConfig, type Env } from '../../src/config.ts';
import { prepareEpisodeTemplate, type EpisodeServer } from '../../src/experiments/databases.ts';
import type { ExperimentContext } from '../../src/experiments/experiment.ts';
import { readScenarioFile } from '../../src/ledger/writing/seed.ts';
import type { TestDatabase } from '../support/db.ts';

export const scenario = (name: string) => readScenarioFile(resolve('scenarios', `${name}.json`));

export const EXPERIMENT_ENV: Env = {
  GRIDGOV_VALIDATOR_VERSION: 'test',
  GRIDGOV_EXPERIMENT_LEASE_SECONDS: '3',
  GRIDGOV_EXPERIMENT_SWEEP_SECONDS: '1',
  GRIDGOV_LEDGER_GUARD: 'off',
};

/** An experiment context whose record lives in the test's own database, on the test server. */
export async function experimentContext(t: TestDatabase, env: Env = {}): Promise<ExperimentContext> {
  const server: EpisodeServer = { ownerUrl: t.url, appUrl: t.url, ownerSetting: 'DATABASE_URL', poolOptions: {} };
  await prepareEpisodeTemplate(server);
  return {
    control: t.db,
    server,
    config: loadConfig({ DATABASE_URL: t.url, ...EXPERIMENT_ENV, ...env }),
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
  };
}

/** Drops the episode databases an experiment made (every attempt's). */
export async function dropEpisodes(t: TestDatabase, experimentId: string): Promise<void> {
  const client = new pg.Client({ connectionString: t.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ episode_id: string; attempt: number }>(
      'SELECT episode_id::text, attempt FROM experiment_episodes WHERE experiment_id = $1',
      [experimentId],
    );
    for (const row of rows)
      for (let n = 1; n <= row.attempt; n++)
        await client.query(`DROP DATABASE IF EXISTS ep_${row.episode_id.replace(/-/g, '')}_${n} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
