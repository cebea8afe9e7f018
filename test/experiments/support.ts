import { resolve } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { loadConfig, type Env } from '../../src/config.ts';
import { prepareEpisodeTemplate, type EpisodeServer } from '../../src/experiments/databases.ts';
import { after, before } from 'node:test';
import { openQueue, type ExperimentContext, type Exporter } from '../../src/experiments/experiment.ts';
import { collectEpisode, writeExports } from '../../src/experiments/export.ts';
import type { ExperimentRow } from '../../src/experiments/registry.ts';
import { workExperiment, type WorkEnd, type WorkOptions } from '../../src/experiments/worker.ts';
import { readScenarioFile } from '../../src/ledger/writing/seed.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.ts';

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

/** The exporter `gridgov experiment` uses, for tests that write the files. */
export const filesExporter: Exporter = { collect: collectEpisode, write: async (...args) => void (await writeExports(...args)) };

/** Works on the experiment in this process until it ends ('done', 'budget' or 'stopped'). */
export async function workToEnd(ctx: ExperimentContext, experiment: ExperimentRow, options: Partial<WorkOptions> = {}): Promise<WorkEnd> {
  const queue = await openQueue(ctx, experiment.id);
  try {
    return await workExperiment({ ...ctx, queue }, experiment, {
      concurrency: 1,
      signal: new AbortController().signal,
      pollMs: 100,
      ...options,
    });
  } finally {
    await queue.stop();
  }
}

/**
 * A test database and a fake OpenAI-compatible server for one test file, closed after it with the
 * episode databases of the experiments the file lists in `experiments`.
 */
export function openAIFixture(): { readonly t: TestDatabase; readonly openai: FakeOpenAI; experiments: string[] } {
  const fixture = { t: undefined as unknown as TestDatabase, openai: undefined as unknown as FakeOpenAI, experiments: [] as string[] };
  before(async () => {
    fixture.t = await createTestDatabase();
    fixture.openai = await startFakeOpenAI();
  });
  after(async () => {
    for (const id of fixture.experiments) await dropEpisodes(fixture.t, id);
    await fixture.openai?.close();
    await fixture.t?.drop();
  });
  return fixture;
}
