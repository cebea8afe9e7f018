/**
 * Provider limits shared through PostgreSQL: two workers of one experiment, each with its own
 * pool as on two machines, never have more model calls in flight than the limit (the fake
 * records its peak); a storm of 429s with Retry-After is waited out and every episode finishes
 * without a lost turn.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDbLimitStore } from '../../src/agents/limits.ts';
import { createDb } from '../../src/db/db.ts';
import { databaseUrl } from '../../src/db/embedded.ts';
import { episodePool } from '../../src/experiments/databases.ts';
import { defineExperiment, episodeMeta, openQueue, type ExperimentContext } from '../../src/experiments/experiment.ts';
import { collectEpisode } from '../../src/experiments/export.ts';
import { listEpisodes, type ExperimentRow } from '../../src/experiments/registry.ts';
import { workExperiment } from '../../src/experiments/worker.ts';
import type { Env } from '../../src/config.ts';
import { waitUntil } from '../support/wait.ts';
import { experimentContext, openAIFixture, scenario } from './support.ts';

const fx = openAIFixture();

const env = (more: Env = {}): Env => ({
  OPENAI_MODEL: 'fake-model',
  OPENAI_BASE_URL: fx.openai.baseUrl,
  OPENAI_API_KEY: 'sk-test',
  OPENAI_PRICE_INPUT_PER_MTOK: '1',
  OPENAI_PRICE_OUTPUT_PER_MTOK: '1',
  GRIDGOV_LLM_CACHE: 'off',
  ...more,
});

/** Two workers on one experiment, each with a pool of its own on the record's database. */
async function twoWorkers(ctx: ExperimentContext, experiment: ExperimentRow): Promise<void> {
  const other = createDb(fx.t.url, { max: 4 });
  try {
    const work = async (control: typeof ctx.control) => {
      const queue = await openQueue({ ...ctx, control }, experiment.id);
      try {
        return await workExperiment({ ...ctx, control, queue }, experiment, {
          concurrency: 2,
          signal: new AbortController().signal,
          pollMs: 100,
        });
      } finally {
        await queue.stop();
      }
    };
    assert.deepEqual(await Promise.all([work(ctx.control), work(other)]), ['done', 'done']);
  } finally {
    await other.close();
  }
}

async function define(ctx: ExperimentContext, seeds: string[]): Promise<ExperimentRow> {
  const experiment = await defineExperiment(ctx, 'limits', {
    scenarios: [await scenario('commons')],
    strategies: ['openai-compatible'],
    seeds,
    epochs: 1,
  });
  fx.experiments.push(experiment.id);
  return experiment;
}

async function lostTurns(ctx: ExperimentContext, experiment: ExperimentRow): Promise<number[]> {
  const lost: number[] = [];
  for (const e of await listEpisodes(fx.t.db, experiment.id)) {
    const db = episodePool(databaseUrl(ctx.server.ownerUrl, e.database!), ctx.server, 1);
    try {
      lost.push((await collectEpisode(db, episodeMeta(experiment, e))).runs[0]!.llm_errors as number);
    } finally {
      await db.close();
    }
  }
  return lost;
}

test('two workers sharing a limit of 2 concurrent calls never have more than 2 in flight; without it they do', async () => {
  fx.openai.setResponder(() => ({ text: '{"action":"pass","reasoning":"wait"}', delayMs: 60 }));
  const free = await experimentContext(fx.t, env());
  fx.openai.resetPeak();
  await twoWorkers(free, await define(free, ['1', '2', '3', '4']));
  const unlimited = fx.openai.peakConcurrency();
  assert.ok(unlimited > 2, `without a limit more than 2 calls overlap (peak ${unlimited})`);

  const limited = await experimentContext(fx.t, env({ OPENAI_MAX_CONCURRENT: '2' }));
  const experiment = await define(limited, ['5', '6', '7', '8']);
  const before = fx.openai.requests.length;
  fx.openai.resetPeak();
  await twoWorkers(limited, experiment);
  assert.ok(fx.openai.requests.length > before, 'the model was asked');
  assert.equal(fx.openai.peakConcurrency(), 2, 'the limit was reached and never passed');
  assert.deepEqual(
    (await listEpisodes(fx.t.db, experiment.id)).map((e) => e.status),
    ['finished', 'finished', 'finished', 'finished'],
  );
  assert.deepEqual(await lostTurns(limited, experiment), [0, 0, 0, 0], 'waiting for a slot costs no turn');
  const { rows } = await fx.t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM llm_limit_slots');
  assert.equal(rows[0]!.n, 0, 'every slot was given back');
});

test('a storm of 429s with Retry-After is waited out: every episode finishes and no turn is lost', async () => {
  fx.openai.setResponder(() => ({ text: '{"action":"pass","reasoning":"calm"}' }));
  const ctx = await experimentContext(fx.t, env({ OPENAI_RETRY_BASE_MS: '20' }));
  const experiment = await define(ctx, ['11', '12']);
  const before = fx.openai.requests.length;
  fx.openai.setMode('rateLimit');
  const queue = await openQueue(ctx, experiment.id);
  try {
    const working = workExperiment({ ...ctx, queue }, experiment, { concurrency: 2, signal: new AbortController().signal, pollMs: 100 });
    await waitUntil(() => fx.openai.requests.length - before >= 16, 'sixteen calls refused with 429', { timeoutMs: 120_000 });
    fx.openai.setMode('ok');
    assert.equal(await working, 'done');
  } finally {
    await queue.stop();
  }
  assert.deepEqual(
    (await listEpisodes(fx.t.db, experiment.id)).map((e) => e.status),
    ['finished', 'finished'],
  );
  assert.deepEqual(await lostTurns(ctx, experiment), [0, 0]);
});

test('requests and tokens per minute are counted in the database: past either limit a caller is told how long to wait', async () => {
  const store = createDbLimitStore(fx.t.db);
  assert.equal(await store.reserveRate('rpm-test', 2, null, 10), 0);
  assert.equal(await store.reserveRate('rpm-test', 2, null, 10), 0);
  const wait = await store.reserveRate('rpm-test', 2, null, 10);
  assert.ok(wait > 0 && wait <= 60_000, `the third request waits for the next minute (${wait} ms)`);
  assert.equal(await store.reserveRate('tpm-test', null, 100, 80), 0);
  assert.ok((await store.reserveRate('tpm-test', null, 100, 30)) > 0, '80 + 30 tokens pass 100');
  await store.settleRate('tpm-test', -70);
  assert.equal(await store.reserveRate('tpm-test', null, 100, 30), 0, 'the first call used 70 fewer tokens than estimated');
  assert.equal(
    await store.reserveRate('alone-test', null, 100, 500),
    0,
    'a request larger than the budget still goes, alone in its minute',
  );
});
