import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHeuristicStrategy, extraction } from '../../src/agents/heuristic.ts';
import { emptyMemory, remember } from '../../src/agents/memory.ts';
import { microToNumber } from '../../src/domain/money.ts';
import { sampleTurn } from '../support/agents.ts';

const M = (n: number) => BigInt(Math.round(n * 1_000_000));

test('a heuristic agent does not send again the proposal just rejected: it asks another counterparty for less', async () => {
  const heuristic = createHeuristicStrategy();
  const ctx = sampleTurn();
  const first = (await heuristic.propose(ctx)).value!;
  assert.equal(first.action, 'offer');
  if (first.action !== 'offer') return;
  const rejected = {
    epoch: ctx.view.epoch,
    code: 'INSUFFICIENT_BALANCE',
    reason: `leg 1: ${first.to} holds 26.88 water, needs 30`,
    counterparty: first.to,
    give: { resource: first.give.resource, amount: microToNumber(first.give.amount) },
    get: { resource: first.get.resource, amount: microToNumber(first.get.amount) },
  };
  const memory = remember(emptyMemory(), { epoch: ctx.view.epoch, rejections: [rejected], deals: [], deficits: [], extraction: [] });
  const next = { ...ctx, view: { ...ctx.view, epoch: ctx.view.epoch + 1 }, memory };
  const second = (await heuristic.propose(next)).value!;
  assert.equal(second.action, 'offer');
  if (second.action !== 'offer') return;
  assert.notEqual(second.to, first.to, 'another counterparty');
  assert.ok(second.get.amount < first.get.amount, `asks for less: ${second.get.amount} < ${first.get.amount}`);
});

test('after repeated rejections for a resource an agent backs off from it for a while', async () => {
  const ctx = sampleTurn();
  let memory = emptyMemory();
  for (const epoch of [2, 3, 4]) {
    memory = remember(memory, {
      epoch,
      rejections: [
        {
          epoch,
          code: 'CONSTRAINT_VIOLATION',
          reason: 'below min_balance',
          counterparty: 'well',
          give: { resource: 'credits', amount: 30 },
          get: { resource: 'water', amount: 10 },
        },
      ],
      deals: [],
      deficits: [],
      extraction: [],
    });
  }
  assert.ok((memory.backoff.water ?? 0) >= 5);
  const move = (await createHeuristicStrategy().propose({ ...ctx, view: { ...ctx.view, epoch: 5 }, memory })).value!;
  assert.equal(move.action, 'pass');
  assert.match(move.reasoning, /backing off/);
});

test('extraction by character: greedy takes its maximum, cooperative its share of the sustainable harvest', () => {
  const base = sampleTurn();
  // The shipped lake at 800: f = 80.776406 (docs/economy.md), a fifth of it each of five.
  const lake = {
    resource: 'water',
    capacity: M(1000),
    rateMicro: 400_000n,
    collapseBelow: M(150),
    maxExtraction: M(40),
    stock: M(800),
    sustainableHarvest: 80_776_406n,
    staleStock: M(800),
  };
  const view = { ...base.view, commons: new Map([['water', lake]]), living: 5 };
  const as = (character: 'greedy' | 'cooperative' | 'naive') =>
    extraction({ ...base, view, self: { ...base.self, character } }).get('water') ?? 0n;
  assert.equal(as('greedy'), M(40));
  assert.equal(as('cooperative'), 16_155_000n, 'a fifth of the sustainable harvest, to the thousandth below');
  // The naive agent misjudges the same share by its own seeded noise, −10 % to +20 %.
  const naiveAt = as('naive');
  assert.ok(naiveAt >= 14_539_000n && naiveAt <= 19_386_000n, `naive ${naiveAt}`);
  // The lake fell to 300 (f = 70.690632); the naive agent still sees 800.
  const falling = {
    ...view,
    commons: new Map([['water', { ...lake, stock: M(300), sustainableHarvest: 70_690_632n, staleStock: M(800) }]]),
  };
  const coop = extraction({ ...base, view: falling, self: { ...base.self, character: 'cooperative' } }).get('water')!;
  const naive = extraction({ ...base, view: falling, self: { ...base.self, character: 'naive' } }).get('water')!;
  assert.equal(coop, 14_138_000n);
  assert.ok(coop < naive, `a cooperative agent takes less (${coop}) than a naive one who has not looked (${naive})`);
});
