/** `gridgov experiment --dry-run`: calls, tokens and dollars worked out by hand for the commons scenario. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { estimateTokens } from '../../src/agents/limits.ts';
import { moveJsonSchema, SYSTEM_INSTRUCTION } from '../../src/agents/prompts.ts';
import { estimateExperiment } from '../../src/experiments/estimate.ts';
import { scenario } from './support.ts';

test('five agents, two turns, a commons and a reflection every five epochs: 3.2 calls per agent and epoch, up to 8 replies more', async () => {
  const commons = await scenario('commons');
  const model = { provider: 'openai-compatible' as const, base_url: 'http://127.0.0.1:1/v1', model: 'm', temperature: 0.2 };
  const e = estimateExperiment({
    scenarios: [commons],
    strategies: ['heuristic', 'openai-compatible:m', 'openai-compatible:free'],
    seeds: ['1', '2'],
    epochs: 10,
    models: {
      'openai-compatible:m': { ...model, price_input_per_mtok: 1, price_output_per_mtok: 4 },
      'openai-compatible:free': { ...model, model: 'free', price_input_per_mtok: null, price_output_per_mtok: null },
    },
  });
  assert.equal(e.episodes, 6);
  // 5 agents × (2 turns + 1 extraction + 1/5 reflection) × 2 seeds × 10 epochs = 320 per model strategy;
  // with 2 turns × 4 rounds of replies more per agent and epoch: 5 × 11.2 × 20 = 1120.
  assert.deepEqual(e.calls, { low: 640, high: 2240 });
  const perCall = estimateTokens({ system: SYSTEM_INSTRUCTION, prompt: JSON.stringify(commons), schema: moveJsonSchema });
  assert.deepEqual(e.tokens, { low: 640 * perCall, high: 2240 * perCall });
  // Only the priced model costs: two thirds of a call's tokens at $1, one third at $4 per million = $2 per million.
  assert.ok(Math.abs(e.usd.low - (320 * perCall * 2) / 1e6) < 1e-12);
  assert.ok(Math.abs(e.usd.high - (1120 * perCall * 2) / 1e6) < 1e-12);
  assert.deepEqual(e.unpriced, ['openai-compatible:free']);
});
