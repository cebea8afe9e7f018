import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineExperiment, exportExperiment, openQueue, type ExperimentContext } from '../../src/experiments/experiment.ts';
import { listEpisodes } from '../../src/experiments/registry.ts';
import { workExperiment } from '../../src/experiments/worker.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { pricedGeminiEnv, startFakeGemini, type FakeGemini } from '../support/fake-gemini.ts';
import { dropEpisodes, experimentContext, filesExporter, scenario } from './support.ts';

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

test('--max-cost stops the work at the call that would pass it: what was spent stays within the budget', async () => {
  const commons = await scenario('commons');
  const experiment = await defineExperiment(ctx, 'budget', {
    scenarios: [commons],
    strategies: ['gemini'],
    seeds: ['1', '2', '3'],
    epochs: 1,
  });
  experimentId = experiment.id;
  const maxCost = 0.02;
  const queue = await openQueue(ctx, experiment.id);
  try {
    const end = await workExperiment({ ...ctx, queue }, experiment, {
      concurrency: 1,
      maxCost,
      signal: new AbortController().signal,
      pollMs: 100,
    });
    assert.equal(end, 'budget');
  } finally {
    await queue.stop();
  }
  const { rows } = await t.db.query<{ spent: number; calls: number; refused: number }>(
    'SELECT spent_usd::float8 AS spent, calls::int, refused::int FROM experiment_spend WHERE experiment_id = $1',
    [experiment.id],
  );
  const spend = rows[0]!;
  assert.ok(spend.spent > 0, `the model was paid for (${spend.spent})`);
  assert.ok(spend.spent <= maxCost, `spent ${spend.spent} of a budget of ${maxCost}`);
  assert.ok(spend.refused >= 1, 'a call was refused');
  // A reserved call may still fail before the model answers (it stays counted at its estimate); none goes around the budget.
  assert.ok(
    gemini.requests.length > 0 && gemini.requests.length <= spend.calls,
    `the model saw only calls the budget let through (${gemini.requests.length} of ${spend.calls})`,
  );
  const episodes = await listEpisodes(t.db, experiment.id);
  assert.ok(
    episodes.some((e) => e.status === 'queued'),
    `an episode did not run to its end: ${episodes.map((e) => e.status).join(', ')}`,
  );
  assert.ok(!episodes.some((e) => e.status === 'failed'), 'the budget fails no episode');
  const dir = await mkdtemp(join(tmpdir(), 'gridgov-budget-'));
  try {
    await exportExperiment(ctx, experiment, filesExporter, dir);
    const report = await readFile(join(dir, 'report.html'), 'utf8');
    assert.match(report, /<h2>Did not run<\/h2><p>\d+ episodes? did not run to the end \(the budget stopped the work\)/);
    for (const e of episodes.filter((e) => e.status === 'queued')) assert.match(report, new RegExp(`<td>gemini</td><td>${e.seed}</td>`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const recorded = episodes.reduce((sum, e) => sum + e.cost_usd, 0);
  assert.ok(recorded <= spend.spent + 1e-9, `the episodes' own costs (${recorded}) are within what was spent`);
});
