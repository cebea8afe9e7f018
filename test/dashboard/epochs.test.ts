import assert from 'node:assert/strict';
import { test } from 'node:test';

// Plain browser JavaScript, imported as it is served (no types to check it against).
const modulePath = '../../src/dashboard/public/js/epochs.js';
const { normalizeEpochs, keysOf } = (await import(modulePath)) as {
  normalizeEpochs(body: unknown): { runs: Array<Record<string, unknown>>; runId: string | null; epochs: Array<Record<string, any>> };
  keysOf(epochs: unknown[], field: string): string[];
};

test('flat and nested epoch stats read alike', () => {
  const flat = normalizeEpochs({
    runs: [{ run_id: 'r1', scenario: 'demo', strategy: 'heuristic', seed: '1' }],
    epochs: [
      {
        run_id: 'r1',
        epoch: 2,
        stats: {
          applied: 3,
          rejected: 1,
          rejected_by_code: { SAME_ACTOR: 1 },
          supply: { energy: 10 },
          gini: { energy: 0.5 },
          deficit_actors: 2,
          unmet_need: { water: 1.5 },
          llm_tokens: 40,
        },
      },
      { run_id: 'r1', epoch: 1, stats: { applied: 1, rejected: 0 } },
    ],
  });
  const nested = normalizeEpochs({
    run: { run_id: 'r1', scenario: 'demo', strategy: 'heuristic', seed: '1' },
    epochs: [
      {
        run_id: 'r1',
        epoch: 2,
        stats: {
          proposals: { applied: 3, rejected: 1, rejected_by_code: { SAME_ACTOR: 1 } },
          supply: { energy: 10 },
          gini: { energy: 0.5 },
          deficit: { actors: 2, unmet: { water: 1.5 } },
          llm: { total_tokens: 40 },
        },
      },
      { run_id: 'r1', epoch: 1, stats: { proposals: { applied: 1, rejected: 0 } } },
    ],
  });
  assert.deepEqual(nested, flat);
  assert.equal(flat.runId, 'r1');
  assert.deepEqual(
    flat.epochs.map((e) => e.epoch),
    [1, 2],
    'in epoch order',
  );
  assert.deepEqual(flat.epochs[1], {
    runId: 'r1',
    epoch: 2,
    applied: 3,
    rejected: 1,
    rejectedByCode: { SAME_ACTOR: 1 },
    supply: { energy: 10 },
    gini: { energy: 0.5 },
    unmet: { water: 1.5 },
    deficitActors: 2,
    tokens: 40,
    cost: 0,
    alive: null,
    actorSurvivalRate: null,
    needMet: null,
    payoffEquality: null,
    overUsage: null,
    total: null,
    stock: {},
    finishedAt: null,
  });
  assert.deepEqual(flat.epochs[0]!.supply, {}, 'missing figures are empty, not undefined');
});

test('odd answers give no epochs rather than an exception', () => {
  for (const body of [
    null,
    undefined,
    'text',
    42,
    [],
    {},
    { epochs: 'no' },
    { epochs: [null, 7, { stats: null }, { epoch: 1, stats: {} }] },
  ]) {
    assert.deepEqual(normalizeEpochs(body).epochs, [], JSON.stringify(body));
  }
  const strings = normalizeEpochs({ epochs: [{ epoch: '3', stats: { applied: '5', supply: { energy: '1.25', bad: 'x' } } }] });
  assert.equal(strings.epochs[0]!.epoch, 3);
  assert.equal(strings.epochs[0]!.applied, 5);
  assert.deepEqual(strings.epochs[0]!.supply, { energy: 1.25, bad: 0 });
});

test('keysOf lists the series of a chart', () => {
  const { epochs } = normalizeEpochs({
    epochs: [
      { epoch: 1, stats: { supply: { water: 1 } } },
      { epoch: 2, stats: { supply: { energy: 1 } } },
    ],
  });
  assert.deepEqual(keysOf(epochs, 'supply'), ['energy', 'water']);
});

test('the figures runs are compared on: present when the stats have them, null when they do not', () => {
  const { epochs } = normalizeEpochs({
    epochs: [
      {
        epoch: 1,
        stats: {
          applied: 1,
          actor_survival: { alive: 4, total: 5, rate: 0.8 },
          need_met: 0.9,
          payoff_equality: 0.75,
          commons: { over_usage_rate: 0.4 },
        },
      },
      { epoch: 2, stats: { applied: 2, commons: { over_usage_rate: null } } },
      // Stats stored before the figures took their published names.
      { epoch: 3, stats: { survival: { alive: 3, total: 5, rate: 0.6 }, efficiency: 0.5, equality: 0.25 } },
    ],
  });
  assert.deepEqual(
    epochs.map((e) => [e.actorSurvivalRate, e.needMet, e.payoffEquality, e.overUsage]),
    [
      [0.8, 0.9, 0.75, 0.4],
      [null, null, null, null],
      [0.6, 0.5, 0.25, null],
    ],
  );
});
