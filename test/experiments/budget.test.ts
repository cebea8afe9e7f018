import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { defineExperiment, openQueue, type ExperimentContext } from '../../src/experiments/experiment.ts';
import { listEpisodes } from '../../src/experiments/registry.ts';
import { workExperiment } from '../../src/experiments/worker.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { pricedGeminiEnv, startFakeGemini, type FakeGemini } from '../support/fake-gemini.ts';
import { dropEpisodes, experimentContext, scenario } from './support.ts';

let t: TestDatabase;
let gemini: FakeGemini;
let ctx: ExperimentContext;
let experimentId: string | undefined;

before(async () => {
  t = await createTestDatabase();
  gemini = await startFakeGemini();
  ctx = await experimentContext(t, pricedGeminiEnv(gemini));
});

after(async () => {
  if (experimentId) await dropEpisodes(t, experimentId);
  await gemini?.close();
  await t?.drop();
});

test('--max-cost stops starting episodes once the cost so far passes it', async () => {
  const commons = await scenario('commons');
  const experiment = await defineExperiment(ctx, 'budget', {
    scenarios: [commons],
    strategies: ['gemini'],
    seeds: ['1', '2', '3'],
    epochs: 1,
  });
  experimentId = experiment.id;
  const queue = await openQueue(ctx, experiment.id);
  try {
    const end = await workExperiment({ ...ctx, queue }, experiment, {
      concurrency: 1,
      maxCost: 0.000001,
      signal: new AbortController().signal,
      pollMs: 100,
    });
    assert.equal(end, 'budget');
  } finally {
    await queue.stop();
  }
  const episodes = await listEpisodes(t.db, experiment.id);
  assert.deepEqual(
    episodes.map((e) => e.status),
    ['finished', 'queued', 'queued'],
  );
  assert.ok(episodes[0]!.cost_usd > 0.000001, `the first episode cost something (${episodes[0]!.cost_usd})`);
  assert.ok(gemini.requests.length > 0, 'the model was asked');
});
