/**
 * Model identity: the model, its provider, settings and prices are part of the experiment's
 * identity and of every exported row, and one sweep compares two models of one provider.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectEpisode } from '../../src/experiments/export.ts';
import { defineExperiment, episodeMeta } from '../../src/experiments/experiment.ts';
import { resolveModels, unpricedWarnings } from '../../src/experiments/models.ts';
import { listEpisodes } from '../../src/experiments/registry.ts';
import { parseStrategies } from '../../src/experiments/spec.ts';
import { databaseUrl } from '../../src/db/embedded.ts';
import { episodePool } from '../../src/experiments/databases.ts';
import { loadAgentConfig } from '../../src/agent-config.ts';
import type { Env } from '../../src/config.ts';
import { experimentContext, openAIFixture, scenario, workToEnd } from './support.ts';

const fx = openAIFixture();

const env = (more: Env = {}): Env => ({
  OPENAI_BASE_URL: fx.openai.baseUrl,
  OPENAI_API_KEY: 'sk-test',
  OPENAI_PRICE_INPUT_PER_MTOK: '0.5',
  OPENAI_PRICE_OUTPUT_PER_MTOK: '1.5',
  ...more,
});
const fail = (message: string): never => {
  throw new Error(message);
};

test('--strategies openai-compatible:modelA,openai-compatible:modelB runs both models and names each in every row', async () => {
  const ctx = await experimentContext(fx.t, env());
  const strategies = parseStrategies('openai-compatible:model-a,openai-compatible:llama3.1:8b');
  const experiment = await defineExperiment(ctx, 'models', { scenarios: [await scenario('commons')], strategies, seeds: ['1'], epochs: 1 });
  fx.experiments.push(experiment.id);
  assert.equal(await workToEnd(ctx, experiment), 'done');
  assert.deepEqual([...new Set(fx.openai.requests.map((r) => r.model))].sort(), ['llama3.1:8b', 'model-a']);
  const episodes = await listEpisodes(fx.t.db, experiment.id);
  assert.notEqual(episodes[0]!.run_id, episodes[1]!.run_id, 'two models, two runs');
  for (const [i, e] of episodes.entries()) {
    const db = episodePool(databaseUrl(ctx.server.ownerUrl, e.database!), ctx.server, 1);
    try {
      const data = await collectEpisode(db, episodeMeta(experiment, e));
      const rows = [...data.runs, ...data.epochs, ...data.agents, ...data.rejections];
      assert.ok(rows.length > 3, 'rows to check');
      const model = ['model-a', 'llama3.1:8b'][i];
      for (const row of rows) {
        assert.equal(row.provider, 'openai-compatible');
        assert.equal(row.model, model);
        assert.equal(row.temperature, 0.2);
        assert.equal(row.price_input_per_mtok, 0.5);
        assert.equal(row.price_output_per_mtok, 1.5);
      }
    } finally {
      await db.close();
    }
  }
});

test('another model, temperature or price is another experiment; the same settings resume the same one', async () => {
  const ids = [];
  for (const more of [
    { OPENAI_MODEL: 'a' },
    { OPENAI_MODEL: 'b' },
    { OPENAI_MODEL: 'a', OPENAI_TEMPERATURE: '0.7' },
    { OPENAI_MODEL: 'a', OPENAI_PRICE_INPUT_PER_MTOK: '3' },
    { OPENAI_MODEL: 'a' },
  ]) {
    const ctx = await experimentContext(fx.t, env(more));
    const experiment = await defineExperiment(ctx, 'identity', {
      scenarios: [await scenario('commons')],
      strategies: ['openai-compatible'],
      seeds: ['9'],
      epochs: 1,
    });
    fx.experiments.push(experiment.id);
    ids.push(experiment.id);
  }
  assert.equal(new Set(ids.slice(0, 4)).size, 4, 'four different experiments');
  assert.equal(ids[4], ids[0], 'the first asked again');
});

test('a model without a price is named in a warning at start; a priced one is not', () => {
  const unpriced = loadAgentConfig({ OPENAI_MODEL: 'local', OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1' }, fail);
  const warnings = unpricedWarnings(resolveModels(['openai-compatible', 'heuristic'], unpriced));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /openai-compatible \(openai-compatible model local\) has no price: its tokens count as \$0/);
  assert.match(warnings[0]!, /OPENAI_PRICE_INPUT_PER_MTOK/);
  const priced = loadAgentConfig(env({ OPENAI_MODEL: 'x' }), fail);
  assert.deepEqual(unpricedWarnings(resolveModels(['openai-compatible'], priced)), []);
  assert.throws(
    () => resolveModels(['openai-compatible'], loadAgentConfig({}, fail)),
    /names no model; set OPENAI_MODEL or write openai-compatible:MODEL/,
  );
});
