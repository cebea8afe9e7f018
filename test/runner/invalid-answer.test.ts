/** An answer the model gave that could not be used is fed back to the agent like a rejection. */
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { INVALID_ANSWER } from '../../src/agents/llm.ts';
import { readScenarioFile } from '../../src/ledger/writing/seed.ts';
import { initialCarry, nextCarry } from '../../src/runner/carry.ts';
import type { EpochPlan } from '../../src/runner/plan.ts';

test('an unparsable answer becomes an INVALID_ANSWER memory; a late answer does not', async () => {
  const scenario = await readScenarioFile(resolve('scenarios', 'commons.json'));
  const slot = { slot: 0, strategy: 'openai-compatible' as const, move: 'invalid' as const, agreed: false, reasoning: '', transcript: [] };
  const plan: EpochPlan = {
    run_id: 'r',
    epoch: 2,
    ledger_head: 0,
    order: ['farm-a', 'farm-b'],
    usage: {},
    slots: [
      { ...slot, agent: 'farm-a', error: `${INVALID_ANSWER} m: the answer is not JSON` },
      { ...slot, agent: 'farm-b', error: 'no answer from m within 100 ms' },
    ],
  };
  const settlement = { production: {}, need: {}, consumed: {}, unmet: {}, deficits: [], entries: 0 };
  const carry = nextCarry({ carry: initialCarry(scenario), scenario, epoch: 2, plan, results: [], settlement, names: new Map() });
  assert.deepEqual(carry.memory['farm-a']?.rejections, [
    { epoch: 2, code: 'INVALID_ANSWER', reason: `your answer could not be used: ${INVALID_ANSWER} m: the answer is not JSON` },
  ]);
  assert.deepEqual(carry.memory['farm-b']?.rejections ?? [], [], 'a call that failed is no fault of the answer');
});
