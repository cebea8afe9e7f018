import assert from 'node:assert/strict';
import { test } from 'node:test';

// Plain browser JavaScript, imported as it is served; only the pure helpers are used here.
const modulePath = '../../src/dashboard/public/js/charts.js';
const { niceTicks, binCategories, fitLabel } = (await import(modulePath)) as {
  niceTicks(min: number, max: number, count?: number): number[];
  binCategories(
    categories: string[],
    series: Array<{ name: string; values: number[] }>,
  ): { categories: string[]; series: Array<{ name: string; values: number[] }>; size: number };
  fitLabel(label: string, width: number): string[];
};

test('an all-zero series gets a 0..1 axis, never a negative half', () => {
  const ticks = niceTicks(0, 0);
  assert.equal(ticks[0], 0);
  assert.equal(ticks.at(-1), 1);
  assert.ok(ticks.every((t) => t >= 0));
});

test('two hundred epochs become at most sixty bars, summed, with the totals kept', () => {
  const categories = Array.from({ length: 200 }, (_, i) => String(i + 1));
  const values = categories.map((_, i) => i % 7);
  const binned = binCategories(categories, [{ name: 'applied', values }]);
  assert.ok(binned.categories.length <= 60, `${binned.categories.length} bars`);
  assert.equal(binned.size, 4);
  assert.equal(binned.categories[0], '1–4');
  assert.equal(binned.categories.at(-1), '197–200');
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  assert.equal(sum(binned.series[0]!.values), sum(values));
  const few = binCategories(['1', '2'], [{ name: 'x', values: [1, 2] }]);
  assert.equal(few.size, 1);
  assert.deepEqual(few.categories, ['1', '2']);
});

test('long category labels are split at underscores and cut to the room they have', () => {
  assert.deepEqual(fitLabel('SAME_ACTOR', 200), ['SAME_ACTOR']);
  assert.deepEqual(fitLabel('INSUFFICIENT_BALANCE', 90), ['INSUFFICIENT', 'BALANCE']);
  const narrow = fitLabel('CONSTRAINT_VIOLATION', 40);
  assert.ok(
    narrow.every((line) => line.length <= Math.floor(40 / 6.6)),
    JSON.stringify(narrow),
  );
  assert.ok(narrow[0]!.endsWith('…'));
});
